"""Evaluating many candidate tables of one learner at once, the others' tables fixed.

Payoffs come from the exact chain (lumped when opponents share tables,
``recigrad.evaluation.lumped``) or the mean-field model, batched over populations
and candidates, in chunks of about ``MEMORY`` bytes.  ``payoff_of`` is the entry
point; the best-response solver uses the pieces (``evaluators``,
``evaluate_candidates``) to keep one evaluator per class of populations.  To
judge one set of tables, use ``recigrad.evaluation.evaluate`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.evaluation.lumped import Groups, equal_groups, lumped_payoff, lumped_states
from recigrad.evaluation.models import resolve_model
from recigrad.game import DTYPE, ConfigError, Game, observable
from recigrad.util.threads import one_thread

MEMORY = 2**30  # bytes per evaluation chunk, roughly
MEANFIELD_MEMORY = 2**27  # the mean field's chunks: smaller ones stay nearer the cache (1.7x faster at N = 32 than 2**30)


@dataclass(frozen=True)
class Evaluator:
    """How one class of populations is evaluated: the model, and for the exact
    chain the grouping of equal others (``None``: the full ``2^N`` chain)."""

    model: str
    groups: Groups | None

    def states(self, n: int) -> int:
        if self.model == "meanfield":
            return 0
        return 2**n if self.groups is None else lumped_states(self.groups)

    def chunk(self, n: int, game: Game | None = None) -> int:
        """Candidates per evaluation so that a chunk stays near ``MEMORY`` bytes
        (the exact chain holds a few dense ``S x S`` matrices per candidate; with
        ``game``, the laws of the good count of several observers are counted too)."""
        extra = self.formation_bytes(n, game) if game is not None else 0
        if self.model == "meanfield":
            return max(1, MEANFIELD_MEMORY // (8 * 12 * 32 * n + extra))
        return max(1, MEMORY // (8 * 8 * self.states(n) ** 2 + extra))

    def formation_bytes(self, n: int, game: Game) -> int:
        """Bytes per candidate of the observers' count laws (``recigrad.game.formation``): a few
        ``(8 contexts, donors[, recipients], k + 1, k + 1)`` tensors, per pair of agents when the
        recipient is out of the pool (not for the lumped chain, which takes one pair per pair of
        blocks), and the mean field's dense ``N x N`` systems then."""
        if game.plain_formation:
            return 0
        lumped = self.model == "exact" and self.groups is not None
        pairs = n if game.recipient_observes or lumped else n * n
        dense = 8 * 8 * n * n if self.model == "meanfield" and not game.recipient_observes else 0
        return 8 * 8 * pairs * (game.observers + 1) ** 2 * 4 + dense

    def __call__(self, act, sig, learner, own_act, own_sig, game) -> torch.Tensor:
        """Learner payoff ``(M,)`` for aligned rows: population tables ``(M, N, ...)``
        with the learner's replaced by ``own_act (M, 2, 2)``, ``own_sig (M, 2, 2, 2)``."""
        if self.model == "exact" and self.groups is not None:
            act, sig = _insert(act, learner, own_act), _insert(sig, learner, own_sig)
            return lumped_payoff(act, sig, learner, self.groups, game)
        solve = exact.solve if self.model == "exact" else meanfield.solve
        # errors apply entry by entry: the learner's observable row goes into the others' (the same
        # numbers; the graph of a gradient then holds the learner's row only)
        pc, so = observable(act, sig, game)
        own_pc, own_so = observable(own_act, own_sig, game)
        return solve(_insert(pc, learner, own_pc), _insert(so, learner, own_so), game).payoff[:, learner]


    def prepared(self, act, sig, learner, game):
        """``payoff(rows, own_act, own_sig) -> (M,)``: as ``__call__`` on populations ``act[rows]``,
        ``sig[rows]``, with the work that does not depend on the learner's tables done once here.

        For the mean field of the plain game (``Game.plain_formation``) that is the others' observable
        tables and their share of every donor's good probability (``_MeanfieldOthers``): a candidate
        then costs ``O(N)`` small operations, not the ``(M, N, 2, 2, 2)`` tables of the full solve
        (the same numbers up to rounding)."""
        if self.model == "meanfield" and game.plain_formation:
            return _MeanfieldOthers(act, sig, learner, game)
        return lambda rows, own_act, own_sig: self(act[rows], sig[rows], learner, own_act, own_sig, game)


