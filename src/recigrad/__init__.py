"""recigrad: learning in indirect-reciprocity games with communication.

The world (``recigrad.world``), the exact chain (``recigrad.exact``) and the
differentiable reputation-chain model (``recigrad.model``) share the game's
definitions (``recigrad.game``, ``recigrad.norms``, ``recigrad.population``).
"""

from recigrad.game import ConfigError, Game, observable

__all__ = ["ConfigError", "Game", "observable", "__version__"]
__version__ = "0.1.0"
