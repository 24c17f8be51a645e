"""Progress bars on stderr for long work, silent when stderr is not a terminal."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str = "it") -> tqdm:
    """A ``tqdm`` bar on stderr; ``RECIGRAD_PROGRESS=0`` hides it, ``=1`` forces it."""
    setting = os.environ.get("RECIGRAD_PROGRESS")
    disable = None if setting is None else setting == "0"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable, leave=False, unit_scale=True)
