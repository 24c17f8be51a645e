"""The reputation-chain model (docs/model.md §3): mean field, batched, differentiable.

Reputations are treated as independent, ``g[j] = P(x_j = 1)``.  With ``s_d``
from ``recigrad.game.formation.good_probability`` (observers, aggregation and
observation probability averaged in) and ``m_d = mean_{r != d} g_r``,

    g_d = (1 - g_d) h0_d + g_d h1_d,   h_k = (1 - m_d) s_d[k, 0] + m_d s_d[k, 1],

so ``g_d = phi_d(m_d) = h0 / (1 + h0 - h1)``.  The fixed point ``g = phi(m(g))``
has a Jacobian ``u 1^T - diag(u)`` (``u_d = phi_d'(m_d) / (N - 1)``): diagonal
plus rank one, so each Newton step and the implicit gradient cost ``O(N)``
(Sherman-Morrison).  For second-order tables ``phi`` is affine and the first
Newton step is the direct solution of the linear system ``g = M g + v``, which
is exact for the chain (the expected next reputation of ``d`` is affine in the
others' marginals); for third-order tables it is an approximation.

When the recipient may not observe, the pool of observers depends on the
recipient, ``s_{d,r}`` (``pair_good_probability``), and ``h_k`` is affine in
``g`` with a dense matrix: Newton's steps and the implicit gradient then solve
dense ``N x N`` systems (``O(N^3)``, memory ``O(N^2)``).

The gradient is implicit: ``dg/dtheta = (I - J)^{-1} dphi/dtheta`` at the
solution, applied as a backward hook, so it flows through the whole chain
without unrolling.
"""

from __future__ import annotations

import torch

from recigrad.dynamics.solution import Solution
from recigrad.game import Game
from recigrad.game.formation import good_probability, pair_good_probability

TOLERANCE = 1e-14
MAX_STEPS = 100


