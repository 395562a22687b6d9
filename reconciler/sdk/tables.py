"""The table `list()` returns: printed like the documented client, used like a list.

Its repr shows the first 50 rows; `show(n=...)` prints up to `n`; `len()` is the total;
iterating and indexing give the entries (SDK objects, which also read as mappings).
The printed layout is the client's, tabulate's `presto` format with the row index first:

       | name             | uid
    ---+------------------+--------------------------------------
     0 | My H2O-3 Runtime | b2c3d4e5-f6a7-8901-bcde-f12345678901

Owns layout only. The rows are rendered from one snapshot when the table is made; the
entries are live objects that read the current state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any, TypeVar, overload

import tabulate

DEFAULT_ROWS = 50  # what the documented client prints before `show(n=...)`
FORMAT = "presto"  # the documented client's table format

T = TypeVar("T")


def _cell(value: Any) -> Any:
    """A value as the client's rows hold it: numbers stay numbers (tabulate aligns them),
    states are their names, objects their resource names."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Enum):
        return str(value.value)
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
        """The first `n` rows as the documented client prints them."""
        shown = self._rows[: max(n, 0)]
        rows = [[index, *row] for index, row in enumerate(shown)]
        return tabulate.tabulate(rows, headers=["", *self.columns], tablefmt=FORMAT)

    def show(self, n: int = DEFAULT_ROWS) -> None:
        """Print up to `n` rows."""
        print(self.render(n))

    def __repr__(self) -> str:
        return self.render()

    def __str__(self) -> str:
        return self.render()
