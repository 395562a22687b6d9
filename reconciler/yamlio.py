"""YAML as Helm reads it, and YAML for Kubernetes manifests.

Owns `load_yaml` (one YAML document read with Helm 3's semantics, returned as plain JSON
types) and `dump_yaml` (deterministic block-style YAML that go-yaml reads back unchanged).
Does not merge values, apply `--set` flags or validate anything: values.py and schema.py do.

Helm reads values through sigs.k8s.io/yaml: go-yaml v2 decodes the first document into
interface{} values, then every map is converted for JSON. So plain scalars resolve with
go-yaml v2's YAML 1.1-flavoured rules, implemented here in `_resolve_plain`:

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
  go-yaml's order.
- An empty document is {}; a top-level value that is not a mapping is an error. Documents
  after the first are ignored, as Helm does.

Speed: the slow path (libyaml through PyYAML's C composer, then `_Decoder`) is the
reference. A document the fast path can show is unaffected by the differences goes through
yaml_rs instead, more than ten times faster. `_fast_path_risk` is a conservative scan: it
sends to the slow path every document with a plain scalar whose go-yaml resolution could
differ from yaml_rs's, and every construct where the two parsers were found to disagree
(tags, anchors, aliases, merge keys, complex keys, directives, several documents, tabs and
control characters, empty block scalars, flow collections spanning lines or holding a ":"
inside a plain scalar). A false alarm only costs time.

Known gaps with Helm: libyaml 0.2 (the reference here) accepts `{url: http://x}` and an
anchor name defined twice, which go-yaml v2's older libyaml port refuses; a non-specific tag
on a plain scalar (`! 12`) resolves as if untagged.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from typing import Any

import orjson
import yaml
import yaml_rs
from yaml.cyaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import InputError, ValuesError

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


def _resolve_plain(text: str) -> Any:
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
_STR_TAG, _BINARY_TAG, _MERGE_TAG = _TAG + "str", _TAG + "binary", _TAG + "merge"
_TIMESTAMP_TAG, _FLOAT_TAG = _TAG + "timestamp", _TAG + "float"
_PLAIN_TAG = "!reconciler/plain"  # marks untagged plain scalars for go-yaml resolution
_TYPE_TAGS = {
    type(None): _TAG + "null",
    bool: _TAG + "bool",
    int: _TAG + "int",
    float: _FLOAT_TAG,
    str: _STR_TAG,
}
_RESOLVABLE_TAGS = frozenset(_TYPE_TAGS.values()) - {_STR_TAG} | {_TIMESTAMP_TAG}
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
    value = _resolve_plain(text)
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


# --- the slow path: libyaml nodes decoded as go-yaml v2 would ----------------------------


class _NodeReader(CParser):
    """libyaml's composer, tagging untagged plain scalars for `_resolve_plain`."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN_TAG if implicit[0] else _STR_TAG
        return _TAG + ("map" if kind is MappingNode else "seq")

    def descend_resolver(self, *_: Any) -> None:
        """Path-based resolvers are not used."""

    def ascend_resolver(self, *_: Any) -> None:
        """Path-based resolvers are not used."""


def _allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's guard against alias bombs: 99% aliases below 400k decodes, 10% above 4M."""
    low, high = 400_000, 4_000_000
    if decodes <= low:
        return 0.99
    if decodes >= high:
        return 0.10
    return 0.99 - 0.89 * (decodes - low) / (high - low)


class _DecodeError(Exception):
    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.message, self.mark = message, node.start_mark


