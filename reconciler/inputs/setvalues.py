"""`--set` and `--set-string`: Helm 4's strvals grammar, applied the way `helm` applies it.

Owns parsing one expression (`a.b[0].c=v,d={x,y}`) and applying it to the user layer
(the merged `-f` files) exactly as Helm's `strvals.ParseInto` does, including what it does
to values already there: a list item `a[1]` keeps the other items of an existing list, a
key path through an existing scalar or null (`a=null,a.b=1`) is an error, an item
assigned past the end of a list at the very end of the expression (`a[0].b=`) is dropped,
and `true`/`false`/`null` are matched with Go's case folding (`falſe` is false).

Deliberately stricter than Helm, each a named error: an empty key (`=1`, `a=1,=2`,
`[0]=1`, which Helm silently drops: `EMPTY_KEY`), and a key left unfinished at the end of
the expression (`a.`, `a[0]`, `a[0`, which Helm ignores or turns into an empty list:
`UNFINISHED_KEY`). Both are typing mistakes that would otherwise vanish without a trace.

Does not read files, merge layers or validate: values.py does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from reconciler.addresses import dotted
from reconciler.errors import ValuesError

JsonPath = tuple[str | int, ...]

# Helm's strvals limits: a list index above this, or names nested deeper, are refused.
MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30
SET_HINT = (
    "write key.path=value, several separated by commas, list items as key[0]=value and lists "
    "as key={a,b}; escape '.', ',', '[' or '=' inside a key or value with a backslash"
)
EMPTY_KEY = "an empty key"  # deliberate strictness: Helm drops the assignment silently
UNFINISHED_KEY = "is left unfinished"  # deliberate strictness for a trailing `a.` or `a[0]`

_INDEX = re.compile(r"[-+]?[0-9]+")  # what strconv.Atoi accepts
# The runes Go's simple case folding maps onto the letters of true, false and null:
# only LATIN SMALL LETTER LONG S (U+017F) folds onto an ASCII letter among them.
_FOLD = str.maketrans({"ſ": "s"})


def typed(text: str) -> Any:
    """How Helm types a `--set` value: true/false/null under Go's case folding, int64
    integers without a leading zero, and strings for everything else (floats too)."""
    if len(text) in (4, 5):
        folded = text.translate(_FOLD)
        if folded.isascii():
            folded = folded.lower()
            if folded in ("true", "false"):
                return folded == "true"
            if folded == "null":
                return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        digits = text[1:] if text[0] in "+-" else text
        if digits.isascii() and digits.isdigit():
            number = int(text)
            if -(2**63) <= number < 2**63:
                return number
    return text


class SetSyntaxError(Exception):
    """An expression Helm refuses (or that is refused deliberately), in words."""


class _End(Exception):
    """The expression is used up: the Go parser's io.EOF, which ends parsing quietly."""


