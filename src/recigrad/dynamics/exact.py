"""The exact chain (docs/model.md §4): the public game as a Markov chain on the
``2^N`` reputation states, for ``N <= 12``.

Every interaction picks a donor ``d`` (probability ``1/N``) and makes ``x_d``
good with probability

    q_d(x) = mean_{r != d} s_d[x_d, x_r],

where ``s_d`` is ``recigrad.game.formation.good_probability`` (the observers,
their aggregation and the observation probability are already averaged in;
``s_{d,r}`` from ``pair_good_probability`` when the recipient may not observe,
so that the pool depends on ``r``).  Only ``x_d`` changes, so a state has at
most ``N + 1`` successors.  The stationary
distribution solves ``pi Q = 0``, ``sum(pi) = 1`` with a dense solve, through
which torch differentiates.
"""

from __future__ import annotations

import torch

from recigrad.dynamics.solution import Solution
from recigrad.game import DTYPE, ConfigError, Game
from recigrad.game.formation import good_probability, pair_good_probability
from recigrad.util.threads import one_thread

MAX_N = 12


def state_bits(n: int, device=None) -> torch.Tensor:
    """``X[s, j]``: reputation of agent ``j`` (bit ``j`` of ``s``) in state ``s``, ``(2^N, N)`` (on ``device``)."""
    s = torch.arange(2**n, device=device).unsqueeze(1)
    return ((s >> torch.arange(n, device=device)) & 1).to(DTYPE)


def _check_size(n: int) -> None:
    if n > MAX_N:
        raise ConfigError(f"the exact chain needs N <= {MAX_N} (2^N states), got N = {n}; use the mean-field model")


def _turn_good(pc: torch.Tensor, so: torch.Tensor, game: Game, bits: torch.Tensor) -> torch.Tensor:
    """``q (B, S, N)``: probability that donor ``d`` is good after its interaction in state ``s``."""
    n = pc.shape[1]
    own = bits.unsqueeze(0)
    if game.recipient_observes:
        s = good_probability(pc, so, game)  # (B, N, x_d, x_r)
        m = ((bits.sum(1, keepdim=True) - bits) / (n - 1)).unsqueeze(0)  # m[s, d]: good fraction of the others
        bad_donor = (1 - m) * s[:, None, :, 0, 0] + m * s[:, None, :, 0, 1]
        good_donor = (1 - m) * s[:, None, :, 1, 0] + m * s[:, None, :, 1, 1]
    else:  # the pool depends on the recipient: sum over recipients r != d
        off = 1.0 - torch.eye(n, dtype=pc.dtype, device=pc.device)
        s = pair_good_probability(pc, so, game) * off[:, :, None, None]  # (B, d, r, x_d, x_r)
        bad_donor = (s[..., 0, 0].sum(-1).unsqueeze(1) + torch.einsum("sr,bdr->bsd", bits, s[..., 0, 1] - s[..., 0, 0])) / (n - 1)
        good_donor = (s[..., 1, 0].sum(-1).unsqueeze(1) + torch.einsum("sr,bdr->bsd", bits, s[..., 1, 1] - s[..., 1, 0])) / (n - 1)
    return (1 - own) * bad_donor + own * good_donor


def generator_matrix(pc: torch.Tensor, so: torch.Tensor, game: Game | None = None) -> torch.Tensor:
    """``Q = P - I`` of the chain, ``(B, S, S)``, rows the current state; ``game`` says how
    reputations form (default ``Game()``: one observer, always observed)."""
    batch, n = pc.shape[:2]
    _check_size(n)
    size = 2**n
    bits = state_bits(n, pc.device)  # (S, N)
    q = _turn_good(pc, so, game or Game(), bits)  # (B, S, N): P(x_d <- good)

    state = torch.arange(size, device=pc.device).unsqueeze(1)
    flag = 1 << torch.arange(n, device=pc.device)
    set_good = (state | flag).expand(size, n).reshape(-1)
    set_bad = (state & ~flag).expand(size, n).reshape(-1)
    rows = state.expand(size, n).reshape(-1)
    rows2 = torch.cat([rows, rows])
    cols2 = torch.cat([set_good, set_bad])
    values = torch.cat([q.reshape(batch, -1), (1 - q).reshape(batch, -1)], dim=1) / n
    flat = rows2 * size + cols2
    transition = torch.zeros(batch, size * size, dtype=values.dtype, device=values.device).index_add(1, flat, values)
    transition = transition.reshape(batch, size, size)
    return transition - torch.eye(size, dtype=values.dtype, device=values.device)


