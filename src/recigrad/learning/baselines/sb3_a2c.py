"""``sb3-a2c``: Stable-Baselines3's A2C with the tuned settings (tuned.json); see
``recigrad.learning.baselines.sb3`` (docs/model.md §7)."""

from recigrad.learning.baselines import sb3

start, step = sb3.variant("a2c", tuned=True)