class _Decoder:
    """Turns a composed node graph into JSON-like values; aliases are expanded into copies."""

    def __init__(self, *, track_aliases: bool) -> None:
        self._track = track_aliases
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
                raise _DecodeError("document contains excessive aliasing", node)
        if node in self._active:
            raise _DecodeError("an anchor's value contains an alias to itself", node)
        if node in self._seen:
            return True
        self._seen.add(node)
        return False

    def _build(self, node: Node) -> Any:
        kind = node.__class__
        if kind is ScalarNode:
            value = self._scalar(node)
            if isinstance(value, float) and not math.isfinite(value):
                # Helm's JSON step fails on these ("json: unsupported value").
                raise _DecodeError(f"{node.value} is not a JSON number; quote it", node)
            return value
        if kind is MappingNode:
            return self._fill_mapping(node, {})
        return [self.value(child) for child in node.value]

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _PLAIN_TAG:
            return _resolve_plain(node.value)
        if node.tag == _STR_TAG:
            return node.value
        try:
            return _resolve_tagged(node.tag, node.value)
        except ValueError as exc:
            raise _DecodeError(str(exc), node) from None

    def _fill_mapping(self, node: MappingNode, out: dict[str, Any]) -> dict[str, Any]:
        explicit: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if (
                key_node.__class__ is ScalarNode
                and key_node.value == "<<"
                and key_node.tag in (_PLAIN_TAG, _MERGE_TAG)
            ):
                self._merge(value_node, out)
                continue
            key = self._key(key_node)
            if key in explicit:
                first = explicit[key].start_mark.line + 1
                raise _DecodeError(
                    f"duplicate key {key!r} (first defined at line {first})", key_node
                )
            explicit[key] = key_node
            out[key] = self.value(value_node)
        return out

    def _merge(self, node: Node, out: dict[str, Any]) -> None:
        sources = [node] if node.__class__ is MappingNode else None
        if node.__class__ is SequenceNode:
            # Earlier maps take precedence, so go-yaml applies them last.
            sources = list(reversed(node.value))
        if not sources or any(source.__class__ is not MappingNode for source in sources):
            raise _DecodeError("a << merge needs a mapping or a list of mappings", node)
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
            raise _DecodeError("a list or mapping cannot be a map key", node)
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
        raise _DecodeError(f"unsupported map key {node.value!r}", node)


def _slow_load(text: str) -> Any:
    reader = _NodeReader(text)
    try:
        node = reader.get_node() if reader.check_node() else None
    finally:
        reader.dispose()
    if node is None:
        return None
    return _Decoder(track_aliases="&" in text).value(node)


# --- the fast path: yaml_rs when no plain scalar can resolve differently ------------------

_BOOL_1_1 = r"(?:[yYnN]|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)(?![^\s,\]}:#])"
# Plain scalars whose go-yaml v2 value may differ from yaml_rs's (YAML 1.2 core plus
# extensions such as "_" in numbers and ".iNf"), and syntax the fast path leaves to libyaml:
# tags (!), anchors (&, whose names YAML 1.2 lets run on), aliases (*), complex keys (?),
# directives (%), merge keys (<).
_RISKY_TOKEN = (
    r"(?=[yYnNoO0-9+\-._!&*?%<])(?:"
    + _BOOL_1_1
    + r"|[-+]?(?:0[0-9_xXoObB]|[0-9]{19}|_|\.(?!/))"  # octal, prefixes, huge, "_1", ".inf"
    r"|[-+]?[0-9][^\s,\[\]{}#]*_"  # digit separators
    r"|[-+]?[0-9.]+[eE][-+]?[0-9]{3}"  # exponents that may overflow
    r"|[!&*?%<@`])"
)
# In flow collections yaml_rs also takes "|" and ">" as plain text, which libyaml refuses.
_RISKY_IN_FLOW = r"(?:[|>]|" + _RISKY_TOKEN + ")"
# Where a plain scalar can start: after "key: " (or a JSON-style '"key":'), at a line's
# start (after "- " items), in flow collections. Each scan starts with a literal so re can
# skip ahead quickly; possessive quantifiers keep it from backtracking over indentation.
_CONTEXT_SCANS = (
    (":", re.compile(r":(?:[ \t]++|(?<=[\"']:))" + _RISKY_TOKEN)),
    ("\n", re.compile(r"\n[ \t]*+(?:-[ \t]++)*+" + _RISKY_TOKEN)),
    ("[", re.compile(r"\[[ \t]*+" + _RISKY_IN_FLOW)),
    ("{", re.compile(r"\{[ \t]*+" + _RISKY_IN_FLOW)),
    (",", re.compile(r",[ \t]*+" + _RISKY_IN_FLOW)),
)
_DOCUMENT_START = re.compile(r"[ \t]*+(?:---[ \t]++)?(?:-[ \t]++)*+" + _RISKY_TOKEN)
# A second document, or a document end marker: yaml_rs would return every document.
_DOCUMENT_MARKER = re.compile(r"\n(?:---|\.\.\.)(?!\S)")
_LONE_CARRIAGE_RETURN = re.compile(r"\r(?!\n)")
# Printable ASCII plus line breaks. Anything else (tabs, control characters, and YAML 1.1's
# extra line breaks U+0085/U+2028/U+2029) is parsed differently or refused by libyaml.
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\n\r"


