"""The table `list()` returns: printed like the documented client, used like a list.

Its repr shows the first 50 rows; `show(n=...)` prints up to `n`; `len()` is the total;
iterating and indexing give the entries (SDK objects, which also read as mappings).
The printed layout is the client's:

       | name             | uid
    ---+------------------+--------------------------------------
     0 | My H2O-3 Runtime | b2c3d4e5-f6a7-8901-bcde-f12345678901

Owns layout only. The rows are rendered from one snapshot when the table is made; the
entries are live objects that read the current state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, overload

DEFAULT_ROWS = 50  # what the documented client prints before `show(n=...)`

T = TypeVar("T")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return str(value)
    return getattr(value, "address", None) or str(value)


class Table(Sequence[T]):
    """Rows rendered at listing time (`rows`) and the entries they describe (`entries`)."""

    def __init__(
        self,
        *,
        columns: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
        entries: Sequence[T],
    ) -> None:
        self.columns = columns
        self._rows = [tuple(_cell(value) for value in row) for row in rows]
        self._entries = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self._entries[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries)

    def render(self, n: int = DEFAULT_ROWS) -> str:
        """The first `n` rows as text, with a last line saying how many were left out."""
        shown = self._rows[: max(n, 0)]
        index = [str(i) for i in range(len(shown))]
        index_width = max((len(i) for i in index), default=1)
        widths = [
            max([len(column), *(len(row[c]) for row in shown)])
            for c, column in enumerate(self.columns)
        ]

        def line(first: str, cells: Sequence[str]) -> str:
            padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
            return f" {first.rjust(index_width)} | {' | '.join(padded)}".rstrip()

        lines = [
            line("", self.columns),
            "+".join("-" * (width + 2) for width in (index_width, *widths)),
            *(line(i, row) for i, row in zip(index, shown, strict=True)),
        ]
        if len(self._rows) > len(shown):
            lines.append(
                f"... {len(self._rows) - len(shown)} more of {len(self._rows)} rows: "
                f"show(n={len(self._rows)}) prints them all"
            )
        return "\n".join(lines)

    def show(self, n: int = DEFAULT_ROWS) -> None:
        """Print up to `n` rows."""
        print(self.render(n))

    def __repr__(self) -> str:
        return self.render()

    def __str__(self) -> str:
        return self.render()