class _MeanfieldOthers:
    """The learner's mean-field payoff (plain game) against fixed others, their part computed once.

    With one observer drawn from everyone but the donor, donor ``d``'s good probability is
    ``s_d = pc_d sbar_d[C] + (1 - pc_d) sbar_d[D]`` with ``sbar_d`` the mean of the others' ``so``
    (``recigrad.game.good_signal_probability``): for ``d`` not the learner it is the others' part
    (``base``) plus the learner's ``so`` weighted by ``pc_d / (N - 1)``; the learner's own uses the
    others' sum only.  Only the learner's payoff is formed (``recigrad.dynamics.meanfield.solve``).
    """

    def __init__(self, act, sig, learner, game):
        pc, so = observable(act, sig, game)
        n = act.shape[1]
        others = torch.ones(n, dtype=torch.bool)
        others[learner] = False
        self.n, self.learner, self.game, self.others = n, learner, game, others
        self.total = so[:, others].sum(dim=1)  # (B, a, x_d, x_r): the others' signal tables summed
        sbar = (self.total.unsqueeze(1) - so) / (n - 1)  # without the learner's: added per candidate
        self.pc = pc
        self.base = pc * sbar[:, :, 1] + (1.0 - pc) * sbar[:, :, 0]

    def __call__(self, rows, own_act, own_sig) -> torch.Tensor:
        n, learner = self.n, self.learner
        own_pc, own_so = observable(own_act, own_sig, self.game)
        pc = self.pc[rows]
        spread = own_so.unsqueeze(1) / (n - 1)  # (M, 1, a, x_d, x_r)
        s_others = self.base[rows] + pc * spread[:, :, 1] + (1.0 - pc) * spread[:, :, 0]
        sbar_own = self.total[rows] / (n - 1)
        s_own = own_pc * sbar_own[:, 1] + (1.0 - own_pc) * sbar_own[:, 0]
        g = meanfield.stationary_good_of(_insert(s_others, learner, s_own))
        pc = _insert(pc, learner, own_pc)
        gd = g.unsqueeze(-1)
        a = (1 - gd) * pc[:, :, 0, :] + gd * pc[:, :, 1, :]  # (M, N, x_r)
        g_own, a_own = g[:, learner], a[:, learner]
        m_own = (g.sum(-1) - g_own) / (n - 1)
        given = (1 - m_own) * a_own[:, 0] + m_own * a_own[:, 1]
        rest = a[:, self.others].sum(1)
        received = ((1 - g_own) * rest[:, 0] + g_own * rest[:, 1]) / (n - 1)
        return self.game.b * received - self.game.c * given


def _insert(tables: torch.Tensor, learner: int, own: torch.Tensor) -> torch.Tensor:
    """Population tables ``(M, N, ...)`` with agent ``learner``'s replaced by ``own (M, ...)``."""
    return torch.cat([tables[:, :learner], own.unsqueeze(1), tables[:, learner + 1 :]], dim=1)


def evaluators(act, sig, learner, model) -> dict[Evaluator, list[int]]:
    """Populations split by how they are evaluated (lumping needs equal groupings)."""
    n = act.shape[1]
    if model == "meanfield":
        return {Evaluator("meanfield", None): list(range(act.shape[0]))}
    classes: dict[Evaluator, list[int]] = {}
    for b in range(act.shape[0]):
        groups = equal_groups(act[b], sig[b], learner)
        states = lumped_states(groups)
        if states >= 2**n:
            groups = None
            if n > exact.MAX_N:
                raise ConfigError(f"the exact chain needs N <= {exact.MAX_N} (2^N states), got N = {n} "
                                  "with no two equal opponents; use the mean-field model")
        elif states > 2**exact.MAX_N:
            raise ConfigError(f"the exact chain for N = {n} needs {states} lumped states "
                              f"(at most {2**exact.MAX_N}); use the mean-field model")
        classes.setdefault(Evaluator("exact", groups), []).append(b)
    return classes


def evaluate_candidates(evaluator, act, sig, learner, cand_act, cand_sig, game) -> torch.Tensor:
    """``(B, K)`` payoffs of candidates ``(B, K, ...)`` for one class, chunked."""
    batch, n = act.shape[:2]
    k = cand_act.shape[1]
    population = torch.arange(batch).repeat_interleave(k)
    flat_act, flat_sig = cand_act.reshape(batch * k, 2, 2), cand_sig.reshape(batch * k, 2, 2, 2)
    size = evaluator.chunk(n, game)
    payoff = evaluator.prepared(act, sig, learner, game)
    parts = [payoff(population[i : i + size], flat_act[i : i + size], flat_sig[i : i + size])
             for i in range(0, batch * k, size)]
    return torch.cat(parts).reshape(batch, k)


@one_thread()
def payoff_of(act, sig, learner: int, cand_act, cand_sig, game: Game, model: str = "auto") -> torch.Tensor:
    """Learner ``learner``'s per-round payoff when its tables are replaced by each
    candidate, the others' tables fixed.

    ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``; candidates ``cand_act (B, K, 2, 2)``,
    ``cand_sig (B, K, 2, 2, 2)`` (intended tables).  Returns ``(B, K)``,
    differentiable in the candidates.

    Use it for many candidates of one learner (the best-response solver); for
    everyone's payoff under one set of tables use ``recigrad.evaluation.evaluate``.
    Both rest on ``recigrad.dynamics.exact`` and ``recigrad.dynamics.meanfield``.

    Args:
        act: intended action tables ``(B, N, 2, 2)`` (the learner's row is ignored).
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        learner: index of the agent whose tables vary, in ``[0, N)``.
        cand_act: candidate action tables ``(B, K, 2, 2)``.
        cand_sig: candidate signal tables ``(B, K, 2, 2, 2)``.
        game: the game.
        model: ``auto`` (exact chain when ``N <= 12``, mean field above), ``exact`` or ``meanfield``.

    Returns:
        ``(B, K)`` payoffs per round, differentiable in the candidates.

    Raises:
        ConfigError: a bad learner index or model, or a chain too large for the exact model.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    cand_act, cand_sig = cand_act.to(DTYPE), cand_sig.to(DTYPE)
    batch, n = act.shape[:2]
    if not 0 <= learner < n:
        raise ConfigError(f"learner must be an agent index in [0, {n}), got {learner}")
    order, parts = [], []
    for evaluator, rows in evaluators(act, sig, learner, resolve_model(model, n)).items():
        parts.append(evaluate_candidates(evaluator, act[rows], sig[rows], learner, cand_act[rows], cand_sig[rows], game))
        order += rows
    return torch.cat(parts)[torch.tensor(order).argsort()]
