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

import numpy as np
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




def view_good_probability(slope: torch.Tensor, base: torch.Tensor, own: torch.Tensor, own_term: torch.Tensor,
                          pc_hat: torch.Tensor, learners: list[int], game: Game) -> torch.Tensor:
    """``s (B, L, N, 2, 2)`` of every learner's view from ``recigrad.learning.view.observer_sums``:
    ``s[l, d] = (pc_hat[d] slope_l + base_l - own_term[d]) / (N - 1)`` for ``d != i``, ``own_l`` for the
    learner ``i`` itself, then the unobserved interactions mixed in (``1 - q``)."""
    from recigrad.game.formation import _observed

    n = pc_hat.shape[1]
    s = (pc_hat.unsqueeze(1) * slope.unsqueeze(2) + (base.unsqueeze(2) - own_term.unsqueeze(1))) / (n - 1)
    mask = torch.zeros(len(learners), n, dtype=torch.bool, device=pc_hat.device)
    mask[torch.arange(len(learners)), torch.tensor(learners, dtype=torch.int64, device=pc_hat.device)] = True
    return _observed(torch.where(mask[None, :, :, None, None], own.unsqueeze(2), s), game)


def own_payoffs(slope: torch.Tensor, base: torch.Tensor, own: torch.Tensor, own_term: torch.Tensor,
                pc_hat: torch.Tensor, pc_own: torch.Tensor, learners: list[int], game: Game) -> torch.Tensor:
    """``J (B, L)``: learner ``l``'s payoff per round in its own view (docs/model.md §6, "Societies at
    scale"), from the views' parts ``slope, base, own (B, L, 2, 2)`` and ``own_term (B, N, 2, 2)``
    (``recigrad.learning.view.observer_sums``; ``view_good_probability`` builds the views' ``s`` from
    them), the estimated action tables ``pc_hat (B, N, 2, 2)`` and the learners' own ``pc_own (B, L, 2, 2)``.

    The same numbers as ``solve`` of each view (``payoff[:, l, learners[l]]``) up to rounding (the
    sums over agents are taken in another order), without building the views: view ``l``'s cooperation
    toward learner ``i`` is ``sum_{d != i} a_d`` with the estimates, and ``i``'s own row is ``pc_own[l]``.
    Each view is solved as ``stationary_good_of`` does (Newton's method from everyone good, steps by
    Sherman-Morrison, the same stopping rule, ``phi`` at the last iterate), and the gradient is the same
    implicit one, written out: with ``lambda = (I - J)^{-T} dJ/dg``, ``dJ/ds[d, 0, x_r] = lambda_d
    (1 - h1_d) / den_d^2 w(x_r)`` and ``dJ/ds[d, 1, x_r] = lambda_d h0_d / den_d^2 w(x_r)`` (``w = (1 - m_d,
    m_d)``), summed over ``d`` into the parts.  On the CPU a compiled loop per view (numba), ``O(N)`` per
    Newton step with ``O(N)`` scratch; elsewhere the same in tensor operations with ``(B, L, N)`` temporaries.
    Differentiable in ``slope``, ``base``, ``own`` and ``pc_own``.
    """
    game.require_public("the mean-field model of public reputations")
    if slope.device.type == "cpu" and _compiled() is not None:
        index = torch.tensor(learners, dtype=torch.int64, device=slope.device)
        return _OwnPayoffs.apply(slope, base, own, pc_own, own_term.detach(), pc_hat.detach(), index, float(game.observation),
                                 float(game.b), float(game.c))
    s = view_good_probability(slope, base, own, own_term, pc_hat, learners, game)
    return _own_payoffs_tensors(s, pc_hat, pc_own, learners, game)


