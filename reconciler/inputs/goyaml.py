"""go-yaml v2 as Helm 4 runs it: the reference decoding of a values document.

Helm reads values through sigs.k8s.io/yaml: go-yaml v2 decodes one document into
interface{} values, then every map is converted for JSON. Owns those semantics: plain
scalar resolution with go-yaml v2's YAML 1.1-flavoured rules (`resolve_plain`), explicit
tags, map keys as sigs.k8s.io/yaml writes them, and `load`, which decodes libyaml's node
graph (PyYAML's C composer) the way go-yaml would:

- `y Y yes Yes YES on On ON true True TRUE` are true; the `n`/`no`/`off`/`false` spellings are
  false; `~ null Null NULL` and the empty scalar are null.
- Integers follow Go's `strconv.ParseInt(s, 0, 64)` after removing every `_`: `0777` is octal
  511, `0x1F` is 31, `0o17` is 15, `0b101` is 5, signs are allowed everywhere, and
  integers up to 2**64-1 are kept. What fails as an integer but looks like a decimal float
  is a float, so `08` is 8.0 and `1e3` is 1000.0; a float that overflows stays a string.
- `.inf`, `-.inf`, `.nan` (three spellings each) are floats; Helm's JSON step refuses them
  as values, so they are an error here too. As map keys they become ".inf" and the like.
- Timestamps, sexagesimal numbers and `=` stay strings; quoted and block scalars are always
  strings. Explicit tags (`!!int "12"`, `!!str 0777`, `!!binary ...`) work as in go-yaml.
- Map keys end up as strings the way sigs.k8s.io/yaml writes them (`on:` is "true", `1.5:` is
  "1.5"); a null, list or map key is an error, as is a duplicate key (go-yaml silently keeps
  the last one; a duplicate in a values file is always a mistake). `<<` merge keys apply in
  go-yaml's order, and aliases are expanded under go-yaml's guard against alias bombs.

Where libyaml 0.2 (PyYAML's C parser) reads differently from go-yaml v2's older port of
libyaml, a document goes through PyYAML's Python pipeline with go-yaml's rules instead
(`_needs_go_scanner`): `\\'` is a quote and `\\/` an unknown escape in double-quoted
scalars; in flow collections a ":" ends a plain scalar only before a blank (`[a:]` is
["a:"]) and "?" always does (`[a?b]` is refused); an anchor defined again re-binds its
name for later aliases; the non-specific tag `!` makes a string (`! 12` is "12").

Known gap with Helm: documents nested more than a few hundred levels deep are refused
(Python's recursion limit, libyaml's 1000), where go-yaml reads up to 10000 levels;
values.py states the limit users meet.

Slow but exact. Does not pick between this and the faster yaml_rs path, word errors for
users, or write YAML: yamlio.py does, and uses `resolve_plain` to quote what go-yaml would
not read back as a string.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from typing import Any, ClassVar

from yaml.composer import Composer
from yaml.cyaml import CParser  # type: ignore[attr-defined]  # the stubs omit the C classes
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner
from yaml.tokens import ScalarToken

# --- go-yaml v2 scalar resolution -------------------------------------------------------

_GO_LITERALS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# go-yaml looks a scalar up only when its first byte is one of these ("hint" characters).
_LITERAL_START = frozenset("yYnNtTfFoO~")
_NUMBER_START = frozenset("+-0123456789")
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# strconv.ParseFloat on a scalar that starts with ".": Go float syntax, "_" between digits.
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?")
_GO_DIGITS = {
    2: re.compile(r"[01]+"),
    8: re.compile(r"[0-7]*"),
    10: re.compile(r"[0-9]+"),
    16: re.compile(r"[0-9a-fA-F]+"),
}
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


def _go_parse_uint(digits: str) -> int | None:
    """strconv.ParseUint(digits, 0, 64) for a string without sign or underscores."""
    if not digits:
        return None
    base, body = 10, digits
    if digits[0] == "0":
        prefix = digits[1:2].lower()
        if len(digits) >= 3 and prefix in ("b", "o", "x"):
            base, body = {"b": 2, "o": 8, "x": 16}[prefix], digits[2:]
        else:
            base, body = 8, digits[1:]
    if not _GO_DIGITS[base].fullmatch(body):
        return None
    value = int(body, base) if body else 0
    return value if value <= _UINT64_MAX else None


def _go_parse_integer(plain: str) -> int | None:
    """ParseInt(plain, 0, 64), then ParseUint(plain, 0, 64), as go-yaml v2 tries them."""
    if plain[:1] in ("+", "-"):
        magnitude = _go_parse_uint(plain[1:])
        if magnitude is None:
            return None
        if plain[0] == "-":
            return -magnitude if magnitude <= _INT64_MAX + 1 else None
        return magnitude if magnitude <= _INT64_MAX else None
    return _go_parse_uint(plain)


def resolve_plain(text: str) -> Any:
    """The value go-yaml v2 gives an untagged plain scalar (timestamps stay strings)."""
    if not text:
        return None
    first = text[0]
    if first in _LITERAL_START:
        return _GO_LITERALS.get(text, text)
    if first == ".":
        if text in _GO_LITERALS:
            return _GO_LITERALS[text]
        if _GO_DOT_FLOAT.fullmatch(text):
            number = float(text.replace("_", ""))
            return text if math.isinf(number) else number
        return text
    if first in _NUMBER_START:
        if text in _GO_LITERALS:
            return _GO_LITERALS[text]
        plain = text.replace("_", "")
        integer = _go_parse_integer(plain)
        if integer is not None:
            return integer
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            number = float(plain)
            # strconv.ParseFloat reports overflow as an error, so go-yaml keeps the string.
            if not math.isinf(number):
                return number
    return text


_TAG = "tag:yaml.org,2002:"
STR_TAG, _BINARY_TAG, _MERGE_TAG = _TAG + "str", _TAG + "binary", _TAG + "merge"
_TIMESTAMP_TAG, _FLOAT_TAG = _TAG + "timestamp", _TAG + "float"
_PLAIN_TAG = "!reconciler/plain"  # marks untagged plain scalars for go-yaml resolution
_TYPE_TAGS = {
    type(None): _TAG + "null",
    bool: _TAG + "bool",
    int: _TAG + "int",
    float: _FLOAT_TAG,
    str: STR_TAG,
}
_RESOLVABLE_TAGS = frozenset(_TYPE_TAGS.values()) - {STR_TAG} | {_TIMESTAMP_TAG}
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


def _resolve_tagged(tag: str, text: str) -> Any:
    """A scalar with an explicit tag, or ValueError with go-yaml's complaint."""
    if tag == _BINARY_TAG:
        try:
            raw = base64.b64decode(re.sub(r"[\r\n]", "", text), validate=True)
        except ValueError:
            raise ValueError("!!binary value contains invalid base64 data") from None
        return raw.decode("utf-8", errors="replace")
    if tag == _TIMESTAMP_TAG and _TIMESTAMP.fullmatch(text):
        return text  # go-yaml hands timestamps to interface{} targets as their text
    if tag not in _RESOLVABLE_TAGS:
        return text  # a tag go-yaml cannot resolve (`!foo`, `!!str`) leaves the string
    value = resolve_plain(text)
    resolved = _TYPE_TAGS[type(value)]
    if resolved == tag:
        return value
    if tag == _FLOAT_TAG and type(value) is int:
        return float(value)
    raise ValueError(f"cannot decode !!{resolved[len(_TAG) :]} `{text}` as a !!{tag[len(_TAG) :]}")


