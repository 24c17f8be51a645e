"""recigrad: learning in indirect-reciprocity games with communication.

Agents meet in a donation game with public reputations: a donor helps a
recipient or not, an observer judges the act with a good or bad signal, and the
signal becomes the donor's new reputation.  recigrad simulates such populations
in batches, solves them exactly and in mean field, trains learners with the
*reciprocity gradient* (and the REINFORCE and PPO baselines), and judges what
they learn against best responses.  The model, with every formula the code
implements, is written down in [docs/model.md](../docs/model.md) (cited in these
pages as docs/model.md §N); runnable scripts are in `examples/`.

## Layout

The subpackages are layers: each imports only from the ones above it.

| package | what it holds |
| --- | --- |
| `recigrad.game` | the game's parameters and table conventions, named norms, populations, regime files |
| `recigrad.dynamics` | the batched world and its compiled loop, a plain-Python loop, the exact chain, the mean field |
| `recigrad.learning` | estimators of the others from public records, the reciprocity-gradient learner, baselines |
| `recigrad.evaluation` | best responses against fixed opponents and the metrics of a learned policy |
| `recigrad.running` | training runs and their folders, checkpoints, the benchmark suite, its Ray backend |
| `recigrad.envs` | PettingZoo and Gymnasium environments of the game |
| `recigrad.cli` | the `recigrad` command line |
| `recigrad.util` | numerics, progress bars and text tables, with no game in them |

`recigrad.errors.ConfigError` is the one error type: bad input is refused with
a one-line message naming what is wrong and what is allowed.

## Where to start

- A game and its tables: `recigrad.game.Game` (benefit, cost, errors) and
  `recigrad.game.observable`, which folds the errors into a population's tables.
- A population: a shipped regime from `recigrad.game.regime.load_regime`, or
  agents by hand with `recigrad.game.population.Agent` and
  `recigrad.game.population.Population` (or `recigrad.game.population.parse_pop`).
- Play it: `recigrad.dynamics.world.simulate`; solve it: `recigrad.dynamics.exact.solve`
  (N <= 12) or `recigrad.dynamics.meanfield.solve` (any N, differentiable), both
  returning a `recigrad.dynamics.solution.Solution`.
- Best responses: `recigrad.evaluation.best_response`; metrics: `recigrad.evaluation.metrics`.
- Train: `recigrad.running.train.run`, the learner itself in
  `recigrad.learning.reciprocity_gradient`.
- Environments: `recigrad.envs.pettingzoo` and `recigrad.envs.gymnasium`.
- Results back: `recigrad.results.load_run` reads a run folder; `recigrad.evaluate`
  re-scores tables in any population (exact chain when N <= 12, else mean field).
- Threads: the library runs its solves on `recigrad.set_threads(n)` threads, else
  `RECIGRAD_THREADS`, else 1 (`recigrad.util.threads.configured`), as the command line does.

## Conventions

Tables are indexed by 0 = bad / defect and 1 = good / cooperate: an action
table `act[x_own, x_rec]` (probability of intending C) and a signal table
`sig[a, x_donor, x_rec]` (probability of judging the donor good).  A population's
tables are tensors of dtype `recigrad.game.DTYPE` (float64) with a leading
`(batch, agent)` shape, `act (B, N, 2, 2)` and `sig (B, N, 2, 2, 2)`; the batch
holds independent populations, and a seed gives the same run alone or in a batch.
"""

__version__ = "0.1.0"

from recigrad.game import ConfigError, Game, observable  # noqa: E402
from recigrad.results import evaluate  # noqa: E402
from recigrad.util.threads import set_threads  # noqa: E402

__all__ = [
    "ConfigError", "Game", "observable", "evaluate", "set_threads", "__version__",
    # subpackages and modules, listed so that the API reference shows them
    "game", "dynamics", "learning", "evaluation", "running", "envs", "util", "errors", "cli", "results",
]
