"""The exact chain of private views (docs/model.md §4, "The exact chain of private views").

Under private assessment (``Game.assessment = "private"``) every agent ``i`` keeps a view
``M[i, j]`` of every agent ``j``, its own standing ``M[i, i]`` included.  With the uniform
schedule the views form a Markov chain on the ``2^(N^2)`` view matrices (bit ``i N + j``
of a state is ``M[i, j]``), for ``N <= 4`` (``MAX_N``).  One step is one interaction and
then the gossip events that follow it:

- donor ``d`` and recipient ``r != d`` uniform; realised C with probability
  ``pc[d, M[d, d], M[d, r]]``;
- ``d`` and ``r`` observe, every other agent with probability ``q``; given the realised
  action the observers are independent, and observer ``o`` sets ``M[o, d]`` to good with
  probability ``so[o, a, M[o, d], M[o, r]]`` (perception and assessment errors folded in,
  ``recigrad.game.observable``), all with the views before the interaction; so the new
  column ``d`` is a product of Bernoulli laws given ``a``;
- then ``floor(gossip) + Bernoulli(frac(gossip))`` gossip events: speaker ``s``, listener
  ``l != s`` and subject ``t != l`` uniform, and ``M[l, t] <- M[s, t]`` with probability
  ``gossip_trust``.

The stationary law is the long-run law from the initial views (each good with probability
``initial_good``): the chain is restricted to the states reachable from them, and refused
when that part has more than one closed class.  Up to ``DENSE_STATES`` reachable states it
is solved by a dense LU (``recigrad.dynamics.exact.stationary_law``); above, by restarted
GMRES on the sparse transition matrix (torch CSR), ``(I - P^T + v 1^T) pi = v``.  Not
differentiable (the mean field, ``recigrad.dynamics.private_meanfield``, is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from recigrad.dynamics.exact import stationary_law
from recigrad.dynamics.solution import Solution
from recigrad.game import DTYPE, ConfigError, Game
from recigrad.util.threads import one_thread

MAX_N = 4
DENSE_STATES = 4096  # a dense LU up to this many reachable states (N = 3 has 512 states in all)
MAX_SPARSE_GOSSIP = 20.0  # with N = 4, each GMRES product applies ceil(gossip) sparse gossip steps
GMRES_RESTART = 80
GMRES_TOLERANCE = 1e-13
GMRES_MAX_PRODUCTS = 20_000


@dataclass
class PrivateSolution(Solution):
    """Long-run quantities of a private-assessment game (docs/model.md §3, §4).

    The ``Solution`` fields per agent ``(B, N)``: ``payoff`` per round, ``good`` (the
    probability that another agent sees the agent as good, averaged over the others),
    ``given``, ``received``; and

    Attributes:
        views: ``(B, N, N)``, ``P(M[i, j] = 1)``; the diagonal holds the self-views.
        good_views: ``(B,)``, the share of good views among the ``N (N - 1)`` views of others.
        agreement: ``(B,)``, the probability that two distinct agents ``i != l`` hold the same
            view of a third ``j`` (``j`` not in ``{i, l}``), all such triples equally weighted.
    """

    views: torch.Tensor
    good_views: torch.Tensor
    agreement: torch.Tensor


def check_private(game: Game, n: int, what: str, max_n: int | None = None) -> None:
    """Refuse a public game, the permutation schedule and ``N > max_n``, one line each."""
    if not game.private:
        raise ConfigError(f"{what} needs assessment = private; got assessment = public (use recigrad.dynamics.exact)")
    if game.schedule != "uniform":
        raise ConfigError(f"{what} supports schedule = uniform only, got schedule = {game.schedule}")
    if max_n is not None and n > max_n:
        raise ConfigError(f"{what} needs N <= {max_n} (2^(N^2) view states), got N = {n}; "
                          "use the mean field, recigrad.dynamics.private_meanfield.solve")


def view_bits(n: int) -> np.ndarray:
    """``M[s, i, j]`` (uint8): agent ``i``'s view of ``j`` in state ``s`` (bit ``i N + j``), ``(2^(N^2), N, N)``."""
    s = np.arange(2 ** (n * n), dtype=np.int64)[:, None]
    return ((s >> np.arange(n * n)) & 1).astype(np.uint8).reshape(-1, n, n)


