"""``sb3-a2c``: Stable-Baselines3's A2C with the tuned settings (tuned.json); see
``recigrad.learning.baselines.sb3`` (docs/model.md §7)."""

from recigrad.learning.baselines import sb3

start, step = sb3.variant("a2c", tuned=True)
CONFIG = sb3.SB3Config  # tunable (recigrad tune, --baseline-settings); the grid is in tuned.json


def settings_for(regime):
    """The settings a run takes without a tuning result (``sb3.settings``: ``tuned.json``'s best for the regime,
    else its ``overall``)."""
    return sb3.settings("a2c", True, regime)