def _own_payoffs_tensors(s: torch.Tensor, pc_hat: torch.Tensor, pc_own: torch.Tensor, learners: list[int],
                         game: Game) -> torch.Tensor:
    """``own_payoffs`` from the views' ``s (B, L, N, 2, 2)`` in tensor operations (any device)."""
    batch, n_learners, n = s.shape[:3]
    index = torch.tensor(learners, dtype=torch.int64, device=s.device)
    pc_hat = pc_hat.detach()
    g = stationary_good_of(s.flatten(0, 1)).reshape(batch, n_learners, n)
    rows = torch.arange(n_learners, device=s.device)
    g_own = g[:, rows, index]  # (B, L)
    m_own = (g.sum(-1) - g_own) / (n - 1)
    gd = g.unsqueeze(-1)
    a_hat = (1 - gd) * pc_hat[:, None, :, 0, :] + gd * pc_hat[:, None, :, 1, :]  # (B, L, N, x_r)
    others = a_hat.sum(2) - a_hat[:, rows, index]  # (B, L, x_r): sum over d != i
    go = g_own.unsqueeze(-1)
    a_own = (1 - go) * pc_own[:, :, 0, :] + go * pc_own[:, :, 1, :]  # (B, L, x_r)
    given = (1 - m_own) * a_own[..., 0] + m_own * a_own[..., 1]
    received = ((1 - g_own) * others[..., 0] + g_own * others[..., 1]) / (n - 1)
    return game.b * received - game.c * given


def _fill_view(r, p, i, slope, base, own, own_term, pc_hat, q, s):
    """View ``r``'s ``s (N, 2, 2)`` from its parts (``view_good_probability``, in a loop)."""
    n1 = s.shape[0] - 1.0
    for d in range(s.shape[0]):
        for x in range(2):
            for y in range(2):
                if d == i:
                    value = own[r, x, y]
                else:
                    value = (pc_hat[p, d, x, y] * slope[r, x, y] + (base[r, x, y] - own_term[p, d, x, y])) / n1
                s[d, x, y] = value if q == 1.0 else q * value + (1.0 - q) * x


def _terms(s, d, m, n1):
    """Agent ``d``'s ``h0, h1`` of (6) at the others' mean ``m``, ``den = 1 + h0 - h1`` and ``u``, its
    entry of the rank-one part of ``J`` (12) (``dphi_d / dg_o`` for ``o != d``), in the compiled loops."""
    ds0 = s[d, 0, 1] - s[d, 0, 0]
    ds1 = s[d, 1, 1] - s[d, 1, 0]
    h0 = s[d, 0, 0] + m * ds0
    h1 = s[d, 1, 0] + m * ds1
    den = 1.0 + h0 - h1
    return h0, h1, den, (ds0 * den - h0 * (ds0 - ds1)) / den**2 / n1


def _views_forward(slope, base, own, own_term, pc_hat, pc_own, index, q, tolerance, max_steps, b, c, g_last, g_out,
                   payoff):
    """Per view ``r = (population, learner)`` with parts ``slope, base, own (R, 2, 2)`` (``own_payoffs``):
    Newton's method of ``stationary_good_of`` (last iterate into ``g_last``, ``phi`` of it into ``g_out``)
    and the learner's payoff into ``payoff (R,)``; ``own_term, pc_hat (B, N, 2, 2)``, ``pc_own (R, 2, 2)``,
    ``index (L,)``."""
    views, n = slope.shape[0], pc_hat.shape[1]
    n_learners = index.shape[0]
    n1 = n - 1.0
    dy = np.empty(n)
    du = np.empty(n)
    s = np.empty((n, 2, 2))
    for r in range(views):
        p = r // n_learners
        i = index[r % n_learners]
        _fill_view(r, p, i, slope, base, own, own_term, pc_hat, q, s)
        g = g_last[r]
        for d in range(n):
            g[d] = 1.0
        for _ in range(max_steps):
            total = 0.0
            for d in range(n):
                total += g[d]
            sum_dy = 0.0
            sum_du = 0.0
            for d in range(n):
                h0, _, den, u = _terms(s, d, (total - g[d]) / n1, n1)
                phi = h0 / den
                d_inv = 1.0 / (1.0 + u)
                dy[d] = d_inv * (g[d] - phi)
                du[d] = d_inv * u
                sum_dy += dy[d]
                sum_du += du[d]
            factor = sum_dy / (1.0 - sum_du)
            largest = 0.0
            for d in range(n):
                step = dy[d] + du[d] * factor
                largest = max(largest, abs(step))
                g[d] = min(max(g[d] - step, 0.0), 1.0)
            if largest < tolerance:
                break
        total = 0.0
        for d in range(n):
            total += g[d]
        out = g_out[r]
        for d in range(n):
            h0, _, den, _ = _terms(s, d, (total - g[d]) / n1, n1)
            out[d] = h0 / den
        total = 0.0
        others0 = 0.0
        others1 = 0.0
        for d in range(n):
            total += out[d]
            if d != i:
                others0 += (1.0 - out[d]) * pc_hat[p, d, 0, 0] + out[d] * pc_hat[p, d, 1, 0]
                others1 += (1.0 - out[d]) * pc_hat[p, d, 0, 1] + out[d] * pc_hat[p, d, 1, 1]
        gi = out[i]
        m_own = (total - gi) / n1
        own0 = (1.0 - gi) * pc_own[r, 0, 0] + gi * pc_own[r, 1, 0]
        own1 = (1.0 - gi) * pc_own[r, 0, 1] + gi * pc_own[r, 1, 1]
        given = (1.0 - m_own) * own0 + m_own * own1
        received = ((1.0 - gi) * others0 + gi * others1) / n1
        payoff[r] = b * received - c * given