class _Parser:
    """One expression applied in place to `data`, as strvals' parser does.

    Containers that came from the files are copied before they are changed, so the
    documents the caller passed stay as they were (their layers name who set what).
    """

    def __init__(
        self, expression: str, data: dict[str, Any], *, convert: Callable[[str], Any]
    ) -> None:
        self._text = expression
        self._pos = 0
        self._convert = convert
        self._data = data
        self._owned: set[int] = {id(data)}

    def run(self) -> None:
        try:
            while True:
                self._key(self._data, (), 0)
        except _End:
            return

    def _own(self, container: Any) -> Any:
        """A copy of `container` this parse may change (the container itself once copied)."""
        if id(container) in self._owned:
            return container
        copied = dict(container) if isinstance(container, dict) else list(container)
        self._owned.add(id(copied))
        return copied

    def _until(self, stops: str) -> tuple[str, str | None]:
        """Characters up to one of `stops` (consumed; None at the end), `\\x` escaping x."""
        out: list[str] = []
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            self._pos += 1
            if char == "\\":
                if self._pos >= len(text):
                    return "".join(out), None
                out.append(text[self._pos])
                self._pos += 1
            elif char in stops:
                return "".join(out), char
            else:
                out.append(char)
        return "".join(out), None

    def _key(self, data: dict[str, Any], path: JsonPath, level: int) -> None:
        key, last = self._until("=[,.")
        here = (*path, key)
        if last is None:
            if not key and not path:
                raise _End
            if not key:
                raise SetSyntaxError(f"key {dotted(path)!r} {UNFINISHED_KEY} (no =value after .)")
            raise SetSyntaxError(f"key {dotted(here)!r} has no value")
        if not key:
            where = f" after {dotted(path)!r}" if path else ""
            raise SetSyntaxError(f"{EMPTY_KEY}{where}")
        if last == ",":
            raise SetSyntaxError(f"key {dotted(here)!r} has no value (cannot end with ,)")
        if last == "=":
            if self._pos >= len(self._text):
                data[key] = ""
                raise _End  # Helm stops here, so an enclosing new list item is dropped
            data[key] = self._value()
            return
        if last == "[":
            index = self._index(here)
            current = data.get(key, [])
            if not isinstance(current, list):
                raise _through(here, current, "a list")
            if key in data:
                current = data[key] = self._own(current)
            try:
                current = self._list_item(current, index, here, level)
            finally:
                data[key] = current
            return
        level += 1
        if level > MAX_NESTED_NAME_LEVEL:
            raise SetSyntaxError(f"names may nest at most {MAX_NESTED_NAME_LEVEL} levels deep")
        inner = data.get(key, {})
        if not isinstance(inner, dict):
            raise _through(here, inner, "a mapping")
        if key in data:
            inner = data[key] = self._own(inner)
        else:
            self._owned.add(id(inner))
        try:
            self._key(inner, here, level)
        finally:
            if inner:
                data[key] = inner

    def _index(self, path: JsonPath) -> int:
        text, last = self._until("]")
        if last is None:
            raise SetSyntaxError(f"key {dotted(path)!r} {UNFINISHED_KEY} (no ] after [{text})")
        if not _INDEX.fullmatch(text):
            raise SetSyntaxError(f"invalid list index [{text}")
        return int(text)

    def _list_item(self, items: list[Any], index: int, path: JsonPath, level: int) -> list[Any]:
        """`items` with the rest of the expression applied at `index`: the same list when
        it was long enough, else a longer copy (which Helm drops if the expression ends
        before a value is set, so it is returned only on success)."""
        where = (*path, index)
        if index < 0:
            raise SetSyntaxError(f"negative index {index} not allowed")
        rest, last = self._until("[.=")
        if rest:
            raise SetSyntaxError(f"unexpected {rest!r} after {dotted(where)}")
        if last is None:
            raise SetSyntaxError(f"key {dotted(where)!r} {UNFINISHED_KEY} (no =value after ])")
        if last == "=":
            return _set_index(items, index, self._value())
        if last == "[":
            inner_index = self._index(where)
            child = items[index] if index < len(items) else None
            if child is None:
                child = []
                self._owned.add(id(child))
            elif not isinstance(child, list):
                raise _through(where, child, "a list")
            else:
                child = items[index] = self._own(child)
            return _set_index(items, index, self._list_item(child, inner_index, where, level))
        if index < len(items):
            inner = items[index]
            if isinstance(inner, dict):
                inner = items[index] = self._own(inner)
            else:
                inner = items[index] = {}  # Helm replaces a non-map item set inside
                self._owned.add(id(inner))
        else:
            inner = {}
            self._owned.add(id(inner))
        self._key(inner, where, level)
        return _set_index(items, index, inner)

    def _value(self) -> Any:
        if self._pos >= len(self._text):
            return ""
        if self._text[self._pos] != "{":
            text, _ = self._until(",")
            return self._convert(text)
        self._pos += 1
        items = []
        while True:
            text, last = self._until(",}")
            if last is None:
                raise SetSyntaxError("a list must end with '}'")
            items.append(self._convert(text))
            if last == "}":
                if self._text.startswith(",", self._pos):
                    self._pos += 1
                return items


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index > MAX_INDEX:
        raise SetSyntaxError(f"index {index} is above the maximum of {MAX_INDEX}")
    if index >= len(items):
        items = [*items, *([None] * (index + 1 - len(items)))]
    items[index] = value
    return items


def _through(path: JsonPath, found: Any, wanted: str) -> SetSyntaxError:
    kind = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(found), "null" if found is None else "a number"
    )
    return SetSyntaxError(f"{dotted(path)} is {kind} here, not {wanted}")


def apply_set(
    data: dict[str, Any], expression: str, *, typed_values: bool = True, flag: str = "--set"
) -> dict[str, Any]:
    """`data` with one `--set` (typed) or `--set-string` expression applied, as Helm's
    ParseInto applies it to the user layer. `data` itself is left unchanged.

    Raises ValuesError (source `flag`) when Helm would refuse the expression, or when it
    breaks one of the deliberate rules in this module's docstring.
    """
    out = dict(data)
    parser = _Parser(expression, out, convert=typed if typed_values else str)
    try:
        parser.run()
    except SetSyntaxError as exc:
        raise ValuesError(
            f"cannot apply {expression!r}: {exc}", source=flag, hint=SET_HINT
        ) from None
    return out