def _go_float32_key(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 32): how sigs.k8s.io/yaml writes a float key."""
    if math.isnan(number):
        return ".nan"
    try:
        single = struct.unpack("f", struct.pack("f", number))[0]
    except OverflowError:
        single = math.copysign(math.inf, number)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, single) < 0 else ""
    for precision in range(9):  # the fewest digits that read back as the same float32
        shortest = f"{abs(single):.{precision}e}"
        if struct.unpack("f", struct.pack("f", float(shortest)))[0] == abs(single):
            break
    mantissa, exponent = shortest.split("e")
    digits, exp = mantissa.replace(".", "").rstrip("0") or "0", int(exponent)
    if exp < -4 or exp >= 6:  # Go's %g switches to an exponent outside this range
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= 0:
        whole, fraction = digits[: exp + 1].ljust(exp + 1, "0"), digits[exp + 1 :]
    else:
        whole, fraction = "0", "0" * (-exp - 1) + digits
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


# --- decoding: libyaml's nodes turned into values as go-yaml v2 would -------------------


class _NodeReader(CParser):
    """libyaml's composer, tagging untagged plain scalars for `resolve_plain`."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN_TAG if implicit[0] else STR_TAG
        return _TAG + ("map" if kind is MappingNode else "seq")

    def descend_resolver(self, *_: Any) -> None:
        """Path-based resolvers are not used."""

    def ascend_resolver(self, *_: Any) -> None:
        """Path-based resolvers are not used."""