def _views_backward(slope, base, own, own_term, pc_hat, pc_own, index, q, b, c, g_last, g_out, grad, grad_parts, grad_own):
    """The implicit gradient of ``_views_forward``'s payoffs, ``grad (R,)`` given: ``dJ/d(slope, base, own)``
    into ``grad_parts (3, R, 2, 2)`` and ``dJ/dpc_own`` into ``grad_own (R, 2, 2)``."""
    views, n = slope.shape[0], pc_hat.shape[1]
    n_learners = index.shape[0]
    n1 = n - 1.0
    y = np.empty(n)
    d_inv = np.empty(n)
    s = np.empty((n, 2, 2))
    grad_s = np.empty((n, 2, 2))
    for r in range(views):
        p = r // n_learners
        i = index[r % n_learners]
        _fill_view(r, p, i, slope, base, own, own_term, pc_hat, q, s)
        out = g_out[r]
        gi = out[i]
        total = 0.0
        others0 = 0.0
        others1 = 0.0
        for d in range(n):
            total += out[d]
            if d != i:
                others0 += (1.0 - out[d]) * pc_hat[p, d, 0, 0] + out[d] * pc_hat[p, d, 1, 0]
                others1 += (1.0 - out[d]) * pc_hat[p, d, 0, 1] + out[d] * pc_hat[p, d, 1, 1]
        m_own = (total - gi) / n1
        own0 = (1.0 - gi) * pc_own[r, 0, 0] + gi * pc_own[r, 1, 0]
        own1 = (1.0 - gi) * pc_own[r, 0, 1] + gi * pc_own[r, 1, 1]
        gj = grad[r]
        # dJ/dpc_own: given = (1 - m) own0 + m own1 with own_x = (1 - g_i) pc[0, x] + g_i pc[1, x]
        grad_own[r, 0, 0] = -c * gj * (1.0 - m_own) * (1.0 - gi)
        grad_own[r, 1, 0] = -c * gj * (1.0 - m_own) * gi
        grad_own[r, 0, 1] = -c * gj * m_own * (1.0 - gi)
        grad_own[r, 1, 1] = -c * gj * m_own * gi
        # dJ/dg: through m_own and the others' cooperation (d != i), through a_i and received (d = i)
        through_m = -c * (own1 - own0) / n1
        for d in range(n):
            if d == i:
                continue
            rise0 = pc_hat[p, d, 1, 0] - pc_hat[p, d, 0, 0]
            rise1 = pc_hat[p, d, 1, 1] - pc_hat[p, d, 0, 1]
            y[d] = gj * (through_m + b * ((1.0 - gi) * rise0 + gi * rise1) / n1)
        y[i] = gj * (-c * ((1.0 - m_own) * (pc_own[r, 1, 0] - pc_own[r, 0, 0]) + m_own * (pc_own[r, 1, 1] - pc_own[r, 0, 1]))
                     + b * (others1 - others0) / n1)
        # lambda = (I - J)^{-T} y, J = u 1^T - diag(u) at the last iterate
        g = g_last[r]
        total = 0.0
        for d in range(n):
            total += g[d]
        sum_udy = 0.0
        sum_ud = 0.0
        for d in range(n):
            _, _, _, u = _terms(s, d, (total - g[d]) / n1, n1)
            d_inv[d] = 1.0 / (1.0 + u)
            y[d] = d_inv[d] * y[d]
            sum_udy += u * y[d]
            sum_ud += u * d_inv[d]
        factor = sum_udy / (1.0 - sum_ud)
        for d in range(n):
            lam = y[d] + d_inv[d] * factor
            m = (total - g[d]) / n1
            h0, h1, den, _ = _terms(s, d, m, n1)
            den2 = den**2
            w0 = lam * (1.0 - h1) / den2
            w1 = lam * h0 / den2
            grad_s[d, 0, 0] = w0 * (1.0 - m)
            grad_s[d, 0, 1] = w0 * m
            grad_s[d, 1, 0] = w1 * (1.0 - m)
            grad_s[d, 1, 1] = w1 * m
        # through the parts: s[d] = q (pc_hat[d] slope + base - own_term[d]) / (N - 1) (+ const), s[i] = q own
        for x in range(2):
            for z in range(2):
                to_slope = 0.0
                to_base = 0.0
                for d in range(n):
                    if d != i:
                        to_slope += grad_s[d, x, z] * pc_hat[p, d, x, z]
                        to_base += grad_s[d, x, z]
                grad_parts[0, r, x, z] = q * to_slope / n1
                grad_parts[1, r, x, z] = q * to_base / n1
                grad_parts[2, r, x, z] = q * grad_s[i, x, z]


