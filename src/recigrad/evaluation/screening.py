"""NashConv for large societies: every learner's best payoff in the mean field, candidates
screened by a second-order model of the others (docs/model.md §8, "NashConv screened").

In the mean field of the plain game (``Game.plain_formation``) a learner ``L`` touches the
others only through its signal table: donor ``d``'s good probability is
``s_d = s0_d + eps_d`` with ``eps_d[c] = (delta[0, c] + pc_d[c] (delta[1, c] - delta[0, c])) / (N - 1)``
(``delta = so_L' - so_L``, the change of the learner's observable signal table, ``c`` the
context ``(x_d, x_r)``), and given the total ``S = sum_j g_j`` each other agent's good
probability is the root in ``[0, 1]`` of its own quadratic, ``g_d = G_d(S / (N - 1), eps_d)``.
The learner's payoff needs only ``R = sum_{d != L} g_d`` and ``A_x = sum_{d != L} a_d[x]``
(affine in the ``g_d``), and its own ``g_L`` (a function of ``R`` and its action table).

``OthersModel`` expands every ``G_d`` to second order around the population as it is
(everyone's current tables): ``dmu = (S - S0) / (N - 1)`` and ``eps_d`` are both ``O(1/N)``,
so the remainder is ``O(N^-3)`` per agent and ``O(N^-3)`` in the payoff.  The sums over
agents are formed once per population (``O(N)``); one learner's model subtracts its own
term; a candidate then costs ``O(1)``: three quadratic forms in nine numbers and a scalar
Newton iteration for ``S``.

``ExactOthers`` gives the exact mean-field payoff of a candidate by Newton's method on the
scalar equation for ``S`` (``O(N)`` per step, no linear system).  ``screened_best`` uses the
model to *screen* the deterministic tables and to run the ascent; the payoffs it reports are
always exact mean-field payoffs of actual tables, of every candidate whose model value, widened
by an error model fitted on the exactly evaluated ones, could beat the best exact value; where
the model's ascent ends at a stochastic table that could matter, the full solve answers.
"""

from __future__ import annotations

import torch

from recigrad.dynamics import meanfield
from recigrad.evaluation.parameters import adam_ascent, deterministic, expand
from recigrad.game import DTYPE, Game, good_signal_probability, observable

NEWTON_STEPS = 30  # scalar Newton steps for S at most (each candidate stops when its step is below 1e-15)
NEAR = 0.05  # a stochastic answer of the model this near a vertex with an outward exact gradient is that vertex
VERIFY = 8  # candidates evaluated exactly first (the model's best)
SAFETY = 8.0  # the fitted error model is widened this much
FLOOR = 1e-11  # and by this much (rounding of the exact and model payoffs)
EXACT_CHUNK = 256  # candidates per exact evaluation (each holds (N, 2, 2) tables)
SETTLE = 1e-2  # an ascent's start this near a vertex, every gradient outward, stops
CHUNK = 2**18  # (problem, candidate) pairs per model evaluation


def _response_batch(z: torch.Tensor, s: torch.Tensor, k: float) -> torch.Tensor:
    """``G(mu, eps)`` per row: an agent's stationary good probability when the others' good
    probabilities sum to ``S = mu (N - 1) + g`` (``g`` its own), its good probability table
    ``s (M, 2, 2)`` shifted by ``eps``; ``z (M, 5) = (mu, eps[0, 0], eps[0, 1], eps[1, 0], eps[1, 1])``,
    ``k = 1 / (N - 1)``.

    ``g = (1 - g) h0 + g h1`` with ``h_x = s[x, 0] + m (s[x, 1] - s[x, 0])`` and
    ``m = mu - k g`` (the others' mean without ``g``, docs/model.md §3 (6), (7)) is the
    quadratic ``a g^2 - beta g + c0 = 0``; its root in ``[0, 1]`` is ``2 c0 / (beta + sqrt(beta^2 - 4 a c0))``.
    """
    t = s + z[:, 1:].reshape(-1, 2, 2)
    mu = z[:, 0]
    b0, b1 = t[:, 0, 1] - t[:, 0, 0], t[:, 1, 1] - t[:, 1, 0]
    c0, c1 = t[:, 0, 0] + mu * b0, t[:, 1, 0] + mu * b1
    a = k * (b0 - b1)
    beta = 1.0 + c0 - c1 + k * b0
    return 2.0 * c0 / (beta + torch.sqrt(beta * beta - 4.0 * a * c0))