def _interaction(pc: np.ndarray, so: np.ndarray, q: float, bits: np.ndarray):
    """Entries ``(rows, cols, values)`` of one interaction's transition matrix over the states ``bits``.

    Given donor ``d``, the next state depends only on the new column ``d`` (the recipient and
    the action are summed out first), so the entries of different donors differ except
    on the diagonal; duplicates are summed by the products (``_Sparse``)."""
    size, n = bits.shape[0], bits.shape[1]
    states = np.arange(size, dtype=np.int64)
    patterns = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # (P, N): new M[o, d] per observer o
    rows, cols, values = [], [], []
    for d in range(n):
        column = sum(1 << (o * n + d) for o in range(n))
        placed = (patterns.astype(np.int64) << (np.arange(n) * n + d)).sum(1)  # (P,)
        old = bits[:, :, d].astype(float)  # (S, N): M[o, d]
        law = np.zeros((size, 2**n))
        for r in range(n):
            if r == d:
                continue
            p_c = pc[d, bits[:, d, d], bits[:, d, r]]  # (S,)
            watch = np.where((np.arange(n) == d) | (np.arange(n) == r), 1.0, q)  # (N,)
            for a, weight in ((1, p_c), (0, 1.0 - p_c)):
                good = so[np.arange(n), a, bits[:, :, d], bits[:, :, r]]  # (S, N): so[o, a, M[o, d], M[o, r]]
                p_new = (1.0 - watch) * old + watch * good
                product = weight[:, None]
                for o in range(n):  # pattern index: bit o is the new M[o, d]
                    product = np.concatenate([product * (1.0 - p_new[:, o : o + 1]), product * p_new[:, o : o + 1]], 1)
                law += product
        keep = law > 0
        rows.append(np.broadcast_to(states[:, None], law.shape)[keep])
        cols.append(((states & ~column)[:, None] | placed[None, :])[keep])
        values.append(law[keep] / (n * (n - 1)))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(values)


def _gossip(trust: float, bits: np.ndarray):
    """Entries of one gossip event's transition matrix (speaker, listener, subject uniform)."""
    size, n = bits.shape[0], bits.shape[1]
    states = np.arange(size, dtype=np.int64)
    rows, cols, values = [states], [states], [np.full(size, 1.0 - trust)]
    weight = trust / (n * (n - 1) * (n - 1))
    for listener in range(n):
        for speaker in range(n):
            if speaker == listener:
                continue
            for subject in range(n):
                if subject == listener:
                    continue
                flag = 1 << (listener * n + subject)
                told = bits[:, speaker, subject].astype(bool)
                rows.append(states)
                cols.append(np.where(told, states | flag, states & ~flag))
                values.append(np.full(size, weight))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(values)


class _Sparse:
    """A transition matrix as entries ``(rows, cols, values)`` (duplicates allowed, summed)."""

    def __init__(self, entries, size: int):
        self.rows, self.cols, self.values = entries
        self.size = size

    def left(self, x: np.ndarray) -> np.ndarray:
        """``x P`` for a row vector ``x (S,)``."""
        return np.bincount(self.cols, weights=self.values * x[self.rows], minlength=self.size)

    def dense(self) -> torch.Tensor:
        p = np.zeros(self.size * self.size)
        np.add.at(p, self.rows * self.size + self.cols, self.values)
        return torch.from_numpy(p.reshape(self.size, self.size))


def _events(gossip: float) -> tuple[int, float]:
    whole = math.floor(gossip)
    return whole, gossip - whole


class _Step:
    """The one-step transition ``P = P_int G^floor(gossip) ((1 - f) I + f G)`` (interaction, then gossip)."""

    def __init__(self, pc, so, game: Game, bits: np.ndarray):
        self.size = bits.shape[0]
        self.interaction = _Sparse(_interaction(pc, so, game.observation, bits), self.size)
        self.whole, self.fraction = _events(game.gossip)
        self.gossip = _Sparse(_gossip(game.gossip_trust, bits), self.size) if game.gossip > 0 else None

    def left(self, x: np.ndarray) -> np.ndarray:
        """``x P`` for a row vector ``x (S,)``."""
        y = self.interaction.left(x)
        if self.gossip is not None:
            for _ in range(self.whole):
                y = self.gossip.left(y)
            if self.fraction > 0:
                y = (1.0 - self.fraction) * y + self.fraction * self.gossip.left(y)
        return y

    def dense(self) -> torch.Tensor:
        """``P`` as a dense ``(S, S)`` matrix."""
        p = self.interaction.dense()
        if self.gossip is not None:
            g = self.gossip.dense()
            p = p @ torch.linalg.matrix_power(g, self.whole)
            if self.fraction > 0:
                p = (1.0 - self.fraction) * p + self.fraction * (p @ g)
        return p