class _GoScanner(Scanner):
    """PyYAML's scanner with go-yaml v2's rules where libyaml 0.2 differs: the escapes of
    double-quoted scalars (`\\'` is a quote, `\\/` is refused) and plain scalars in flow
    collections (a ":" ends one only before a blank, so `[a:]` is ["a:"])."""

    ESCAPE_REPLACEMENTS: ClassVar[dict[str, str]] = {  # type: ignore[misc]
        **{k: v for k, v in Scanner.ESCAPE_REPLACEMENTS.items() if k != "/"},
        "'": "'",
    }
    _BLANKZ = "\0 \t\r\n\x85\u2028\u2029"

    # PyYAML's pipeline is mixins sharing one object; its stubs type them apart, so the
    # methods below see `self` as Any.
    def scan_plain(self: Any) -> ScalarToken:
        chunks: list[str] = []
        start_mark = end_mark = self.get_mark()
        indent = self.indent + 1
        spaces: list[str] = []
        while self.peek() != "#":
            length = 0
            while True:
                char = self.peek(length)
                if (
                    char in self._BLANKZ
                    or (char == ":" and self.peek(length + 1) in self._BLANKZ)
                    or (self.flow_level and char in ",?[]{}")
                ):
                    break
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark)
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        return ScalarToken("".join(chunks), True, start_mark, end_mark)


class _GoComposer(Composer):
    """An anchor defined again re-binds its name for the aliases after it, and a scalar
    with the non-specific tag `!` is a string, as in go-yaml."""

    def compose_scalar_node(self: Any, anchor: Any) -> Any:
        event = self.peek_event()
        if event.tag == "!":
            event.tag = STR_TAG
        return super().compose_scalar_node(anchor)

    def compose_node(self: Any, parent: Any, index: Any) -> Any:
        if not self.check_event(AliasEvent):
            self.anchors.pop(self.peek_event().anchor, None)
        return super().compose_node(parent, index)


class _GoNodeReader(Reader, _GoScanner, Parser, _GoComposer):
    """The pure-Python pipeline with go-yaml's scanner and composer rules, for documents
    where libyaml would read differently; slower than `_NodeReader`."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        _GoScanner.__init__(self)
        Parser.__init__(self)
        _GoComposer.__init__(self)

    resolve = _NodeReader.resolve
    descend_resolver = _NodeReader.descend_resolver
    ascend_resolver = _NodeReader.ascend_resolver


# Where libyaml 0.2 and go-yaml v2 read the same text differently: escapes, flow
# collections with a ":" or "?" inside (or spanning lines), anchors defined twice.
_GO_ESCAPES = re.compile(r"\\['/]")
_FLOW_LINE = re.compile(r"[\[{][^\n]*")
_FLOW_DIFFERENCE = re.compile(r":(?![ \t\r\n])|\?")
_ANCHOR = re.compile(r"&([^\s,\[\]{}]+)")
_NON_SPECIFIC_TAG = re.compile(r"(?:^|[\s\[{,])!(?=[\s\]},]|$)", re.MULTILINE)


def _needs_go_scanner(text: str) -> bool:
    if "\\" in text and _GO_ESCAPES.search(text):
        return True
    if "!" in text and _NON_SPECIFIC_TAG.search(text):
        return True
    if "[" in text or "{" in text:
        for match in _FLOW_LINE.finditer(text):
            line = match.group()
            if _FLOW_DIFFERENCE.search(line):
                return True
            if line.count("[") + line.count("{") != line.count("]") + line.count("}"):
                return True
    if "&" in text:
        names = _ANCHOR.findall(text)
        return len(names) != len(set(names))
    return False


def _allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's guard against alias bombs: 99% aliases below 400k decodes, 10% above 4M."""
    low, high = 400_000, 4_000_000
    if decodes <= low:
        return 0.99
    if decodes >= high:
        return 0.10
    return 0.99 - 0.89 * (decodes - low) / (high - low)


class DecodeError(Exception):
    """A document that parses but that go-yaml refuses to decode, at the node's mark."""

    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.message, self.mark = message, node.start_mark