class OthersModel:
    """The second-order model of every agent's response, summed over each population.

    ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``: the populations as they are.  For model
    ``k`` (``0``: ``g``; ``1, 2``: ``g (pc[1, x] - pc[0, x])`` for ``x = 0, 1``, the parts of
    ``a_d[x]``) and the variables ``w = (dmu, v)``, ``v = (delta[0].flatten(),
    (delta[1] - delta[0]).flatten())`` (nine numbers), ``value``, ``gradient`` and ``hessian``
    per agent and their sums over each population.
    """

    def __init__(self, act: torch.Tensor, sig: torch.Tensor, game: Game):
        act, sig = act.to(DTYPE), sig.to(DTYPE)
        pc, so = observable(act, sig, game)
        batch, n = act.shape[:2]
        k = 1.0 / (n - 1)
        s = good_signal_probability(pc, so)  # (B, N, 2, 2)
        with torch.no_grad():
            g = meanfield.stationary_good_of(s)
        self.n, self.game, self.pc, self.so = n, game, pc, so
        self.g0 = g
        self.mu0 = g.sum(1) * k  # (B,)
        z = torch.cat([self.mu0[:, None, None].expand(batch, n, 1), torch.zeros(batch, n, 4, dtype=DTYPE)], -1)
        flat_z, flat_s = z.reshape(-1, 5), s.reshape(-1, 2, 2)

        # every agent's response is independent of the others' variables, so the derivatives of the
        # sum over agents are each agent's own (autograd, twice)
        with torch.enable_grad():
            flat_z = flat_z.clone().requires_grad_(True)
            flat_value = _response_batch(flat_z, flat_s, k)
            (flat_gradient,) = torch.autograd.grad(flat_value.sum(), flat_z, create_graph=True)
            rows = [torch.autograd.grad(flat_gradient[:, i].sum(), flat_z, retain_graph=i < 4)[0] for i in range(5)]
        value = flat_value.detach().reshape(batch, n)
        gradient = flat_gradient.detach().reshape(batch, n, 5)
        hessian = torch.stack(rows, 1).reshape(batch, n, 5, 5)
        self.residual = (value - g).abs().max()  # the closed form against Newton's solution (rounding)
        # eps = Q v: row 0 dmu, rows 1..4 (v[c] + pc[c] v[4 + c]) / (N - 1)
        q = torch.zeros(batch, n, 5, 9, dtype=DTYPE)
        q[:, :, 0, 0] = 1.0
        flat_pc = pc.reshape(batch, n, 4)
        for c in range(4):
            q[:, :, 1 + c, 1 + c] = k
            q[:, :, 1 + c, 5 + c] = k * flat_pc[:, :, c]
        grad_w = torch.einsum("bnz,bnzw->bnw", gradient, q)
        hess_w = torch.einsum("bnzy,bnzw,bnyv->bnwv", hessian, q, q)
        weights = torch.stack([torch.ones(batch, n, dtype=DTYPE), pc[:, :, 1, 0] - pc[:, :, 0, 0],
                               pc[:, :, 1, 1] - pc[:, :, 0, 1]], -1)  # (B, N, 3)
        self.value = weights * value.unsqueeze(-1)  # (B, N, 3)
        self.gradient = weights.unsqueeze(-1) * grad_w.unsqueeze(2)  # (B, N, 3, 9)
        self.hessian = weights[..., None, None] * hess_w.unsqueeze(2)  # (B, N, 3, 9, 9)
        self.sums = (self.value.sum(1), self.gradient.sum(1), self.hessian.sum(1))

    def problems(self, population: torch.Tensor, learner: torch.Tensor) -> Problems:
        """The models of learner ``learner[p]`` of population ``population[p]``: the sums without it."""
        value, gradient, hessian = self.sums
        rows = (population, learner)
        return Problems(
            value=value[population] - self.value[rows], gradient=gradient[population] - self.gradient[rows],
            hessian=hessian[population] - self.hessian[rows], mu0=self.mu0[population], so=self.so[rows],
            base=(self.pc[population, :, 0].sum(1) - self.pc[rows][:, 0]),  # (P, x): sum_{d != L} pc_d[0, x]
            sbar=(self.so[population].sum(1) - self.so[rows]) / (self.n - 1), n=self.n, game=self.game)


