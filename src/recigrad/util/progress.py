"""Progress bars on stderr for long work, silent when stderr is not a terminal."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str = "it") -> tqdm:
    """A ``tqdm`` bar on stderr; ``RECIGRAD_PROGRESS=0`` hides it, ``=1`` forces it.

    Args:
        total: the amount of work, in ``unit``.
        desc: the label before the bar.
        unit: the unit of work shown with the rate (``"it"``, ``"interaction"``, ...).

    Returns:
        The bar (call ``update(k)`` as work is done and ``close()`` at the end); left
        unset, it shows only when stderr is a terminal.
    """
    setting = os.environ.get("RECIGRAD_PROGRESS")
    disable = None if setting is None else setting == "0"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable, leave=False, unit_scale=True)
