"""``sb3-a2c-default``: Stable-Baselines3's A2C with Stable-Baselines3's default settings; see
``recigrad.learning.baselines.sb3`` (docs/model.md §7)."""

from recigrad.learning.baselines import sb3

start, step = sb3.variant("a2c", tuned=False)
