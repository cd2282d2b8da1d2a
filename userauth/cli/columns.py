"""Lay a command's table output out as aligned columns (`db prune`, `audit list`)."""

from __future__ import annotations

from collections.abc import Sequence


def columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Lay rows out as columns, each as wide as its widest cell (the last one unpadded)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    padded = [
        [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)] for row in rows
    ]
    return ["  ".join([*cells, row[-1]]) for cells, row in zip(padded, rows, strict=True)]
