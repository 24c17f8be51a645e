"""Results back in Python (docs/model.md §10): load what the commands wrote.

- ``load_sweep(folder)``: a sweep folder's ``results.csv`` as a pandas DataFrame
  (``recigrad.running.sweep``; needs the ``analysis`` extra).
"""

from recigrad.running.sweep import load_sweep

__all__ = ["load_sweep"]
