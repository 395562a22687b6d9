"""YAML as Helm 4 reads it, and YAML for Kubernetes manifests.

Owns `load_values_file` (a values file read as Helm 4's `loader.LoadValues` reads `-f`
files and a chart's values.yaml: split into documents on `---` lines, every document a
mapping, merged in order, numbers as the float64 values Helm's JSON step gives), `load_yaml`
(one YAML document with go-yaml v2's semantics, returned as plain JSON types, errors
located by line and column) and `dump_yaml` (deterministic block-style YAML that go-yaml
reads back unchanged). Does not layer values files, apply `--set` flags or validate
anything: values.py, setvalues.py and schema.py do. What go-yaml's semantics are (plain
scalars resolved the YAML 1.1 way, keys, tags, merges, aliases, escapes) is goyaml.py's.

Speed: goyaml.py's decoder (libyaml through PyYAML's C composer) is the reference, and
slow. A document the fast path can show is unaffected by the differences goes through
yaml_rs instead, more than ten times faster. `_fast_path_risk` is a conservative scan: it
sends to the slow path every document with a plain scalar whose go-yaml resolution could
differ from yaml_rs's, and every construct where the two parsers were found to disagree
(tags, anchors, aliases, merge keys, complex keys, directives, several documents, tabs and
control characters, empty block scalars, flow collections spanning lines or holding a ":"
inside a plain scalar, escapes yaml_rs decodes differently). A false alarm only costs time.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml
import yaml_rs

from reconciler.errors import InputError, ValuesError
from reconciler.inputs import goyaml

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
# Escapes yaml_rs decodes differently from go-yaml: `\/` (refused by go-yaml), `\'` (a
# quote in go-yaml), and a UTF-16 surrogate, half of a pair (refused by go-yaml).
_ESCAPE_RISK = re.compile(r"\\(?:['/]|(?:u|U0000)[dD][89a-fA-F])")
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
    if "\\" in text and _ESCAPE_RISK.search(text):
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
        leading = _LEADING_INDICATORS.match(text, line_start)
        assert leading is not None  # the pattern matches the empty string
        parent = leading.end() - line_start
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
    r"|[^\s\[\]{},'\"#:?|>!&*@`%][^\s\[\]{},:?]*"
    r"|(?:^|(?<=[ \t]))#[^\n]*"
    r"|:(?=[ \t\r]|$)|(?<=['\"]):"
    r"|[ \t\r,]+",
    re.MULTILINE,
)


# go-yaml ends a plain scalar at any "?" in a flow collection; yaml_rs does not.
_FLOW_SUSPECTS = frozenset("'\":?|>!&*@`%")


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


def _fast_load(text: str, *, json_numbers: bool = False) -> Any:
    """The document through yaml_rs, or `_NOT_TAKEN` when only libyaml can be trusted.

    With `json_numbers`, integers beyond float64's exact range are rounded (`_as_float64`).
    """
    if _fast_path_risk(text):
        return _NOT_TAKEN
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:
        # Whatever yaml_rs refuses, libyaml decides, and words the error.
        return _NOT_TAKEN
    # A JSON encoding proves every key is a string and every integer fits 64 bits; the
    # strict one also that no integer needs rounding, so the common case costs one pass.
    try:
        orjson.dumps(data, option=orjson.OPT_STRICT_INTEGER if json_numbers else None)
    except orjson.JSONEncodeError:
        try:
            orjson.dumps(data)
        except orjson.JSONEncodeError:
            return _NOT_TAKEN
        return _as_float64(data)
    return data


# --- public API ------------------------------------------------------------------------

# What Go's strings.TrimSpace removes around the rest of a `---` line.
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B))
)
# float64 holds every integer up to this exactly; Helm's JSON step rounds larger ones.
_EXACT_IN_FLOAT64 = 2**53


def load_values_file(
    text: str | bytes, *, source: str, error: type[InputError] = ValuesError
) -> dict[str, Any]:
    """A values file as Helm 4 reads one (`-f FILE`, or a chart's values.yaml).

    Helm splits the text into documents at every line starting with `---` (only a comment
    may follow it there: `--- {a: 1}` is refused), reads each document as a mapping (an
    empty one counts as {}), merges them in order as it merges `-f` files, and passes the
    result through JSON, so every number becomes a float64: integers beyond 2**53 arrive
    rounded (`9007199254740993` is 9007199254740992), and are returned so. Raises `error`
    naming `source` and the line for everything Helm refuses.
    """
    text = _decode(text, source=source, error=error)
    if text and not text.endswith("\n"):
        text += "\n"  # Helm's reader appends one, which ends a final block scalar too
    merged: dict[str, Any] = {}
    for first_line, document in _documents(text, source=source, error=error):
        if first_line == 0:
            document = document.removeprefix("\ufeff")
        data = _load_document(document, source=source, error=error, first_line=first_line)
        merged = merge_maps(merged, data) if merged else data
    return merged


def merge_maps(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's MergeMaps, between the documents of a file and between `-f` files: maps merge
    recursively, anything else in `override` (lists, scalars, null) replaces what `base`
    had. Shares unchanged subtrees and changes neither argument."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge_maps(current, value)
        else:
            out[key] = value
    return out


def _documents(text: str, *, source: str, error: type[InputError]) -> list[tuple[int, str]]:
    """(first line, text) of each document, split as apimachinery's YAMLReader splits."""
    if not text.startswith("---") and "\n---" not in text:
        return [(0, text)]
    documents: list[tuple[int, str]] = []
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n")[:-1]):
        if line.startswith("---"):
            rest = line[3:].strip(_GO_SPACE)
            if rest and not rest.startswith("#"):
                raise _located(
                    error,
                    f"Helm 4 allows only a comment after a --- document separator, not {rest!r}",
                    number,
                    3,
                    text,
                    source,
                    hint="put the document's content on the lines after ---",
                )
            if lines:
                documents.append((start, "".join(lines)))
                lines = []
                continue
            # Helm's reader keeps a separator that opens an empty buffer: it starts the
            # next document's text (so `---` twice in a row reads as one separator).
        if not lines:
            start = number
        lines.append(line.removesuffix("\r") + "\n")  # Go's ReadLine drops a CR before LF
    if lines:
        documents.append((start, "".join(lines)))
    return documents


def load_yaml(
    text: str | bytes, *, source: str, error: type[InputError] = ValuesError
) -> dict[str, Any]:
    """Parse the first YAML document in `text` as go-yaml v2 (sigs.k8s.io/yaml) reads it.

    For the project's own files (overrides); values files go through `load_values_file`.
    Returns a mapping of plain JSON types (dict, list, str, int, float, bool, None); an
    empty document gives {}. Raises `error` (ValuesError by default) naming `source`, with
    line and column for syntax errors, when the text is not valid YAML, its top level is
    not a mapping, or a value has no JSON form.
    """
    text = _decode(text, source=source, error=error).removeprefix("\ufeff")
    return _load_document(text, source=source, error=error, first_line=0, json_numbers=False)


def _decode(text: str | bytes, *, source: str, error: type[InputError]) -> str:
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"not UTF-8 text (byte {exc.start} cannot be decoded)",
            source=source,
            hint="save the file as UTF-8",
        ) from None


