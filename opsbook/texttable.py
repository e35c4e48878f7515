"""The one plain-text table printer of the command line and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = (),
                 rule: bool = True) -> str:
    """``rows`` under ``header`` in aligned columns; columns listed in ``right`` are right-aligned.

    The last column is never padded, so a long message there does not widen the table.
    """
    table = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in right else (c if i == len(cells) - 1 else c.ljust(w))
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    lines = [line(r) for r in table]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
