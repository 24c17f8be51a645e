"""Private views: the mean field (docs/model.md §3, "Private views: the mean field").

The state is, per subject ``j``, the second-moment matrix of the column of views of ``j``:

    Z[i, l, j] = P(M[i, j] = 1, M[l, j] = 1),   Z[i, i, j] = g[i, j] = P(M[i, j] = 1),

the pair probabilities ``g2`` of Radzvilavicius, Stewart & Plotkin (eLife 2019) kept per pair
of agents (every agent its own class), self-views on the diagonal of ``g``.  One interaction
(donor ``d``, recipient ``r``, observers ``d``, ``r`` and the others with probability ``q``)
rewrites column ``d``; the expected change of ``Z`` needs, for each observer ``o``, the joint
law of ``M[d, d], M[d, r]`` (the donor's action) and ``M[o, d], M[o, r]`` (its assessment), and
for two observers the joint law of two such quadruples.  Closures:

- views of different subjects are independent (columns ``d`` and ``r``, and the donor's two
  bits ``M[d, d]``, ``M[d, r]``);
- within a column, two observers' views are independent given the donor's view of the same
  subject: ``P(x, y1, y2) = P(x, y1) P(x, y2) / P(x)`` (exact when a view equals the donor's).

Gossip is linear in ``Z`` (a listener copies a speaker's bit) and is applied exactly, as the
expected ``E[L^K]`` of ``K = floor(gossip) + Bernoulli(frac(gossip))`` events, one
``N^2 x N^2`` matrix per subject.  ``pairs=False`` drops ``Z`` off the diagonal for
``g[i, j] g[l, j]`` (views independent given the subject: RSP's infinite-population closure).

The stationary state solves ``Z = Phi(Z)`` (one interaction, then gossip) by Newton's method
with a dense Jacobian (``torch.func.jacrev``), started from where rounds of the expected dynamics
lead from the initial views (Newton from the initial views can land on another fixed point), per population.  The
gradient is implicit: ``dZ/dtheta = (I - J)^{-1} dPhi/dtheta`` at the solution, applied as a
backward hook (``recigrad.dynamics.meanfield`` does the same).  ``solve_warm`` starts from a nearby
fixed point and its Jacobian instead (the learner's previous iteration): the chord method, else Newton's
method from there, else the cold path; one Jacobian at the root then serves the gradient and the next
start (docs/model.md §3, "Solve and gradient").  Cost per population: state
``N^3`` (``N^2`` with ``pairs=False``), ``O(N^4)`` per evaluation of ``Phi`` and a dense
Jacobian of ``N^6`` entries: meant for ``N <= MAX_N_PAIRS`` (``MAX_N`` without pairs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import torch

from recigrad.dynamics.private_exact import PrivateSolution, check_private
from recigrad.game import DTYPE, ConfigError, Game
from recigrad.util.threads import one_thread

MAX_N_PAIRS = 8
MAX_N = 32
TOLERANCE = 1e-13
BLOCK = 200  # rounds followed between tries of Newton's method
MAX_BLOCKS = 50
APPROACH = 1e-7  # rounds stop when they move the state less than this
NEWTON_STEPS = 12
CHORD_STEPS = 40  # the chord method's steps from a warm start before Newton's method takes over
CHORD_RATE = 0.5  # ... each at most this times the one before
_TINY = 1e-300


def _columns(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """From ``Z (N, N, N)``: ``g (N, N)``, the marginals ``m[i, j, x] = P(M[i, j] = x)`` and the
    conditionals ``c[i, l, j, x, y] = P(M[l, j] = y | M[i, j] = x)``."""
    n = z.shape[0]
    z = 0.5 * (z + z.transpose(0, 1))
    g = z.diagonal(dim1=0, dim2=1).T  # g[i, j] = Z[i, i, j]
    m = torch.stack([1.0 - g, g], -1)
    gi, gl = g[:, None, :], g[None, :, :]
    pair = torch.stack([torch.stack([1.0 - gi - gl + z, gl - z], -1), torch.stack([gi - z, z], -1)], -2)  # (i, l, j, x, y)
    same = torch.eye(n, dtype=z.dtype)[:, :, None, None, None] * torch.eye(2, dtype=z.dtype)  # i == l: y = x
    pair = torch.where(torch.eye(n, dtype=torch.bool)[:, :, None, None, None], same * m[:, None, :, :, None], pair)
    below = m[:, None, :, :, None]
    safe = torch.where(below > _TINY, below, torch.ones_like(below))
    marginal = m[None, :, :, None, :].expand_as(pair)
    cond = torch.where(below > _TINY, pair / safe, marginal)
    return g, m, cond


def _interaction(z: torch.Tensor, pc: torch.Tensor, so: torch.Tensor, q: float) -> torch.Tensor:
    """``E[Z]`` after one interaction (donor and recipient uniform), under the closures."""
    n = z.shape[0]
    g, m, cond = _columns(z)
    idx = torch.arange(n)
    cd = cond[idx, :, idx]  # (d, o, u, v): P(M[o, d] = v | M[d, d] = u)
    f = torch.einsum("douv,dorxy,oavy->droaux", cd, cond, so)  # P(o assesses good | a, u, x)
    p_a = torch.stack([1.0 - pc, pc], 1)  # (d, a, u, x)
    w = torch.einsum("du,drx,daux->draux", m[idx, idx], m, p_a)
    target = torch.einsum("draux,droaux->dro", w, f)
    both = torch.einsum("draux,droaux,drpaux->drop", w, f, f)
    keep = cd[..., 1]  # (d, o, u): P(M[o, d] = 1 | M[d, d] = u)
    one = torch.einsum("draux,droaux,dpu->drop", w, f, keep)  # o observes, p keeps its old view
    eye = torch.eye(n, dtype=z.dtype)
    watch = (q + (1.0 - q) * (eye[:, :, None] + eye[None, :, :])).clamp(max=1.0)  # (d, r, o)
    w1, w2 = watch[:, :, :, None], watch[:, :, None, :]
    old = z.permute(2, 0, 1)[:, None]  # (d, 1, o, p): Z[o, p, d]
    new = w1 * w2 * both + w1 * (1 - w2) * one + (1 - w1) * w2 * one.transpose(2, 3) + (1 - w1) * (1 - w2) * old
    new_g = watch * target + (1 - watch) * g.T[:, None, :]  # (d, r, o): new P(M[o, d] = 1)
    new = new * (1 - eye) + torch.diag_embed(new_g)
    off = (1.0 - eye)[:, :, None, None]
    change = ((new - old) * off).sum(1) / (n * (n - 1))  # (d, o, p)
    return z + change.permute(1, 2, 0)


@lru_cache(maxsize=16)
def _gossip_matrix(n: int, gossip: float, trust: float) -> torch.Tensor:
    """``E[L^K]`` per subject ``t``, ``(N, N^2, N^2)``, acting on ``vec(Z[:, :, t])``."""
    kappa = trust / (n * (n - 1) * (n - 1))
    eye = torch.eye(n * n, dtype=DTYPE)
    mats = []
    for t in range(n):
        basis = eye.reshape(n * n, n, n)  # a batch of Z[:, :, t]
        total = basis.sum(1)  # S[b, m] = sum_s Z[s, m]
        listen = torch.ones(n, dtype=DTYPE)
        listen[t] = 0.0  # a listener never hears about itself
        step = kappa * (listen[None, :, None] * (total[:, None, :] - n * basis)
                        + listen[None, None, :] * (total[:, :, None] - n * basis))
        trace = basis.diagonal(dim1=1, dim2=2).sum(1, keepdim=True)
        diag = kappa * listen[None, :] * (trace - n * basis.diagonal(dim1=1, dim2=2))  # Delta g[l] = kappa (sum_s g[s] - N g[l])
        step = step * (1 - torch.eye(n, dtype=DTYPE)) + torch.diag_embed(diag)
        one = eye + step.reshape(n * n, n * n)  # rows: basis vectors; (x L)
        whole = math.floor(gossip)
        fraction = gossip - whole
        power = torch.linalg.matrix_power(one, whole)
        if fraction > 0:
            power = power @ ((1 - fraction) * eye + fraction * one)
        mats.append(power)
    return torch.stack(mats)


def _gossip(z: torch.Tensor, game: Game) -> torch.Tensor:
    if game.gossip == 0:
        return z
    n = z.shape[0]
    mats = _gossip_matrix(n, float(game.gossip), float(game.gossip_trust))
    flat = z.permute(2, 0, 1).reshape(n, 1, n * n)
    return (flat @ mats).reshape(n, n, n).permute(1, 2, 0)


def _independent(g: torch.Tensor) -> torch.Tensor:
    """``Z`` from ``g`` with views of one subject independent: ``Z[i, l, j] = g[i, j] g[l, j]`` (``pairs=False``)."""
    eye = torch.eye(g.shape[0], dtype=g.dtype)[:, :, None]
    return g[:, None, :] * g[None, :, :] * (1 - eye) + torch.diag_embed(g.T).permute(1, 2, 0) * eye


def _interaction_independent(g: torch.Tensor, pc: torch.Tensor, so: torch.Tensor, q: float) -> torch.Tensor:
    """``E[g]`` after one interaction when views of one subject are independent, ``O(N^3)``."""
    n = g.shape[0]
    m = torch.stack([1.0 - g, g], -1)
    idx = torch.arange(n)
    f = torch.einsum("odv,ory,oavy->droa", m, m, so)  # o's assessment given the action
    p_c = torch.einsum("du,drx,dux->dr", m[idx, idx], m, pc)
    target = torch.einsum("dra,droa->dro", torch.stack([1.0 - p_c, p_c], -1), f)
    # the donor judges itself with the same two views it acted on
    p_a = torch.stack([1.0 - pc, pc], 1)  # (d, a, u, x)
    own = torch.einsum("du,drx,daux,daux->dr", m[idx, idx], m, p_a, so)
    eye = torch.eye(n, dtype=g.dtype)
    target = target * (1 - eye[:, None, :]) + own[:, :, None] * eye[:, None, :]
    watch = (q + (1.0 - q) * (eye[:, :, None] + eye[None, :, :])).clamp(max=1.0)
    change = (watch * (target - g.T[:, None, :]) * (1 - eye)[:, :, None]).sum(1) / (n * (n - 1))  # (d, o)
    return g + change.T


def _step(x: torch.Tensor, pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool) -> torch.Tensor:
    """``Phi``: one interaction and its gossip, in expectation; on ``Z (N, N, N)``, or on ``g (N, N)``
    without pairs (the gossip of first moments is exact and needs no pairs)."""
    if pairs:
        return _gossip(_interaction(x, pc, so, game.observation), game)
    g = _interaction_independent(x, pc, so, game.observation)
    if game.gossip == 0:
        return g
    return _gossip(_independent(g), game).diagonal(dim1=0, dim2=1).T


def _round(x: torch.Tensor, pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool) -> torch.Tensor:
    """About one round of the expected dynamics, to approach the fixed point fast: every column
    moves as if its agent were the donor (``N`` times one interaction's expected change), then
    ``N`` interactions' gossip.  Its fixed point is not ``Phi``'s; Newton's method finishes."""
    n = x.shape[0]
    plain = replace(game, gossip=0.0)
    moved = x + n * (_step(x, pc, so, plain, pairs) - x)
    if game.gossip == 0:
        return moved
    z = moved if pairs else _independent(moved)
    mats = torch.linalg.matrix_power(_gossip_matrix(n, float(game.gossip), float(game.gossip_trust)), n)
    z = (z.permute(2, 0, 1).reshape(n, 1, n * n) @ mats).reshape(n, n, n).permute(1, 2, 0)
    return z if pairs else z.diagonal(dim1=0, dim2=1).T


def _fixed_point(pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool,
                 start: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """``Z = Phi(Z)``.  From ``start = (Z0, J0)`` (a warm start: a nearby fixed point and the Jacobian of
    ``Phi`` there) by the chord method (``_chord``), else by Newton's method from ``Z0``; where neither
    converges, or without ``start``: from the initial views, Newton's method after rounds of the expected
    dynamics if needed.  Returns ``Z``, the Jacobian of ``Phi`` within ``TOLERANCE`` of ``Z`` (Newton's
    last) or ``None`` (the chord method's: to be computed at ``Z``), and whether the warm start was used."""
    n = pc.shape[0]
    shape = (n, n, n) if pairs else (n, n)
    eye = torch.eye(math.prod(shape), dtype=DTYPE)

    def phi(flat):
        return _step(flat.reshape(shape), pc, so, game, pairs).reshape(-1)

    if start is not None:
        flat = start[0].to(DTYPE).reshape(-1)
        root = _chord(phi, flat, start[1].to(DTYPE) - eye)
        if root is not None:
            return root.reshape(shape), None, True
        found = _newton(phi, flat, eye)
        if found is not None:
            return found[0].reshape(shape), found[1], True
    z = torch.full((n, n), game.initial_good, dtype=DTYPE)
    z = _independent(z) if pairs else z
    for _ in range(MAX_BLOCKS):
        for _ in range(BLOCK):  # follow the expected dynamics, N interactions per step ...
            moved = _round(z, pc, so, game, pairs)
            change = float((moved - z).abs().max())
            z = moved
            if change < APPROACH:
                break
        found = _newton(phi, z.reshape(-1), eye)  # ... until Newton's method converges from there
        if found is not None:
            return found[0].reshape(shape), found[1], False
    raise ConfigError("the mean field of private views did not converge (the expected dynamics from the initial "
                      "views, then Newton's method); use the exact chain for N <= 4")


def _chord(phi, flat: torch.Tensor, system: torch.Tensor) -> torch.Tensor | None:
    """The chord method for ``x = phi(x)`` from ``flat``: Newton's steps with the fixed matrix ``system``
    (``J0 - I``, ``J0`` the Jacobian of ``phi`` at a nearby point).  It converges linearly; ``None``
    unless every step is at most ``CHORD_RATE`` times the one before (so that the last one, below
    ``TOLERANCE``, bounds the distance to the root by ``TOLERANCE``) within ``CHORD_STEPS``."""
    try:
        lu, pivots = torch.linalg.lu_factor(system)
    except RuntimeError:  # a singular system: no chord
        return None
    previous = math.inf
    for _ in range(CHORD_STEPS):
        step = torch.linalg.lu_solve(lu, pivots, (flat - phi(flat)).unsqueeze(-1)).squeeze(-1)
        flat = flat + step
        size = float(step.abs().max())
        if not size <= CHORD_RATE * previous or float(flat.min()) < -1e-9 or float(flat.max()) > 1 + 1e-9:
            return None
        if size < TOLERANCE:
            return flat.clamp(0.0, 1.0)
        previous = size
    return None


def _newton(phi, flat: torch.Tensor, eye: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Newton's method for ``x = phi(x)`` from ``flat``: the root and the Jacobian of ``phi`` at the last
    iterate; ``None`` unless every step shrinks the residual and the last step is below ``TOLERANCE``."""
    residual = phi(flat) - flat
    for _ in range(NEWTON_STEPS):
        jac = torch.func.jacrev(phi)(flat)
        step = torch.linalg.solve(jac - eye, -residual)
        trial = flat + step
        if float(trial.min()) < -1e-9 or float(trial.max()) > 1 + 1e-9:
            return None
        if float(step.abs().max()) < TOLERANCE:
            return trial.clamp(0.0, 1.0), jac
        trial_residual = phi(trial) - trial
        if not float(trial_residual.norm()) < float(residual.norm()):
            return None
        flat, residual = trial, trial_residual
    return None


def _jacobian(z: torch.Tensor, pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool) -> torch.Tensor:
    """The Jacobian of ``Phi`` at ``z``, ``(S, S)`` on the flattened state."""
    return torch.func.jacrev(lambda flat: _step(flat.reshape(z.shape), pc, so, game, pairs).reshape(-1))(z.reshape(-1))


def _attach(z: torch.Tensor, pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool,
            jac: torch.Tensor | None = None) -> torch.Tensor:
    """``Phi(Z*)`` with ``Z*`` held constant and the implicit gradient as a backward hook; ``jac``: the
    Jacobian of ``Phi`` at ``Z*`` if known (Newton's last, ``_fixed_point``), else computed in the hook."""
    out = _step(z, pc, so, game, pairs)
    if out.requires_grad:
        tables = pc.detach(), so.detach()

        def hook(grad):
            with one_thread():
                known = jac if jac is not None else _jacobian(z, *tables, game, pairs)
                system = (torch.eye(known.shape[0], dtype=DTYPE) - known).T
                return torch.linalg.solve(system, grad.reshape(-1)).reshape(grad.shape)

        out.register_hook(hook)
    return out if pairs else _independent(out)


def _measures(z: torch.Tensor, pc: torch.Tensor) -> dict[str, torch.Tensor]:
    n = z.shape[0]
    g = z.diagonal(dim1=0, dim2=1).T
    eye = torch.eye(n, dtype=DTYPE)
    m = torch.stack([1.0 - g, g], -1)
    own = m[torch.arange(n), torch.arange(n)]  # (d, u)
    coop = torch.einsum("du,drx,dux->dr", own, m, pc) * (1 - eye)
    distinct = (1 - eye)[:, :, None] * (1 - eye)[:, None, :] * (1 - eye)[None, :, :]  # i, l, j distinct
    same = 1.0 - g[:, None, :] - g[None, :, :] + 2.0 * z
    agreement = (same * distinct).sum() / distinct.sum()
    good_views = (g * (1 - eye)).sum() / (n * (n - 1))
    return {"views": g, "coop": coop, "agreement": agreement, "good_views": good_views}


def solve(pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool = True) -> PrivateSolution:
    """The mean field of private views, batched, differentiable in ``pc`` and ``so``.

    Args:
        pc: observable action tables ``(B, N, 2, 2)`` (``recigrad.game.observable``).
        so: observable signal tables ``(B, N, 2, 2, 2)`` (perception and assessment errors folded in).
        game: a private game (uniform schedule): ``b``, ``c``, ``observation``, ``initial_good``,
            ``gossip``, ``gossip_trust``.
        pairs: keep the pair probabilities ``g2`` (``N <= 8``); ``False``: views of one subject
            independent across observers (``N <= 32``).

    Returns:
        A ``PrivateSolution`` (the same fields as ``recigrad.dynamics.private_exact.solve``).

    Raises:
        ConfigError: a public game, ``schedule = permutation``, ``N`` too large, or no convergence.
    """
    return _solve(pc, so, game, pairs, None, warm=False)[0]


@dataclass
class WarmStart:
    """Where ``solve_warm`` starts a batch of populations: ``states`` ``(B, N, N, N)`` (``(B, N, N)``
    without pairs), fixed points of nearby tables, and ``jacobians`` ``(B, S, S)`` (``S`` the size of a
    state), the Jacobians of ``Phi`` there; a population whose entries are not all finite starts cold."""

    states: torch.Tensor
    jacobians: torch.Tensor


def solve_warm(pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool = True,
               start: WarmStart | None = None) -> tuple[PrivateSolution, WarmStart]:
    """``solve`` warm-started, for a sequence of nearby tables (the learner's iterations; docs/model.md §6).

    Per population, from ``start`` (the previous call's fixed point and Jacobian): the chord method
    (Newton's steps with the previous Jacobian, no new one per step), else Newton's method from the
    previous fixed point, else, or where ``start`` is ``None``, from the initial views as in ``solve``.
    Then one Jacobian at the fixed point serves the implicit gradient and the next call's start.  Where
    the fixed point is the one ``solve`` reaches, the result is ``solve``'s within the solver's tolerance
    (``TOLERANCE``).  Populations never share a start: a batch gives each population's numbers alone.

    Returns:
        ``(solution, start)``: the ``PrivateSolution`` and the next call's ``WarmStart`` (detached).
    """
    return _solve(pc, so, game, pairs, start, warm=True)


def _solve(pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool, start: WarmStart | None,
           warm: bool) -> tuple[PrivateSolution, WarmStart | None]:
    """``solve`` (``warm = False``: no start, no Jacobian kept, ``None`` for the next start) and ``solve_warm``."""
    n = pc.shape[1]
    limit = MAX_N_PAIRS if pairs else MAX_N
    check_private(game, n, "the mean field of private views" + (" with pairs" if pairs else ""))
    if n > limit:
        hint = "; use pairs=False (up to N = 32)" if pairs else ""
        raise ConfigError(f"the mean field of private views{' with pairs' if pairs else ''} needs N <= {limit} "
                          f"(a dense Jacobian of N^6 entries), got N = {n}{hint}")
    shape = (n, n, n) if pairs else (n, n)
    size = math.prod(shape)
    if start is not None and (tuple(start.states.shape) != (pc.shape[0], *shape)
                              or tuple(start.jacobians.shape) != (pc.shape[0], size, size)):
        raise ValueError(f"start: expected states {(pc.shape[0], *shape)} and jacobians {(pc.shape[0], size, size)}, "
                         f"got {tuple(start.states.shape)} and {tuple(start.jacobians.shape)}")
    from recigrad.dynamics.private_exact import solution

    results, states, jacobians = [], [], []
    with one_thread():  # many small tensor operations: extra threads only contend
        for b in range(pc.shape[0]):
            first = None
            if start is not None and bool(torch.isfinite(start.states[b]).all() & torch.isfinite(start.jacobians[b]).all()):
                first = start.states[b].detach(), start.jacobians[b].detach()
            tables = pc[b].detach(), so[b].detach()
            z, jac, _ = _fixed_point(*tables, game, pairs, first)
            if warm:
                jac = jac if jac is not None else _jacobian(z, *tables, game, pairs)
                states.append(z)
                jacobians.append(jac)
            results.append(_measures(_attach(z, pc[b], so[b], game, pairs, jac if warm else None), pc[b]))
    return solution(results, game), WarmStart(torch.stack(states), torch.stack(jacobians)) if warm else None
