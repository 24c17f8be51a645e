"""``sb3-ppo-default``: Stable-Baselines3's PPO with Stable-Baselines3's default settings; see
``recigrad.learning.baselines.sb3`` (docs/model.md §7)."""

from recigrad.learning.baselines import sb3

start, step = sb3.variant("ppo", tuned=False)
