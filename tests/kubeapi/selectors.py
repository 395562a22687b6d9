"""Label and field selectors as the API server parses them from a list or watch query.

Owns parsing `labelSelector` (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and
`fieldSelector` (`metadata.name`, `metadata.namespace`, with `=`, `==`, `!=`) into a
predicate over an object. A malformed selector is a 400 BadRequest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.kubeapi import errors

Predicate = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_OP_TERM = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
FIELDS = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses: `a in (x,y),b` is two terms."""
    terms, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Predicate:
    match = _OP_TERM.match(term)
    if match:
        key, op, value = match.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET_TERM.match(term)
    if not match:
        raise errors.bad_request(f"unable to parse requirement: invalid label selector: {term!r}")
    negate, key, op, values_text = match.groups()
    if op:
        if negate:
            raise errors.bad_request(f"unable to parse requirement: {term!r}")
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if negate:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def label_selector(text: str | None) -> Predicate | None:
    if not text:
        return None
    terms = [_label_term(t) for t in _split_terms(text)]
    return lambda obj: all(t(obj["metadata"].get("labels") or {}) for t in terms)


def field_selector(text: str | None) -> Predicate | None:
    if not text:
        return None
    checks = []
    for term in _split_terms(text):
        match = _OP_TERM.match(term)
        if not match or match.group(1) not in FIELDS:
            raise errors.bad_request(
                f'"{term.strip()}" is not a known field selector: '
                'only "metadata.name", "metadata.namespace"'
            )
        field, op, value = match.groups()
        getter = FIELDS[field]
        if op == "!=":
            checks.append(lambda o, g=getter, v=value: g(o) != v)
        else:
            checks.append(lambda o, g=getter, v=value: g(o) == v)
    return lambda obj: all(c(obj) for c in checks)


def combine(*predicates: Predicate | None) -> Predicate | None:
    active = [p for p in predicates if p is not None]
    if not active:
        return None
    return lambda obj: all(p(obj) for p in active)