def _fast_path_risk(text: str) -> bool:
    """True unless yaml_rs is sure to read `text` as go-yaml v2 would. May say True wrongly."""
    if text.isascii():
        if text.encode("ascii").translate(None, _PLAIN_ASCII):
            return True
    elif not text.replace("\n", "").replace("\r", "").isprintable():
        return True
    if _DOCUMENT_MARKER.search(text) or _DOCUMENT_START.match(text):
        return True
    if "\r" in text and _LONE_CARRIAGE_RETURN.search(text):
        return True  # a line break the scans below, which look for "\n", would not see
    if ("|" in text or ">" in text) and _block_scalar_risk(text):
        return True
    if ("{" in text or "[" in text) and _flow_risk(text):
        return True
    return any(literal in text and scan.search(text) for literal, scan in _CONTEXT_SCANS)


_BLOCK_HEADER = re.compile(r"[|>]([-+0-9]*)[ \t]*+(?:#[^\n]*)?\r?$", re.MULTILINE)
_LEADING_INDICATORS = re.compile(r" *(?:- +)*")
_LINES_TO_LOOK_AT = 64


def _block_scalar_risk(text: str) -> bool:
    """yaml_rs reads an empty block scalar as "\\n" where libyaml reads "", and keeps a final
    line break the text does not have; flag every header that may start such a scalar."""
    if not text.endswith("\n"):
        return True
    for header in _BLOCK_HEADER.finditer(text):
        if any(c.isdigit() for c in header.group(1)):
            return True  # an explicit indentation: content may sit at any depth
        line_start = text.rfind("\n", 0, header.start()) + 1
        parent = _LEADING_INDICATORS.match(text, line_start).end() - line_start
        position = text.index("\n", header.start()) + 1
        for _ in range(_LINES_TO_LOOK_AT):
            end = text.find("\n", position)
            line = text[position:] if end < 0 else text[position:end]
            if line.strip():
                if len(line) - len(line.lstrip(" ")) <= parent:
                    return True  # dedented straight away: the scalar is empty
                break
            if end < 0:
                return True  # only blank lines follow
            position = end + 1
        else:
            return True
    return False