def _initial_states(n: int, initial_good: float) -> np.ndarray:
    size = 2 ** (n * n)
    if initial_good == 1.0:
        return np.array([size - 1])
    if initial_good == 0.0:
        return np.array([0])
    return np.arange(size)


def _reachable(step: _Step, start: np.ndarray) -> np.ndarray:
    """Indices of the states reachable from ``start`` (breadth first, by products with the step)."""
    seen = np.zeros(step.size)
    seen[start] = 1.0
    while True:
        grown = ((seen + step.left(seen)) > 0).astype(float)
        if np.array_equal(grown, seen):
            return np.flatnonzero(seen)
        seen = grown


def _gmres(matvec, b: np.ndarray) -> np.ndarray:
    """Restarted GMRES for ``A x = b`` (Arnoldi by classical Gram-Schmidt, applied twice, on one
    torch thread); refuses when it does not converge."""
    x = torch.zeros(len(b), dtype=DTYPE)
    target = torch.from_numpy(b)
    norm_b = float(target.norm())
    products = 0
    with one_thread():
        while products < GMRES_MAX_PRODUCTS:
            residual = target - torch.from_numpy(matvec(x.numpy()))
            products += 1
            beta = float(residual.norm())
            if beta <= GMRES_TOLERANCE * norm_b:
                return x.numpy()
            basis = torch.zeros(GMRES_RESTART + 1, len(b), dtype=DTYPE)
            basis[0] = residual / beta
            hessenberg = torch.zeros(GMRES_RESTART + 1, GMRES_RESTART, dtype=DTYPE)
            steps = 0
            for k in range(GMRES_RESTART):
                w = torch.from_numpy(matvec(basis[k].numpy()))
                products += 1
                for _ in range(2):
                    h = basis[: k + 1] @ w
                    w = w - h @ basis[: k + 1]
                    hessenberg[: k + 1, k] += h
                hessenberg[k + 1, k] = w.norm()
                steps = k + 1
                if float(hessenberg[k + 1, k]) <= 1e-300:
                    break
                basis[k + 1] = w / hessenberg[k + 1, k]
            rhs = torch.zeros(steps + 1, 1, dtype=DTYPE)
            rhs[0] = beta
            y = torch.linalg.lstsq(hessenberg[: steps + 1, :steps], rhs).solution[:, 0]
            x = x + y @ basis[:steps]
    raise ConfigError("the exact chain of private views did not converge (nearly or fully reducible: several "
                      "closed classes of views); use larger errors, or N <= 3 (a dense solve)")


def _stationary(step: _Step, reach: np.ndarray) -> np.ndarray:
    """Stationary law on the reachable states ``reach`` (dense LU or sparse GMRES)."""
    size = len(reach)
    if size <= DENSE_STATES:
        if step.size <= DENSE_STATES:
            index = torch.from_numpy(reach)
            p = step.dense()[index][:, index]
        else:  # a small closed part of a large space: P restricted to it, from its rows
            p = torch.from_numpy(np.stack([step.left(_unit(step.size, s))[reach] for s in reach]))
        return stationary_law((p - torch.eye(size, dtype=DTYPE)).unsqueeze(0))[0].numpy()
    if size != step.size:
        raise ConfigError("the exact chain of private views: a reachable part of more than "
                          f"{DENSE_STATES} states that is not the whole state space is not supported")
    v = np.full(size, 1.0 / size)

    def matvec(x):
        return x - step.left(x) + v * x.sum()

    pi = np.clip(_gmres(matvec, v), 0.0, None)
    return pi / pi.sum()


def _unit(size: int, state: int) -> np.ndarray:
    x = np.zeros(size)
    x[state] = 1.0
    return x


