"""The game: the donation game's parameters and conventions (``rules``), the
named norms and action rules (``norms``), populations (``population``) and the
regime files and their schema (``regime``, ``regimes/*.toml``)."""

from recigrad.errors import ConfigError
from recigrad.game.rules import (
    DTYPE,
    Game,
    good_signal_probability,
    observable,
    observable_action,
    observable_signal,
)

__all__ = ["DTYPE", "ConfigError", "Game", "good_signal_probability", "observable", "observable_action", "observable_signal", "rules", "norms", "population", "regime"]
