"""References and evaluation of a learner under private assessment (docs/model.md §6, "The learner
under private assessment"; §8's percent of reference, (28)).

Everything here reads the true tables: it runs after training, never inside it.

- ``solve``, ``payoff``: the solution, a learner's per-round payoff with everyone's true tables in the private model: the exact
  chain of private views for ``N <= 4`` (``recigrad.dynamics.private_exact``), the private mean field with
  pairs above (``recigrad.dynamics.private_meanfield``, ``N <= 8``).
- ``reference``: the best of a few candidate tables for the learner, scored by ``payoff``: the end points of
  a multi-start Adam ascent of its payoff in the private mean field with the others' true tables (from its
  norm's tables, from discriminating with "everyone bad" as observer, from defecting, and from random
  logits), each as found and rounded to a deterministic table, and the norm's own tables.  The ascent's
  model is the mean field even where ``payoff`` is exact, so the reference is a lower bound of the best
  response in the exact chain: a learner may exceed 100%.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.dynamics import private_exact, private_meanfield
from recigrad.game import DTYPE, Game, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.util import numerics

ASCENT_STEPS = 40
ASCENT_LR = 0.3
RANDOM_STARTS = 1


def model_name(n: int) -> str:
    """``exact`` for ``N <= 4``, ``meanfield`` (with pairs) above."""
    return "exact" if n <= private_exact.MAX_N else "meanfield"


def solve(act: torch.Tensor, sig: torch.Tensor, game: Game):
    """The private model's solution (``model_name``; payoffs, cooperation, views) with the true tables
    ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``, detached: an evaluation, no gradient."""
    pc, so = observable(act.detach().to(DTYPE), sig.detach().to(DTYPE), game)
    with torch.no_grad():
        if model_name(act.shape[1]) == "exact":
            return private_exact.solve(pc, so, game)
        return private_meanfield.solve(pc, so, game)


def payoff(act: torch.Tensor, sig: torch.Tensor, game: Game) -> torch.Tensor:
    """Every agent's per-round payoff ``(B, N)`` with the true tables ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``."""
    return solve(act, sig, game).payoff


@dataclass
class PrivateReference:
    """The reference of one learner: ``payoff`` (per round), its tables ``act (2, 2)``, ``sig (2, 2, 2)``,
    the ``model`` that scored it and every candidate's score (``candidates``, name to payoff)."""

    payoff: float
    act: torch.Tensor
    sig: torch.Tensor
    model: str
    candidates: dict


def _ascend(act: torch.Tensor, sig: torch.Tensor, learner: int, game: Game, start_act: torch.Tensor,
            start_sig: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on the learner's 12 logits, its payoff in the private mean field with the others' true tables."""
    za, zs = start_act.clone().requires_grad_(), start_sig.clone().requires_grad_()
    opt = torch.optim.Adam([za, zs], lr=ASCENT_LR)
    pc_all, so_all = observable(act, sig, game)
    best, best_tables = -float("inf"), (numerics.sigmoid(za.detach()), numerics.sigmoid(zs.detach()))
    for _ in range(ASCENT_STEPS):
        pc_own, so_own = observable(numerics.sigmoid(za), numerics.sigmoid(zs), game)
        mask = torch.zeros(act.shape[0], dtype=DTYPE)
        mask[learner] = 1.0
        pc = pc_all * (1 - mask.reshape(-1, 1, 1)) + pc_own * mask.reshape(-1, 1, 1)
        so = so_all * (1 - mask.reshape(-1, 1, 1, 1)) + so_own * mask.reshape(-1, 1, 1, 1)
        value = private_meanfield.solve(pc.unsqueeze(0), so.unsqueeze(0), game).payoff[0, learner]
        if value.item() > best:
            best, best_tables = value.item(), (numerics.sigmoid(za.detach()), numerics.sigmoid(zs.detach()))
        opt.zero_grad()
        (-value).backward()
        opt.step()
    return best_tables


def reference(act: torch.Tensor, sig: torch.Tensor, learner: int, norm: str, game: Game, seed: int = 0) -> PrivateReference:
    """The reference of ``learner`` against the others' true tables ``act (N, 2, 2)``, ``sig (N, 2, 2, 2)``
    (module docstring); ``norm`` is the learner's norm (a candidate and a start)."""
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    norm_act, norm_sig = action_table("learner", norm).to(DTYPE), signal_table(norm).to(DTYPE)
    disc = action_table("disc").to(DTYPE)
    starts = {"norm": (norm_act, norm_sig), "disc, everyone bad": (disc, torch.zeros(2, 2, 2, dtype=DTYPE)),
              "defect": (torch.zeros(2, 2, dtype=DTYPE), norm_sig)}
    gen = torch.Generator().manual_seed(seed)
    candidates = {"norm": (norm_act, norm_sig)}
    for name, (a, s) in starts.items():
        found = _ascend(act, sig, learner, game, 3.0 * (2 * a - 1), 3.0 * (2 * s - 1))
        candidates[f"ascent from {name}"] = found
        candidates[f"ascent from {name}, rounded"] = tuple((t > 0.5).to(DTYPE) for t in found)
    for k in range(RANDOM_STARTS):
        za = 2.0 * torch.randn(2, 2, generator=gen, dtype=DTYPE)
        zs = 2.0 * torch.randn(2, 2, 2, generator=gen, dtype=DTYPE)
        found = _ascend(act, sig, learner, game, za, zs)
        candidates[f"ascent from random {k}"] = found
        candidates[f"ascent from random {k}, rounded"] = tuple((t > 0.5).to(DTYPE) for t in found)
    names = list(candidates)
    all_act = act.unsqueeze(0).repeat(len(names), 1, 1, 1)
    all_sig = sig.unsqueeze(0).repeat(len(names), 1, 1, 1, 1)
    for k, name in enumerate(names):
        all_act[k, learner], all_sig[k, learner] = candidates[name]
    scores = payoff(all_act, all_sig, game)[:, learner]
    best = int(scores.argmax())
    return PrivateReference(float(scores[best]), all_act[best, learner], all_sig[best, learner], model_name(act.shape[0]),
                            {name: float(v) for name, v in zip(names, scores)})


def percent_of_reference(value: torch.Tensor, ref: float, c: float) -> torch.Tensor:
    """(28): ``100 (1 - (ref - value) / max(|ref|, c))``."""
    return 100.0 * (1.0 - (ref - value) / max(abs(ref), c))