def _load_document(
    text: str,
    *,
    source: str,
    error: type[InputError],
    first_line: int,
    json_numbers: bool = True,
) -> dict[str, Any]:
    data = _fast_load(text, json_numbers=json_numbers)
    if data is _NOT_TAKEN:
        data = _load_reference(
            text, source=source, error=error, first_line=first_line, json_numbers=json_numbers
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the scalar {data!r}"
        where = f" (the document starting at line {first_line + 1})" if first_line else ""
        raise error(
            f"the top level must be a mapping of keys to values, not {kind}{where}",
            source=source,
            hint="values files start with keys such as `config:`",
        )
    return data


def _as_float64(node: Any) -> Any:
    """`node` with every integer too large for float64 rounded as Helm's JSON step does."""
    if isinstance(node, dict):
        return {key: _as_float64(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_as_float64(value) for value in node]
    if type(node) is int and not -_EXACT_IN_FLOAT64 <= node <= _EXACT_IN_FLOAT64:
        return goyaml.float64_number(node)
    return node


def _load_reference(
    text: str, *, source: str, error: type[InputError], first_line: int, json_numbers: bool
) -> Any:
    try:
        return goyaml.load(text, json_numbers=json_numbers)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line, mark.column) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.problem and exc.context else ""
        raise _located(
            error, f"{problem}{context}", line, column, text, source, first_line
        ) from None
    except yaml.YAMLError as exc:  # reader errors: bytes no YAML text may contain
        offset = getattr(exc, "position", 0)
        prefix = text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")
        line, column = prefix.count("\n"), len(prefix) - prefix.rfind("\n") - 1
        reason = getattr(exc, "reason", "") or str(exc)
        raise _located(error, reason, line, column, text, source, first_line) from None
    except goyaml.DecodeError as exc:
        raise _located(
            error, exc.message, exc.mark.line, exc.mark.column, text, source, first_line
        ) from None
    except RecursionError:
        raise error(
            "the document is nested too deeply",
            source=source,
            hint="Helm reads up to 10000 levels; the reconciler reads up to a few hundred",
        ) from None


def _located(
    error: type[InputError],
    problem: str,
    line: int,
    column: int,
    text: str,
    source: str,
    first_line: int = 0,
    *,
    hint: str = "check the indentation and quoting around that line",
) -> InputError:
    """An error at a 0-based line and column of `text`, which starts at line `first_line`
    of the file, with the offending line quoted."""
    lines = text.splitlines()
    shown = lines[line] if line < len(lines) else ""  # the end of the file
    gutter = f"{first_line + line + 1:>5} | "
    detail = f"{gutter}{shown}\n{' ' * (len(gutter) - 2)}| {' ' * column}^"
    return error(
        f"line {first_line + line + 1}, column {column + 1}: {problem}",
        source=source,
        detail=detail,
        hint=hint,
    )


class _ManifestDumper(yaml.CSafeDumper):
    """Block style, insertion order, no anchors, and quotes wherever go-yaml would not read
    the plain text back as the same string."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: _ManifestDumper, value: str) -> yaml.ScalarNode:
    if value == "<<" or not isinstance(goyaml.resolve_plain(value), str):
        return dumper.represent_scalar(goyaml.STR_TAG, value, style="'")
    if "\n" in value:
        return dumper.represent_scalar(goyaml.STR_TAG, value, style="|")
    return dumper.represent_scalar(goyaml.STR_TAG, value)


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