class _Solve(torch.autograd.Function):
    """``x = A^{-1} b`` whose forward and backward both solve on one thread."""

    @staticmethod
    def forward(ctx, a, b):
        with one_thread():
            lu, pivots, info = torch.linalg.lu_factor_ex(a)
            if (info != 0).any():
                raise ConfigError(
                    "the exact chain has no unique stationary distribution (several reputation states are absorbing, "
                    "as with e = mu = 0); use e > 0 or mu > 0"
                )
            x = torch.linalg.lu_solve(lu, pivots, b)
        ctx.save_for_backward(lu, pivots, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        lu, pivots, x = ctx.saved_tensors
        with one_thread():
            adjoint = torch.linalg.lu_solve(lu, pivots, grad, adjoint=True)
        return -adjoint @ x.transpose(-1, -2), adjoint


def stationary_law(generator: torch.Tensor) -> torch.Tensor:
    """Stationary law of continuous- or discrete-time generators, one dense solve.

    The one stationary solve of the project: the full chain (``stationary``) and
    the lumped chain (``recigrad.evaluation.lumped``) both use it.  One balance
    equation of ``pi Q = 0`` is replaced by ``sum(pi) = 1``; the solve runs on one
    thread, forward and backward, and torch differentiates through it.

    Args:
        generator: ``Q (B, S, S)``, rows the current state (``P - I`` for a
            transition matrix ``P``, or any rate matrix with rows summing to 0).

    Returns:
        ``pi (B, S)``, each row summing to 1.

    Raises:
        ConfigError: the chain has no unique stationary law (e.g. ``e = mu = 0``).
    """
    size = generator.shape[-1]
    a = generator.transpose(1, 2).clone()
    a[:, -1, :] = 1.0  # replace one balance equation by sum(pi) = 1
    rhs = torch.zeros(generator.shape[0], size, 1, dtype=generator.dtype, device=generator.device)
    rhs[:, -1] = 1.0
    pi = _Solve.apply(a, rhs).squeeze(-1)
    if not torch.isfinite(pi).all():
        raise ConfigError("the exact chain has no unique stationary distribution (with zero errors a state can be absorbing)")
    return pi


def stationary(pc: torch.Tensor, so: torch.Tensor, game: Game | None = None) -> torch.Tensor:
    """Stationary distribution over the ``2^N`` reputation states (docs/model.md §4).

    Args:
        pc: observable action tables ``(B, N, 2, 2)`` (``recigrad.game.observable``).
        so: observable signal tables ``(B, N, 2, 2, 2)``.
        game: how reputations form (default ``Game()``).

    Returns:
        ``pi (B, 2^N)``; state ``s`` has agent ``j`` good iff bit ``j`` of ``s`` is set
        (``state_bits``).  Differentiable in ``pc`` and ``so``.
    """
    return stationary_law(generator_matrix(pc, so, game))


def solve(pc: torch.Tensor, so: torch.Tensor, game: Game) -> Solution:
    """Exact long-run payoffs per round and good probabilities, differentiable in
    the observable tables ``pc (B, N, 2, 2)`` and ``so (B, N, 2, 2, 2)``.

    The ground truth for ``N <= 12`` (``2^N`` states, dense).  For judging tables,
    ``recigrad.evaluation.evaluate`` picks this or the mean-field model by ``N``; for
    many candidate tables of one learner, ``recigrad.evaluation.candidates.payoff_of``.

    Args:
        pc: observable action tables ``(B, N, 2, 2)``.
        so: observable signal tables ``(B, N, 2, 2, 2)``.
        game: benefit ``b`` and cost ``c`` of a realised C, and how reputations form.

    Returns:
        A ``Solution`` of ``(B, N)`` tensors: payoff per round, good probability,
        cooperation given and received.

    Raises:
        ConfigError: ``N > 12``, no unique stationary law, or private assessment.
    """
    game.require_public("the exact chain of public reputations")
    n = pc.shape[1]
    pi = stationary(pc, so, game)
    bits = state_bits(n, pi.device)
    good = pi @ bits  # (B, N)
    both = torch.einsum("bs,sd,sr->bdr", pi, bits, bits)  # P(x_d = 1, x_r = 1)
    g_d, g_r = good.unsqueeze(2), good.unsqueeze(1)
    joint = torch.stack(
        [torch.stack([1 - g_d - g_r + both, g_r - both], -1), torch.stack([g_d - both, both], -1)], -2
    )  # (B, d, r, x_d, x_r)
    coop = (joint * pc.unsqueeze(2)).sum((-1, -2))  # coop[b, d, r]
    off = 1.0 - torch.eye(n, dtype=coop.dtype, device=coop.device)
    given = (coop * off).sum(2) / (n - 1)
    received = (coop * off).sum(1) / (n - 1)
    return Solution(game.b * received - game.c * given, good, given, received)
