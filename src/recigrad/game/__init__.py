"""The game: what every other layer builds on (docs/model.md §1, §2, §9, §10).

- `recigrad.game.rules`: the donation game's parameters (`Game`: benefit `b`,
  cost `c`, execution error `e`, assessment error `mu`), the table conventions,
  the observable tables (errors folded in) and the probability of a good signal;
- `recigrad.game.formation`: how a donor's new reputation forms (k observers,
  majority or quorum aggregation, observation probability): `good_probability`;
- `recigrad.game.norms`: the named norms (image scoring, simple standing, stern
  judging, shunning, the leading eight L1..L8) and action rules (`allc`, `alld`, `disc`,
  `norm`: the norm's own rule, `learner`: trained, starting from the norm's rule);
- `recigrad.game.population`: populations of agents, each an action rule and a norm;
- `recigrad.game.regime`: the shipped regimes (`regimes/*.toml`), TOML loading
  and validation;
- `recigrad.game.contexts`: the decision contexts and their flat index encodings,
  and the literature's bit strings of norms and action rules;
- `recigrad.game.scaling`: a shipped regime at any N (the scaling study's populations
  and budgets per learner decision).

The names below are re-exported from `recigrad.game.rules` (and
`recigrad.errors.ConfigError`) for short imports: `from recigrad.game import Game, observable`.
"""

from recigrad.errors import ConfigError
from recigrad.game.rules import (
    DTYPE,
    Game,
    good_signal_probability,
    observable,
    observable_action,
    observable_signal,
)

__all__ = [
    "DTYPE", "ConfigError", "Game", "good_signal_probability", "observable", "observable_action", "observable_signal",
    # modules, listed so that the API reference shows them
    "rules", "formation", "norms", "population", "regime", "contexts", "scaling",
]
