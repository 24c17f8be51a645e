"""Which model answers for a population, and the one entry point for its payoff.

Four ways lead to a payoff; use them as follows:

- ``evaluate(act, sig, game)`` (here; also ``recigrad.evaluation.evaluate``):
  long-run payoffs and good probabilities of every agent from intended tables,
  the exact chain when ``N <= 12`` and mean field above (docs/model.md §3, §4),
  and says which.  Use it to judge tables (metrics, the command line).
- ``recigrad.dynamics.exact.solve`` / ``recigrad.dynamics.meanfield.solve``: the
  two solvers themselves, on observable tables; use them when the model is
  fixed by the question (tests of theory, the learner's differentiable model).
- ``recigrad.evaluation.candidates.payoff_of``: one learner's payoff for many
  candidate tables at once, the others fixed, batched and chunked by memory and
  on the lumped exact chain where opponents are equal; the best-response solver's
  workhorse, built on the same solvers.

``resolve_model`` is the one place that decides "exact when ``N <= 12``".
"""

from __future__ import annotations

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.dynamics.solution import Solution
from recigrad.game import ConfigError, Game, observable
from recigrad.util.threads import configured

MODELS = ("auto", "exact", "meanfield")


def resolve_model(model: str, n: int) -> str:
    """``auto`` is the exact chain when ``N <= 12`` and the mean-field model otherwise."""
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; allowed: {', '.join(MODELS)}")
    if model == "auto":
        return "exact" if n <= exact.MAX_N else "meanfield"
    return model


@configured()  # the library's thread count (recigrad.util.threads), as the command line's
def evaluate(act: torch.Tensor, sig: torch.Tensor, game: Game, model: str = "auto") -> tuple[Solution, str]:
    """Long-run payoffs with everyone's true tables, and the model that gave them.

    Args:
        act: intended action tables ``(B, N, 2, 2)``.
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        game: the game (errors are applied here, ``recigrad.game.observable``).
        model: ``auto`` (exact chain when ``N <= 12``, mean field above),
            ``exact`` or ``meanfield``.

    Returns:
        ``(solution, model)``: a ``Solution`` of ``(B, N)`` tensors (payoff per
        round, good probability, cooperation given and received), differentiable
        in the tables, and ``"exact"`` or ``"meanfield"``.

    Raises:
        ConfigError: an unknown model, or ``exact`` with ``N > 12``.
    """
    model = resolve_model(model, act.shape[1])
    solver = exact.solve if model == "exact" else meanfield.solve
    return solver(*observable(act, sig, game), game), model