class Problems:
    """One learner's model per problem ``p`` (see ``OthersModel``): the others' sums of
    value ``(P, 3)``, gradient ``(P, 3, 9)`` and Hessian ``(P, 3, 9, 9)``, and what the learner
    needs of its own: its current observable signal table, the others' mean signal table."""

    def __init__(self, value, gradient, hessian, mu0, so, base, sbar, n, game):
        self.value, self.gradient, self.hessian, self.mu0 = value, gradient, hessian, mu0
        self.so, self.base, self.sbar, self.n, self.game = so, base, sbar, n, game

    def coefficients(self, rows: torch.Tensor, own_so: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each model as a quadratic in ``dmu``, ``q0 + q1 dmu + q2 dmu^2 / 2``, for problems ``rows (M,)``
        and the learner's observable signal tables ``own_so (M, 2, 2, 2)``: three ``(M, 3)``; and ``v``."""
        gathered = self.gathered(rows)
        return gathered(own_so)

    def gathered(self, rows: torch.Tensor):
        """``coefficients`` with the problems ``rows`` fixed (gathered once, for the ascent's steps)."""
        value, so, gradient, hessian = self.value[rows], self.so[rows], self.gradient[rows], self.hessian[rows]
        linear, mixed, square, curvature = gradient[..., 1:], hessian[..., 0, 1:], hessian[..., 1:, 1:], hessian[..., 0, 0]

        def coefficients(own_so):
            delta = own_so - so
            v = torch.cat([delta[:, 0].reshape(-1, 4), (delta[:, 1] - delta[:, 0]).reshape(-1, 4)], -1)  # (M, 8)
            q0 = value + (linear * v.unsqueeze(1)).sum(-1) + 0.5 * ((square @ v[:, None, :, None]).squeeze(-1)
                                                                   * v.unsqueeze(1)).sum(-1)
            q1 = gradient[..., 0] + (mixed * v.unsqueeze(1)).sum(-1)
            return q0, q1, curvature, v

        return coefficients

    def blocked(self, k: int):
        """``gathered`` for every problem ``k`` times in a row (``rows = arange(P).repeat_interleave(k)``,
        the ascent's starts): the quadratic forms as batched matrix products per problem."""
        count = self.value.shape[0]
        linear = self.gradient[..., 1:].transpose(1, 2)  # (P, 8, 3)
        mixed = self.hessian[..., 0, 1:].transpose(1, 2)  # (P, 8, 3)
        square = self.hessian[..., 1:, 1:].permute(0, 2, 1, 3).reshape(count, 8, 24)  # (P, i, (model, j))
        value, so = self.value.unsqueeze(1), self.so.unsqueeze(1)
        slope, curvature = self.gradient[:, None, :, 0], self.hessian[..., 0, 0]

        def coefficients(own_so):
            delta = own_so.reshape(count, k, 2, 2, 2) - so
            v = torch.cat([delta[:, :, 0].flatten(2), (delta[:, :, 1] - delta[:, :, 0]).flatten(2)], -1)  # (P, k, 8)
            q0 = value + v @ linear + 0.5 * ((v @ square).reshape(count, k, 3, 8) * v.unsqueeze(2)).sum(-1)
            q1 = slope + v @ mixed
            return (q0.reshape(-1, 3), q1.reshape(-1, 3), curvature.repeat_interleave(k, 0), v.reshape(-1, 8))

        return coefficients

    def payoff(self, rows: torch.Tensor, own_act: torch.Tensor, own_sig: torch.Tensor, gathered=None, start=None):
        """The model's payoff of the learner ``(M,)`` with intended tables ``own_act (M, 2, 2)``,
        ``own_sig (M, 2, 2, 2)`` in problems ``rows``, differentiable in the tables, and ``dmu (M,)``
        (``gathered``: ``self.gathered(rows)``, when the rows repeat; ``start``: as for ``solve``)."""
        own_pc, own_so = observable(own_act, own_sig, self.game)
        q0, q1, q2, _ = (gathered or self.gathered(rows))(own_so)
        return self.solve(rows, q0, q1, q2, own_pc, start)

    def grid(self, rows: torch.Tensor, own_so: torch.Tensor):
        """``coefficients`` for every problem of ``rows (p,)`` and every observable signal table of
        ``own_so (C, 2, 2, 2)``: ``q0, q1, q2 (p, C, 3)`` and the size ``|v|_1 / (N - 1)`` ``(p, C)``."""
        delta = own_so.unsqueeze(0) - self.so[rows].unsqueeze(1)  # (p, C, a, x_d, x_r)
        v = torch.cat([delta[:, :, 0].flatten(2), (delta[:, :, 1] - delta[:, :, 0]).flatten(2)], -1)  # (p, C, 8)
        gradient, hessian = self.gradient[rows], self.hessian[rows]
        q0 = self.value[rows].unsqueeze(1) + torch.einsum("pki,pci->pck", gradient[..., 1:], v) \
            + 0.5 * torch.einsum("pkij,pci,pcj->pck", hessian[..., 1:, 1:], v, v)
        q1 = gradient[..., 0].unsqueeze(1) + torch.einsum("pki,pci->pck", hessian[..., 0, 1:], v)
        q2 = hessian[..., 0, 0].unsqueeze(1).expand_as(q1)
        return q0, q1, q2, v.abs().sum(-1) / (self.n - 1)

    def solve(self, rows, q0, q1, q2, own_pc, start=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The learner's payoff ``(M,)`` and ``dmu (M,)`` from the models' coefficients ``(M, 3)``
        and its observable action tables ``own_pc (M, 2, 2)``: ``S`` by a scalar Newton iteration
        without a graph, then one step with it (zero in value at the solution) for the implicit
        gradient; ``start``: where Newton starts (default ``dmu = 0``, the population as it is)."""
        n, k = self.n, 1.0 / (self.n - 1)
        sbar = self.sbar[rows]
        s_own = own_pc * sbar[:, 1] + (1.0 - own_pc) * sbar[:, 0]  # (M, 2, 2)
        mu0 = self.mu0[rows]

        def residual(dmu, q0r, q1r, q2r, s):
            r = q0r + q1r * dmu + 0.5 * q2r * dmu * dmu
            dr = q1r + q2r * dmu
            g, slope = _phi(s, r * k)
            return (n - 1) * (mu0 + dmu) - r - g, (n - 1) - dr * (1.0 + slope * k)

        with torch.no_grad():
            dmu = torch.zeros(len(rows), dtype=DTYPE) if start is None else start.clone()
            done = torch.zeros(len(rows), dtype=torch.bool)
            args = (q0[:, 0].detach(), q1[:, 0].detach(), q2[:, 0].detach(), s_own.detach())
            for _ in range(NEWTON_STEPS):
                f, df = residual(dmu, *args)
                step = torch.where(done, 0.0, f / df)
                dmu = dmu - step
                done |= step.abs() < 1e-15
                if done.all():
                    break
            _, df = residual(dmu, *args)
        f, _ = residual(dmu, q0[:, 0], q1[:, 0], q2[:, 0], s_own)
        dmu = dmu - f / df
        quadratic = q0 + q1 * dmu.unsqueeze(1) + 0.5 * q2 * (dmu * dmu).unsqueeze(1)  # (M, 3)
        m_own = quadratic[:, 0] * k
        g_own, _ = _phi(s_own, m_own)
        rest = self.base[rows] + quadratic[:, 1:]  # (M, x): sum_{d != L} a_d[x]
        a_own = (1 - g_own).unsqueeze(1) * own_pc[:, 0] + g_own.unsqueeze(1) * own_pc[:, 1]
        given = (1 - m_own) * a_own[:, 0] + m_own * a_own[:, 1]
        received = ((1 - g_own) * rest[:, 0] + g_own * rest[:, 1]) * k
        return self.game.b * received - self.game.c * given, dmu.detach()


class ExactOthers:
    """The learner's exact mean-field payoff (plain game) by one scalar equation for ``S``.

    Given ``S``, every other agent's good probability is the root of its own quadratic
    (``_response_batch``), so the ``N``-agent fixed point (docs/model.md §3 (7)) is the root of
    ``E(S) = S - g_L(R(S)) - R(S)``, ``R = sum_{d != L} g_d``: Newton's method on ``S`` from the
    population as it is, ``O(N)`` per step with no linear system.  The same fixed point as
    ``recigrad.dynamics.meanfield.solve`` (tested to ``1e-12``)."""

    def __init__(self, model: OthersModel, problems: Problems, population: torch.Tensor, learner: torch.Tensor):
        self.model, self.problems, self.population, self.learner = model, problems, population, learner
        pc, so = model.pc, model.so
        self.s0 = good_signal_probability(pc, so)  # (B, N, 2, 2)

    @torch.no_grad()
    def __call__(self, rows: torch.Tensor, own_act: torch.Tensor, own_sig: torch.Tensor) -> torch.Tensor:
        parts = [self._payoff(rows[i : i + EXACT_CHUNK], own_act[i : i + EXACT_CHUNK], own_sig[i : i + EXACT_CHUNK])
                 for i in range(0, len(rows), EXACT_CHUNK)]
        return torch.cat(parts) if parts else torch.empty(0, dtype=DTYPE)

    def _payoff(self, rows, own_act, own_sig) -> torch.Tensor:
        model, problems = self.model, self.problems
        n, k, game = model.n, 1.0 / (model.n - 1), model.game
        b = self.population[rows]
        own_pc, own_so = observable(own_act, own_sig, game)
        delta = own_so - problems.so[rows]  # (M, a, x_d, x_r)
        pc = model.pc[b]  # (M, N, 2, 2)
        t = self.s0[b] + k * (delta[:, None, 0] + pc * (delta[:, None, 1] - delta[:, None, 0]))  # (M, N, 2, 2)
        others = torch.ones(len(rows), n, dtype=torch.bool)
        others[torch.arange(len(rows)), self.learner[rows]] = False
        b0, b1 = t[..., 0, 1] - t[..., 0, 0], t[..., 1, 1] - t[..., 1, 0]
        a = k * (b0 - b1)
        sbar = problems.sbar[rows]
        s_own = own_pc * sbar[:, 1] + (1.0 - own_pc) * sbar[:, 0]

        def responses(mu):
            c0, c1 = t[..., 0, 0] + mu[:, None] * b0, t[..., 1, 0] + mu[:, None] * b1
            beta = 1.0 + c0 - c1 + k * b0
            g = 2.0 * c0 / (beta + torch.sqrt(beta * beta - 4.0 * a * c0))
            slope = (b0 - (b0 - b1) * g) / (beta - 2.0 * a * g)  # dg/dmu, from the quadratic
            return torch.where(others, g, 0.0), torch.where(others, slope, 0.0)

        mu = problems.mu0[rows].clone()
        done = torch.zeros(len(rows), dtype=torch.bool)
        for _ in range(NEWTON_STEPS):
            g, slope = responses(mu)
            r, dr = g.sum(1), slope.sum(1)
            g_own, phi_slope = _phi(s_own, r * k)
            step = ((n - 1) * mu - r - g_own) / ((n - 1) - dr * (1.0 + phi_slope * k))
            step = torch.where(done, 0.0, step)
            mu = mu - step
            done |= step.abs() < 1e-15
            if done.all():
                break
        g, _ = responses(mu)
        r = g.sum(1)
        m_own = r * k
        g_own, _ = _phi(s_own, m_own)
        rest = (torch.where(others[..., None], pc[:, :, 0], 0.0).sum(1)
                + (g[..., None] * (pc[:, :, 1] - pc[:, :, 0])).sum(1))  # (M, x): sum_{d != L} a_d[x]
        a_own = (1 - g_own).unsqueeze(1) * own_pc[:, 0] + g_own.unsqueeze(1) * own_pc[:, 1]
        given = (1 - m_own) * a_own[:, 0] + m_own * a_own[:, 1]
        received = ((1 - g_own) * rest[:, 0] + g_own * rest[:, 1]) * k
        return game.b * received - game.c * given


def _phi(s: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``phi(m) = h0 / (1 + h0 - h1)`` and ``phi'(m)`` for good probability tables ``s (M, 2, 2)``
    (docs/model.md §3 (7), (12))."""
    ds0, ds1 = s[:, 0, 1] - s[:, 0, 0], s[:, 1, 1] - s[:, 1, 0]
    h0, h1 = s[:, 0, 0] + m * ds0, s[:, 1, 0] + m * ds1
    denominator = 1.0 + h0 - h1
    return h0 / denominator, (ds0 * denominator - h0 * (ds0 - ds1)) / denominator**2


def applies(game: Game, model: str, order) -> bool:
    """Whether ``screened_best`` answers: the mean field of the plain game, third- or second-order tables."""
    return model == "meanfield" and game.plain_formation and not game.private and order in (2, 3)


def _model_payoffs(problems: Problems, cand_act, cand_sig) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's payoffs and sizes ``(P, K)`` of candidates ``(K, ...)`` shared by every problem:
    the coefficients once per distinct signal table, the scalar solve per candidate, chunked."""
    count, k = problems.value.shape[0], cand_act.shape[0]
    signals, which = torch.unique(cand_sig.reshape(k, 8), dim=0, return_inverse=True)
    own_pc, own_so = observable(cand_act, signals.reshape(-1, 2, 2, 2), problems.game)
    per = max(1, CHUNK // k)
    values, sizes = [], []
    with torch.no_grad():
        for i in range(0, count, per):
            block = torch.arange(i, min(count, i + per))
            q0, q1, q2, size_v = problems.grid(block, own_so)
            q0, q1, q2, size_v = q0[:, which], q1[:, which], q2[:, which], size_v[:, which]  # (p, K, ...)
            rows = block.repeat_interleave(k)
            payoff, dmu = problems.solve(rows, q0.reshape(-1, 3), q1.reshape(-1, 3), q2.reshape(-1, 3),
                                         own_pc.repeat(len(block), 1, 1))
            values.append(payoff.reshape(len(block), k))
            sizes.append(dmu.abs().reshape(len(block), k) + size_v)
    return torch.cat(values), torch.cat(sizes)


def _exact(prepared, rows, cand_act, cand_sig) -> torch.Tensor:
    with torch.no_grad():
        return prepared(rows, cand_act, cand_sig)


def screened_best(act, sig, population, learner, random_logits, game: Game, order, steps: int, lr: float, top: int,
                  constants, full=None, outward=None) -> tuple[torch.Tensor, dict]:
    """Best payoff ``(P,)`` of learner ``learner[p]`` of population ``population[p]`` against the others'
    fixed tables (populations ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``), and counts of the work;
    ``random_logits (P, starts, E)`` start the ascent, ``constants`` are ``best_response``'s
    ``(PATIENCE, STALL, BETAS, DECAY, ROUND, IMPROVE)``; ``full(rows) -> (M,)`` the full solve's payoff of
    problems ``rows`` (``best_response``'s, every candidate exact, the ascent on the exact payoff); ``outward(rows, entries (M, E))
    -> (M,)`` whether the exact payoff's gradient at those tables points outward on every entry.

    1. The model's payoffs of every deterministic table; the ``VERIFY`` best are evaluated exactly.
    2. The error model: ``|exact - model| <= kappa size^3`` with ``kappa`` the largest ratio seen on the
       exactly evaluated ones (third order: the model's remainder), widened by ``SAFETY`` and ``FLOOR``;
       every table whose model payoff plus that margin reaches the best exact payoff is evaluated
       exactly, and the fit and the best are updated until no table is left to evaluate.
    3. The ascent (Adam on logits, as ``best_response``) runs on the model, from the ``top`` best
       tables by the model and the random starts; its best tables, entries within ``ROUND`` of 0 or 1
       rounded, are evaluated exactly and replace the deterministic best when better by more than ``IMPROVE``;
       where they are stochastic and their model payoff, widened by the error model, beats the deterministic
       best by more than ``IMPROVE`` (an interior optimum may be there, which only the exact payoff locates),
       ``full`` answers the problem, unless they are within ``NEAR`` of a vertex where the exact payoff's
       gradient points outward on every entry (``outward``).
    """
    patience, stall, betas, decay, round_, improve = constants
    count = len(population)
    model = OthersModel(act, sig, game)
    problems = model.problems(population, learner)
    prepared = ExactOthers(model, problems, population, learner)
    candidates = deterministic(order)
    cand_act, cand_sig = expand(candidates, order)
    cand_act, cand_sig = cand_act.contiguous(), cand_sig.contiguous()
    estimate, size = _model_payoffs(problems, cand_act, cand_sig)  # (P, K)
    k = estimate.shape[1]
    exact = torch.full_like(estimate, torch.nan)
    chosen = torch.zeros_like(estimate, dtype=torch.bool)
    chosen.scatter_(1, estimate.topk(min(VERIFY, k), dim=1).indices, True)
    rounds = 0
    while chosen.any():
        rounds += 1
        p, c = chosen.nonzero(as_tuple=True)
        exact[p, c] = _exact(prepared, p, cand_act[c], cand_sig[c])
        known = ~exact.isnan()
        error = torch.where(known, (exact - estimate).abs() - FLOOR, 0.0).clamp(min=0.0)
        kappa = torch.where(known, error / size.clamp(min=1e-300) ** 3, 0.0).amax(1, keepdim=True)
        best = torch.where(known, exact, -torch.inf).amax(1, keepdim=True)
        margin = SAFETY * kappa * size**3 + FLOOR
        chosen = ~known & (estimate + margin >= best)
    det_payoff = torch.where(~exact.isnan(), exact, -torch.inf).amax(1)
    # the ascent on the model
    ranked = estimate.argsort(dim=1, descending=True)[:, : max(1, min(top, k))]
    logits = torch.cat([8.0 * candidates[ranked] - 4.0, random_logits], dim=1)
    found = _ascend(problems, logits, order, steps, lr, patience, stall, betas, decay, round_)
    found = torch.where(found < round_, 0.0, torch.where(found > 1 - round_, 1.0, found))
    own_act, own_sig = expand(found, order)
    stochastic = _exact(prepared, torch.arange(count), own_act.contiguous(), own_sig.contiguous())
    payoff = torch.where(stochastic > det_payoff + improve, stochastic, det_payoff)
    # an interior optimum of the model is one of the exact payoff only up to the model's error, and the ascent's
    # answer there depends on its path: where it could beat the deterministic best, the full solve answers
    # answer there depends on its path: where the model's answer, widened by the error model, could beat the
    # deterministic best by more than IMPROVE, the full solve answers
    with torch.no_grad():
        every = torch.arange(count)
        value, dmu = problems.payoff(every, own_act, own_sig)
        delta = observable(own_act, own_sig, game)[1] - problems.so
        size_found = dmu.abs() + (delta[:, 0].abs().sum((1, 2)) + (delta[:, 1] - delta[:, 0]).abs().sum((1, 2))) / (model.n - 1)
    reach = value + SAFETY * kappa[:, 0] * size_found**3 + FLOOR
    interior = ((found > 0) & (found < 1)).any(1) & (reach > det_payoff + improve)
    # ... unless the answer is near a vertex (every entry within NEAR of it) where the exact payoff's gradient
    # points outward on every entry: the ascent there heads for that vertex, which is enumerated
    vertex = found.round()
    near = interior & ((found - vertex).abs() < NEAR).all(1)
    if near.any() and outward is not None:
        rows = near.nonzero()[:, 0]
        interior[rows] = ~outward(rows, vertex[rows])
    if interior.any() and full is not None:
        payoff[interior] = full(interior.nonzero()[:, 0])
    work = {"model": count * k, "exact": int((~exact.isnan()).sum()) + count, "rounds": rounds, "full": int(interior.sum()),
            "closed_form_residual": float(model.residual)}
    return payoff, work


def _ascend(problems: Problems, logits, order, steps, lr, patience, stall, betas, decay, round_) -> torch.Tensor:
    """Adam on the model's payoff from start logits ``(P, K, E)`` (``best_response._ascend``'s rule,
    each problem stopping on its own); the best entries per problem by the model ``(P, E)``."""
    count, k, e = logits.shape
    rows = torch.arange(count).repeat_interleave(k)
    theta = logits.reshape(count * k, e).clone()
    first, second = torch.zeros_like(theta), torch.zeros_like(theta)
    best = torch.full((count * k,), -torch.inf, dtype=DTYPE)
    keep = torch.sigmoid(theta)
    history = []
    active = torch.ones(count * k, dtype=torch.bool)
    gathered = problems.blocked(k)
    dmu = None  # each step's Newton starts from the last step's S
    for step in range(steps + 1):
        theta.requires_grad_(True)
        entries = torch.sigmoid(theta)
        payoff, dmu = problems.payoff(rows, *expand(entries, order), gathered=gathered, start=dmu)
        (grad,) = torch.autograd.grad(payoff.sum(), theta)
        theta, entries, payoff = theta.detach(), entries.detach(), payoff.detach()
        better = (payoff > best) & active
        best = torch.where(better, payoff, best)
        keep = torch.where(better.unsqueeze(1), entries, keep)
        history.append(best)
        if step >= patience:
            gain = torch.full((count,), -torch.inf, dtype=DTYPE).scatter_reduce(0, rows, best - history[step - patience], "amax")
            active = active & (gain[rows] >= stall)
        # a start settled near a vertex (every entry within SETTLE of 0 or 1) where every entry's gradient points
        # outward only moves on toward that vertex, a deterministic table whose payoff is enumerated
        settled = ((entries < SETTLE) | (entries > 1 - SETTLE)).all(1) & (grad * (2.0 * entries - 1.0) > 0).all(1)
        active = active & ~settled
        if step == steps or not active.any():
            break
        theta, first, second = adam_ascent(theta, grad, first, second, step, lr * decay ** (step / max(steps, 1)), betas,
                                           active)
    winner = best.reshape(count, k).argmax(1)
    return keep.reshape(count, k, e)[torch.arange(count), winner]
