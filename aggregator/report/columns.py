"""Plain-text columns: one aligner for every table the CLIs print."""

from __future__ import annotations

from collections.abc import Collection, Sequence


class Columns:
    """Widths from `rows`; `line` pads each cell (right-aligned where asked), two spaces apart."""

    def __init__(self, rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> None:
        self.widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        self._right = frozenset(right)

    def line(self, cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in self._right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, self.widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    def rule(self) -> str:
        return self.line(["-" * w for w in self.widths])


def align(rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> str:
    """The rows as aligned lines, widths from all of them."""
    cols = Columns(rows, right=right)
    return "\n".join(cols.line(r) for r in rows)