class _Decoder:
    """Turns a composed node graph into JSON-like values; aliases are expanded into copies."""

    def __init__(self, *, track_aliases: bool, json_numbers: bool, check_escapes: bool) -> None:
        self._track = track_aliases
        self._json_numbers = json_numbers
        self._check_escapes = check_escapes
        self._seen: set[Node] = set()
        self._active: set[Node] = set()
        self._decodes = self._alias_decodes = self._alias_depth = 0

    def value(self, node: Node) -> Any:
        if not self._track:
            return self._build(node)
        alias = self._enter(node)
        self._active.add(node)
        self._alias_depth += alias
        try:
            return self._build(node)
        finally:
            self._alias_depth -= alias
            self._active.discard(node)

    def _enter(self, node: Node) -> bool:
        self._decodes += 1
        if self._alias_depth:
            self._alias_decodes += 1
            if (
                self._alias_decodes > 100
                and self._decodes > 1000
                and self._alias_decodes / self._decodes > _allowed_alias_ratio(self._decodes)
            ):
                raise DecodeError("document contains excessive aliasing", node)
        if node in self._active:
            raise DecodeError("an anchor's value contains an alias to itself", node)
        if node in self._seen:
            return True
        self._seen.add(node)
        return False

    def _build(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            value = self._scalar(node)
            if isinstance(value, float) and not math.isfinite(value):
                # Helm's JSON step fails on these ("json: unsupported value").
                raise DecodeError(f"{node.value} is not a JSON number; quote it", node)
            if self._json_numbers and type(value) is int and not -_EXACT <= value <= _EXACT:
                return float64_number(value)
            return value
        if isinstance(node, MappingNode):
            return self._fill_mapping(node, {})
        return [self.value(child) for child in node.value]

    def _scalar(self, node: ScalarNode) -> Any:
        if self._check_escapes and _SURROGATE.search(node.value):
            # Python's scanner decodes `\\ud800`; go-yaml and libyaml refuse it.
            raise DecodeError("found invalid Unicode character escape code", node)
        if node.tag == _PLAIN_TAG:
            return resolve_plain(node.value)
        if node.tag == STR_TAG:
            return node.value
        try:
            return _resolve_tagged(node.tag, node.value)
        except ValueError as exc:
            raise DecodeError(str(exc), node) from None

    def _fill_mapping(self, node: MappingNode, out: dict[str, Any]) -> dict[str, Any]:
        # Keys first: a duplicate is reported as such even when the value go-yaml would
        # have dropped (the first one) has no JSON form.
        entries: list[tuple[str | None, Node]] = []
        explicit: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if (
                key_node.__class__ is ScalarNode
                and key_node.value == "<<"
                and key_node.tag in (_PLAIN_TAG, _MERGE_TAG)
            ):
                entries.append((None, value_node))
                continue
            key = self._key(key_node)
            if key in explicit:
                first = explicit[key].start_mark.line + 1
                raise DecodeError(
                    f"duplicate key {key!r} (first defined at line {first})", key_node
                )
            explicit[key] = key_node
            entries.append((key, value_node))
        for entry, value_node in entries:
            if entry is None:
                self._merge(value_node, out)
            else:
                out[entry] = self.value(value_node)
        return out

    def _merge(self, node: Node, out: dict[str, Any]) -> None:
        sources = [node] if node.__class__ is MappingNode else None
        if node.__class__ is SequenceNode:
            # Earlier maps take precedence, so go-yaml applies them last.
            sources = list(reversed(node.value))
        if sources is None or any(source.__class__ is not MappingNode for source in sources):
            raise DecodeError("a << merge needs a mapping or a list of mappings", node)
        for source in sources:
            if not self._track:
                self._fill_mapping(source, out)
                continue
            alias = self._enter(source)
            self._active.add(source)
            self._alias_depth += alias
            try:
                self._fill_mapping(source, out)
            finally:
                self._alias_depth -= alias
                self._active.discard(source)

    def _key(self, node: Node) -> str:
        if node.__class__ is not ScalarNode:
            raise DecodeError("a list or mapping cannot be a map key", node)
        if self._track:
            self._enter(node)
        key = self._scalar(node)
        if isinstance(key, str):
            return key
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int) and -_INT64_MAX - 1 <= key <= _INT64_MAX:
            return str(key)
        if isinstance(key, float):
            return _go_float32_key(key)
        raise DecodeError(f"unsupported map key {node.value!r}", node)


_EXACT = 2**53  # float64 holds every integer up to here exactly
_SURROGATE = re.compile("[\ud800-\udfff]")


def float64_number(integer: int) -> int | float:
    """`integer` as float64 holds it, as an int while it is one JSON writes in full."""
    number = float(integer)
    return int(number) if abs(number) < 2**63 else number


def load(text: str, *, json_numbers: bool = False) -> Any:
    """The first document of `text` as go-yaml v2 decodes it (None: there is none).

    With `json_numbers`, integers come back as the float64 values sigs.k8s.io/yaml's JSON
    step makes of them (see `float64_number`). Raises yaml.YAMLError for text go-yaml
    cannot parse, DecodeError for what go-yaml refuses, and RecursionError for documents
    nested too deeply.
    """
    go_scanner = _needs_go_scanner(text)
    reader: Any = _GoNodeReader(text) if go_scanner else _NodeReader(text)
    try:
        node = reader.get_node() if reader.check_node() else None
    finally:
        reader.dispose()
    if node is None:
        return None
    decoder = _Decoder(
        track_aliases="&" in text, json_numbers=json_numbers, check_escapes=go_scanner
    )
    return decoder.value(node)