_FLOW_OPENER = re.compile(r"[\[{](?![ \t]*[\]}])")
# Everything on a line but flow indicators and what libyaml may refuse: quoted scalars (a
# quote opens one only at the start of a token), plain scalars, comments, separators. Left
# over: a ":" inside a plain scalar or before a non-space, an unclosed quote, and indicators
# that cannot start a plain scalar (yaml_rs reads `{a: |x}` as text, libyaml refuses it).
_FLOW_FILLER = re.compile(
    r"'(?:[^'\n]|'')*'"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|[^\s\[\]{},'\"#:?|>!&*@`%][^\s\[\]{},:]*"
    r"|(?:^|(?<=[ \t]))#[^\n]*"
    r"|:(?=[ \t\r]|$)|(?<=['\"]):"
    r"|[ \t\r,?]+",
    re.MULTILINE,
)


_FLOW_SUSPECTS = frozenset("'\":|>!&*@`%")


def _flow_risk(text: str) -> bool:
    """Flag flow collections yaml_rs may read differently from libyaml: any that does not
    close on the line it opens (yaml_rs accepts quoted keys spanning lines), and any with a
    ":" inside a plain scalar or before a non-space (`{a: :x}`, `[b:]`), or an indicator
    starting a plain scalar."""
    starts = {text.rfind("\n", 0, opener.start()) + 1 for opener in _FLOW_OPENER.finditer(text)}
    lines = []
    for start in sorted(starts):
        end = text.find("\n", start)
        lines.append(text[start:] if end < 0 else text[start:end])
    for residue in _FLOW_FILLER.sub("", "\n".join(lines)).split("\n"):
        opened = residue.count("{") + residue.count("[")
        closed = residue.count("}") + residue.count("]")
        if opened != closed or any(char in residue for char in _FLOW_SUSPECTS):
            return True
    return False


_NOT_TAKEN = object()


def _fast_load(text: str) -> Any:
    """The document through yaml_rs, or `_NOT_TAKEN` when only libyaml can be trusted."""
    if _fast_path_risk(text):
        return _NOT_TAKEN
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
        # A JSON encoding proves every key is a string and every integer fits 64 bits.
        orjson.dumps(data)
    except Exception:
        # Whatever yaml_rs or the check refuses, libyaml decides, and words the error.
        return _NOT_TAKEN
    return data


# --- public API ------------------------------------------------------------------------


def load_yaml(
    text: str | bytes, *, source: str, error: type[InputError] = ValuesError
) -> dict[str, Any]:
    """Parse the first YAML document in `text` as Helm 3 reads a values file.

    Returns a mapping of plain JSON types (dict, list, str, int, float, bool, None); an
    empty document gives {}. Raises `error` (ValuesError by default) naming `source`, with
    line and column for syntax errors, when the text is not valid YAML, its top level is
    not a mapping, or a value has no JSON form.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(
                f"not UTF-8 text (byte {exc.start} cannot be decoded)",
                source=source,
                hint="save the file as UTF-8",
            ) from None
    text = text.removeprefix("\ufeff")
    data = _fast_load(text)
    if data is _NOT_TAKEN:
        data = _load_reference(text, source=source, error=error)
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the scalar {data!r}"
        raise error(
            f"the top level must be a mapping of keys to values, not {kind}",
            source=source,
            hint="values files start with keys such as `config:`",
        )
    return data


def _load_reference(text: str, *, source: str, error: type[InputError]) -> Any:
    try:
        return _slow_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.problem and exc.context else ""
        raise _located(error, f"{problem}{context}", mark.line, mark.column, text, source) from None
    except yaml.YAMLError as exc:  # reader errors: bytes no YAML text may contain
        offset = getattr(exc, "position", 0)
        prefix = text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")
        line, column = prefix.count("\n"), len(prefix) - prefix.rfind("\n") - 1
        reason = getattr(exc, "reason", "") or str(exc)
        raise _located(error, reason, line, column, text, source) from None
    except _DecodeError as exc:
        raise _located(error, exc.message, exc.mark.line, exc.mark.column, text, source) from None
    except RecursionError:
        raise error("the document is nested too deeply", source=source) from None


def _located(
    error: type[InputError], problem: str, line: int, column: int, text: str, source: str
) -> InputError:
    """An error at a 0-based line and column, with the offending line quoted."""
    lines = text.splitlines()
    shown = lines[line] if line < len(lines) else ""  # the end of the file
    gutter = f"{line + 1:>5} | "
    detail = f"{gutter}{shown}\n{' ' * (len(gutter) - 2)}| {' ' * column}^"
    return error(
        f"line {line + 1}, column {column + 1}: {problem}",
        source=source,
        detail=detail,
        hint="check the indentation and quoting around that line",
    )


class _ManifestDumper(yaml.CSafeDumper):
    """Block style, insertion order, no anchors, and quotes wherever go-yaml would not read
    the plain text back as the same string."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.BaseDumper, value: str) -> yaml.ScalarNode:
    if value == "<<" or not isinstance(_resolve_plain(value), str):
        return dumper.represent_scalar(_STR_TAG, value, style="'")
    if "\n" in value:
        return dumper.represent_scalar(_STR_TAG, value, style="|")
    return dumper.represent_scalar(_STR_TAG, value)


_ManifestDumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any) -> str:
    """Block-style YAML for `obj` (JSON types), keys in insertion order, deterministic."""
    return yaml.dump(
        obj,
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**16,
    )