_KERNELS: list = []


def _compiled():
    """``(forward, backward)`` compiled with numba (cached on disk), or ``None`` without numba."""
    if not _KERNELS:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a dependency
            _KERNELS.append(None)
        else:
            jit = numba.njit(cache=True, nogil=True)
            globals()["_fill_view"] = jit(_fill_view)  # the kernels call the compiled ones
            globals()["_terms"] = jit(_terms)
            _KERNELS.append((jit(_views_forward), jit(_views_backward)))
    return _KERNELS[0]



class _OwnPayoffs(torch.autograd.Function):
    """``own_payoffs`` on the CPU: the compiled loops, the implicit gradient in ``backward``."""

    @staticmethod
    def forward(ctx, slope, base, own, pc_own, own_term, pc_hat, index, q, b, c):
        batch, n_learners = slope.shape[:2]
        views, n = batch * n_learners, pc_hat.shape[1]
        forward, _ = _compiled()
        parts = [t.detach().reshape(views, 2, 2).contiguous().numpy() for t in (slope, base, own, pc_own)]
        shared = [t.contiguous().numpy() for t in (own_term, pc_hat)]
        g_last, g_out, payoff = np.empty((views, n)), np.empty((views, n)), np.empty(views)
        forward(*parts[:3], *shared, parts[3], index.numpy(), q, TOLERANCE, MAX_STEPS, b, c, g_last, g_out, payoff)
        ctx.saved = (parts, shared, index.numpy(), q, b, c, g_last, g_out)
        ctx.shape = slope.shape
        return torch.from_numpy(payoff).reshape(batch, n_learners)

    @staticmethod
    def backward(ctx, grad):
        parts, shared, index, q, b, c, g_last, g_out = ctx.saved
        _, backward = _compiled()
        grad_parts = np.empty((3, *parts[0].shape))
        grad_own = np.empty_like(parts[3])
        backward(*parts[:3], *shared, parts[3], index, q, b, c, g_last, g_out,
                 grad.detach().reshape(-1).contiguous().numpy(), grad_parts, grad_own)
        grads = [torch.from_numpy(t).reshape(ctx.shape) for t in (*grad_parts, grad_own)]
        return (*grads, None, None, None, None, None, None)
