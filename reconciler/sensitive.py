"""Which values are secrets, and keeping them out of everything the tool shows.

Owns one rule, used by plans, state views and every error: a value is sensitive when its
name looks secret (`*TOKEN*`, `*PASS*`, `*SECRET*`, `*CREDENTIAL*`, `*PRIVATE*`,
`*API_KEY*`, …, or a name the user marked), or when it is a URL whose userinfo carries
a password (`postgres://u:pw@h/db`). `redact_text` applies the rule to free text: quoted
source lines, echoed `--set` expressions and messages naming a value.

Users add names through a `Sensitivity` they hand to what renders (the CLI builds one
from `sensitiveNames` in the values and `RECONCILER_SENSITIVE_NAMES`; the SDK from
`Client(sensitive_names=...)`): nothing here is a process-wide setting.

Pure: strings in, strings out. Where secrets are kept (the state, saved plans, Secrets on
a cluster) is the caller's business.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REDACTED = "(sensitive value)"

# Environment variables are where secrets end up in practice (a scorer's API token, a
# database password): values under names like these are never shown, in any format.
SECRET_NAME = re.compile(
    r"(?i)(secret|token|pass|credential|private|api[_-]?key|access[_-]?key|auth)"
)
# `scheme://user:password@host`: the password part of a URL's userinfo.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@'\"]*:)([^\s@/'\"]+)(@)")
# `NAME=VALUE` as in `--set a.b.NAME=VALUE,c=d` or an environment listing; a value ends at
# an unescaped comma or at white space.
_ASSIGNMENT = re.compile(r"([A-Za-z_][\w.\-\[\]\\]*)(\s*=\s*)((?:\\.|[^\s,\\])+)")
# `NAME: VALUE` as a YAML or JSON line shows it (`DB_PASSWORD: hunter2`, `"API_TOKEN": 1`);
# the name stands alone (not the end of a dotted path, which is how messages name a place),
# and the value runs to the end of the line, since in a quoted source line nothing later
# can be trusted to be free of it.
_ENTRY = re.compile(r"(?m)(^|[\s{,\[])([\"']?)([A-Za-z_][\w\-]*)\2(\s*:[ \t]+)(\S.*)$")
_LAST_SEGMENT = re.compile(r"[.\[\]]")
# Parts of a message that can only be a value: a quoted string or a number.
_SHOWN_VALUE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|(?<![\w.])-?\d[\w.+-]*")


@dataclass(frozen=True)
class Sensitivity:
    """The rule above, with `names` the user added: exact names or shell-style patterns
    (`MY_PLATFORM_*`), matched without regard to case."""

    names: tuple[str, ...] = ()

    def with_names(self, names: Iterable[str]) -> Sensitivity:
        added = tuple(n for n in names if n and n not in self.names)
        return Sensitivity(names=(*self.names, *added)) if added else self

    def name(self, name: str) -> bool:
        """True when values under `name` (a key, or a dotted path ending in one) are secret."""
        last = _LAST_SEGMENT.split(name.rstrip(".]["))[-1] if name else ""
        if not last:
            return False
        if SECRET_NAME.search(last):
            return True
        folded = last.lower()
        return any(fnmatch.fnmatchcase(folded, pattern.lower()) for pattern in self.names)

    def value(self, value: Any) -> bool:
        """True when the value gives itself away as a secret (a URL with a password)."""
        return isinstance(value, str) and _URL_PASSWORD.search(value) is not None

    def hides(self, name: str, value: Any = None) -> bool:
        """True when the value under `name` must not be shown."""
        return self.name(name) or self.value(value)

    def redact_env(self, env: Mapping[str, Any]) -> dict[str, Any]:
        """Environment variables as they may be shown."""
        return {k: REDACTED if self.hides(k, v) else v for k, v in env.items()}

    def redact_data(self, value: Any) -> Any:
        """A value as it may be shown: within mappings and lists, entries under secret
        names and secret-looking strings replaced (a diff may show a whole mapping)."""
        if isinstance(value, Mapping):
            return {
                k: REDACTED if self.hides(str(k), v) else self.redact_data(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact_data(item) for item in value]
        return REDACTED if self.value(value) else value

    def redact_values_in(self, message: str) -> str:
        """`message` about a sensitive place, with every value it quotes replaced."""
        return _SHOWN_VALUE.sub(REDACTED, message)

    def redact_text(self, text: str) -> str:
        """`text` with every secret-looking value replaced by `REDACTED`."""
        if not text:
            return text
        text = _URL_PASSWORD.sub(lambda m: f"{m[1]}{REDACTED}{m[3]}", text)

        def assignment(match: re.Match[str]) -> str:
            if not self.name(match[1].replace("\\", "")) or match[3] == REDACTED:
                return match[0]
            # Closing quotes and a colon after the value belong to the message around it.
            tail = match[3][len(match[3].rstrip("'\":")) :]
            return f"{match[1]}{match[2]}{REDACTED}{tail}"

        def entry(match: re.Match[str]) -> str:
            if not self.name(match[3]) or match[5].startswith(REDACTED):
                return match[0]
            return f"{match[1]}{match[2]}{match[3]}{match[2]}{match[4]}{REDACTED}"

        text = _ASSIGNMENT.sub(assignment, text)
        return _ENTRY.sub(entry, text)


DEFAULT = Sensitivity()


def names_from_values(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The names marked sensitive under `config.deployer.composition.sensitiveNames`."""
    node: Any = data
    for key in ("config", "deployer", "composition", "sensitiveNames"):
        node = node.get(key) if isinstance(node, Mapping) else None
    if not isinstance(node, list):
        return ()
    return tuple(name for name in node if isinstance(name, str) and name)


def names_from_setting(text: str | None) -> tuple[str, ...]:
    """Names from a comma-separated setting such as `RECONCILER_SENSITIVE_NAMES`."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())
