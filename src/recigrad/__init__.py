"""recigrad: learning in indirect-reciprocity games with communication.

The world (``recigrad.dynamics.world``), the exact chain (``recigrad.dynamics.exact``) and the
differentiable reputation-chain model (``recigrad.dynamics.meanfield``) share the game's
definitions (``recigrad.game``, ``recigrad.game.norms``, ``recigrad.game.population``).
"""

from recigrad.game import ConfigError, Game, observable

__all__ = ["ConfigError", "Game", "observable", "__version__", "game", "dynamics", "learning", "evaluation", "running", "envs", "util", "errors", "cli"]
__version__ = "0.1.0"
