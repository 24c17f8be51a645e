"""``sb3-ppo``: Stable-Baselines3's PPO with the tuned settings (tuned.json); see
``recigrad.learning.baselines.sb3`` (docs/model.md §7)."""

from recigrad.learning.baselines import sb3

start, step = sb3.variant("ppo", tuned=True)