def _phi(s: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``phi(m)`` and ``phi'(m)`` per agent."""
    ds0 = s[..., 0, 1] - s[..., 0, 0]
    ds1 = s[..., 1, 1] - s[..., 1, 0]
    h0 = s[..., 0, 0] + m * ds0
    h1 = s[..., 1, 0] + m * ds1
    denominator = 1.0 + h0 - h1
    phi = h0 / denominator
    slope = (ds0 * denominator - h0 * (ds0 - ds1)) / denominator**2
    return phi, slope


def _others_mean(g: torch.Tensor) -> torch.Tensor:
    n = g.shape[-1]
    return (g.sum(-1, keepdim=True) - g) / (n - 1)


def _solve_rank_one(u: torch.Tensor, y: torch.Tensor, transpose: bool) -> torch.Tensor:
    """Solve ``(I - J) z = y`` (or its transpose) for ``J = u 1^T - diag(u)``.

    ``I - J = D - u 1^T`` with ``D = diag(1 + u)``; its transpose is ``D - 1 u^T``.
    """
    d_inv = 1.0 / (1.0 + u)
    dy = d_inv * y
    if transpose:
        d1 = d_inv
        return dy + d1 * (u * dy).sum(-1, keepdim=True) / (1.0 - (u * d1).sum(-1, keepdim=True))
    du = d_inv * u
    return dy + du * dy.sum(-1, keepdim=True) / (1.0 - du.sum(-1, keepdim=True))


def _pair_phi(c: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``phi (B, N)`` and its Jacobian ``(B, N, N)`` in ``g`` when ``h_k = c_k + A_k g``
    (``c (B, 2, N)``, ``a (B, 2, N, N)``)."""
    h = c + torch.einsum("bkdr,br->bkd", a, g)
    h0, h1 = h[:, 0], h[:, 1]
    denominator = 1.0 + h0 - h1
    phi = h0 / denominator
    d0, d1 = (1.0 - h1) / denominator**2, h0 / denominator**2
    return phi, d0.unsqueeze(-1) * a[:, 0] + d1.unsqueeze(-1) * a[:, 1]


def _stationary_good_pairs(pc: torch.Tensor, so: torch.Tensor, game: Game) -> torch.Tensor:
    """``stationary_good`` when the pool of observers depends on the recipient: dense solves."""
    n = pc.shape[1]
    off = 1.0 - torch.eye(n, dtype=pc.dtype, device=pc.device)
    s = pair_good_probability(pc, so, game) * off[:, :, None, None]  # (B, d, r, x_d, x_r)
    c = s[..., 0].sum(2).permute(0, 2, 1) / (n - 1)  # (B, x_d, d): every recipient bad
    a = (s[..., 1] - s[..., 0]).permute(0, 3, 1, 2) / (n - 1)  # (B, x_d, d, r)
    eye = torch.eye(n, dtype=pc.dtype, device=pc.device)
    with torch.no_grad():
        cd, ad = c.detach(), a.detach()
        g = torch.ones(s.shape[:2], dtype=s.dtype, device=s.device)
        done = torch.zeros(s.shape[0], 1, dtype=torch.bool, device=s.device)
        for _ in range(MAX_STEPS):
            phi, jacobian = _pair_phi(cd, ad, g)
            step = torch.linalg.solve(eye - jacobian, (g - phi).unsqueeze(-1)).squeeze(-1)
            g = torch.where(done, g, (g - step).clamp(0.0, 1.0))
            done |= step.abs().amax(-1, keepdim=True) < TOLERANCE
            if done.all():
                break
        _, jacobian = _pair_phi(cd, ad, g)
        system = (eye - jacobian).transpose(-1, -2)
    phi, _ = _pair_phi(c, a, g)
    if phi.requires_grad:
        phi.register_hook(lambda grad: torch.linalg.solve(system, grad.unsqueeze(-1)).squeeze(-1))
    return phi


def stationary_good(pc: torch.Tensor, so: torch.Tensor, game: Game | None = None) -> torch.Tensor:
    """Stationary good probabilities ``g (B, N)`` of the mean-field chain,
    started (for Newton's method) from everyone good, as the world is.

    Args:
        pc: observable action tables ``(B, N, 2, 2)`` (``recigrad.game.observable``).
        so: observable signal tables ``(B, N, 2, 2, 2)``.
        game: how reputations form (default ``Game()``: one observer, always observed).

    Returns:
        ``g (B, N)``, differentiable in ``pc`` and ``so`` (implicit gradient).
    """
    game = game or Game()
    if not game.recipient_observes:
        return _stationary_good_pairs(pc, so, game)
    return stationary_good_of(good_probability(pc, so, game))


def stationary_good_of(s: torch.Tensor) -> torch.Tensor:
    """``stationary_good`` from the probabilities ``s (B, N, 2, 2)`` of a good reputation after an
    interaction (``recigrad.game.formation.good_probability``; a pool that does not depend on the
    recipient), differentiable in ``s`` (implicit gradient)."""
    n = s.shape[1]
    with torch.no_grad():
        sd = s.detach()
        g = torch.ones(s.shape[:2], dtype=s.dtype, device=s.device)
        # each population stops on its own, so its answer does not depend on the batch
        done = torch.zeros(s.shape[0], 1, dtype=torch.bool, device=s.device)
        for _ in range(MAX_STEPS):
            phi, slope = _phi(sd, _others_mean(g))
            residual = g - phi
            step = _solve_rank_one(slope / (n - 1), residual, transpose=False)
            g = torch.where(done, g, (g - step).clamp(0.0, 1.0))
            done |= step.abs().amax(-1, keepdim=True) < TOLERANCE
            if done.all():
                break
        _, slope = _phi(sd, _others_mean(g))
        u = slope / (n - 1)
    phi, _ = _phi(s, _others_mean(g))
    if phi.requires_grad:
        phi.register_hook(lambda grad: _solve_rank_one(u, grad, transpose=True))
    return phi


def solve(pc: torch.Tensor, so: torch.Tensor, game: Game) -> Solution:
    """Mean-field payoffs per round and good probabilities, ``O(N)`` per population,
    differentiable in the observable tables ``pc`` and ``so``.

    Exact for second-order tables, an approximation for third-order ones
    (docs/model.md §3); any ``N``.  The learner's model.  For judging tables,
    ``recigrad.evaluation.evaluate`` picks this or the exact chain by ``N``.

    Args:
        pc: observable action tables ``(B, N, 2, 2)``.
        so: observable signal tables ``(B, N, 2, 2, 2)``.
        game: benefit ``b`` and cost ``c`` of a realised C, and how reputations form.

    Returns:
        A ``Solution`` of ``(B, N)`` tensors: payoff per round, good probability,
        cooperation given and received.
    """
    game.require_public("the mean-field model of public reputations")
    n = pc.shape[1]
    g = stationary_good(pc, so, game)
    gd = g.unsqueeze(-1)
    # a[d, x_r]: P(d cooperates | recipient's reputation x_r), d's own reputation averaged
    a = (1 - gd) * pc[:, :, 0, :] + gd * pc[:, :, 1, :]
    m = _others_mean(g)
    given = (1 - m) * a[..., 0] + m * a[..., 1]
    total = a.sum(1, keepdim=True)
    received = ((1 - g) * (total[..., 0] - a[..., 0]) + g * (total[..., 1] - a[..., 1])) / (n - 1)
    return Solution(game.b * received - game.c * given, g, given, received)