def stationary_views(pc: torch.Tensor, so: torch.Tensor, game: Game) -> tuple[torch.Tensor, torch.Tensor]:
    """The long-run law of the views of one population from its initial views.

    Args:
        pc: observable action tables ``(N, 2, 2)`` (``recigrad.game.observable``).
        so: observable signal tables ``(N, 2, 2, 2)``, perception and assessment errors folded in.
        game: a private game with the uniform schedule.

    Returns:
        ``(pi, states)``: ``pi (R,)`` over the ``R`` reachable states and ``states (R, N, N)``
        their view matrices (0/1 as float64).

    Raises:
        ConfigError: ``N > 4``, a public game, the permutation schedule, ``gossip > 20`` with
        ``N = 4``, or no unique long-run law.
    """
    n = pc.shape[0]
    check_private(game, n, "the exact chain of private views", MAX_N)
    if n == MAX_N and game.gossip > MAX_SPARSE_GOSSIP:
        raise ConfigError(f"the exact chain of private views with N = 4 needs gossip <= {MAX_SPARSE_GOSSIP:g}, got "
                          f"{game.gossip:g}; use N = 3 or the mean field (recigrad.dynamics.private_meanfield)")
    bits = view_bits(n)
    step = _Step(pc.detach().numpy(), so.detach().numpy(), game, bits)
    reach = _reachable(step, _initial_states(n, game.initial_good))
    pi = _stationary(step, reach)
    full = np.zeros(step.size)
    full[reach] = pi
    balance = float(np.abs(step.left(full)[reach] - pi).max()) if np.isfinite(pi).all() else math.inf
    if not balance <= 1e-10 or float(pi.min()) < -1e-10:
        raise ConfigError("the exact chain of private views has no unique long-run law from the initial views (several "
                          "closed classes, as with zero errors); use e, mu or perception_error > 0")
    return torch.from_numpy(pi), torch.from_numpy(bits[reach]).to(DTYPE)


def measures(pi: torch.Tensor, states: torch.Tensor, pc: torch.Tensor, game: Game) -> dict[str, torch.Tensor]:
    """Per-population measures from a law ``pi (R,)`` over view matrices ``states (R, N, N)``.

    Returns a dict of ``views (N, N)``, ``coop (N, N)`` (``coop[d, r]``: realised C of ``d``
    to ``r``, 0 on the diagonal), ``agreement`` and ``good_views`` (scalars).
    """
    n = states.shape[1]
    views = torch.einsum("s,sij->ij", pi, states)
    own = states.diagonal(dim1=1, dim2=2).long()  # (R, N): M[d, d]
    seen = states.long()  # (R, d, r): M[d, r]
    p_c = pc[torch.arange(n)[None, :, None], own[:, :, None], seen]  # (R, d, r)
    off = 1.0 - torch.eye(n, dtype=DTYPE)
    coop = torch.einsum("s,sdr->dr", pi, p_c) * off
    good_count = (states * off).sum(1)  # (R, j): good views of j held by others
    m = n - 1
    pairs = good_count * (good_count - 1) + (m - good_count) * (m - good_count - 1)
    agreement = (pi * pairs.sum(1)).sum() / (n * (n - 1) * (n - 2))
    good_views = (views * off).sum() / (n * (n - 1))
    return {"views": views, "coop": coop, "agreement": agreement, "good_views": good_views}


def solution(results: list[dict[str, torch.Tensor]], game: Game) -> PrivateSolution:
    """A batched ``PrivateSolution`` from per-population ``measures``."""
    views = torch.stack([m["views"] for m in results])
    coop = torch.stack([m["coop"] for m in results])
    n = views.shape[1]
    off = 1.0 - torch.eye(n, dtype=DTYPE)
    given = coop.sum(2) / (n - 1)
    received = coop.sum(1) / (n - 1)
    good = (views * off).sum(1) / (n - 1)
    return PrivateSolution(game.b * received - game.c * given, good, given, received, views,
                           torch.stack([m["good_views"] for m in results]), torch.stack([m["agreement"] for m in results]))


def solve(pc: torch.Tensor, so: torch.Tensor, game: Game) -> PrivateSolution:
    """The exact long-run measures of private assessment, for ``N <= 4`` and the uniform schedule.

    Args:
        pc: observable action tables ``(B, N, 2, 2)`` (``recigrad.game.observable``).
        so: observable signal tables ``(B, N, 2, 2, 2)`` (perception and assessment errors folded in).
        game: a private game (``assessment = "private"``): ``b``, ``c``, ``observation`` (q),
            ``initial_good``, ``gossip``, ``gossip_trust``.

    Returns:
        A ``PrivateSolution``; cooperation is ``given.mean(1)``, realised C per interaction.
        Not differentiable.

    Raises:
        ConfigError: ``N > 4``, a public game, ``schedule = permutation``, or no unique long-run law.
    """
    n = pc.shape[1]
    check_private(game, n, "the exact chain of private views", MAX_N)
    results = []
    for b in range(pc.shape[0]):
        pi, states = stationary_views(pc[b].detach(), so[b].detach(), game)
        results.append(measures(pi, states, pc[b].detach(), game))
    return solution(results, game)
