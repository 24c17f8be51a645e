"""Plain-text tables for the command line."""

from __future__ import annotations


def cell(value, digits: int = 6) -> str:
    """One value as table text: ``-`` for ``None``, ``yes``/``no`` for booleans,
    floats with ``digits`` decimals, anything else by ``str``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(header: list[str], rows: list[list], digits: int = 6) -> str:
    """Right-aligned columns under a header and a rule.

    Args:
        header: the column titles.
        rows: one list of values per row, as many as ``header``; each value goes
            through `cell`.
        digits: decimals of the floats.

    Returns:
        The table as lines joined by newlines, with no trailing newline.
    """
    cells = [header] + [[cell(v, digits) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
