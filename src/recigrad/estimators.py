"""Private estimators of the other agents' observable policies (SPEC section 5).

What is estimated.  For every agent ``j`` of a population, its *observable*
tables, errors included: ``pc[j, x_d, x_r]`` = P(realised C | donor ``j``,
context) and ``so[j, a, x_d, x_r]`` = P(observed "good" | observer ``j``,
context).  They are fitted from the public records of ``recigrad.world.play``
only (never from the true tables), so the model applies ``e`` and ``mu`` to a
learner's own tables and never to these estimates.

One state per population.  The records are public and every learner runs the
same estimator, so the estimates that learner ``i`` would keep of agent ``j``
are the same for every ``i``: one ``EstimatorState`` per population serves all
learners.  Each learner uses the estimated rows of the *others* (as constants)
and substitutes its own live tables for its own row (``substitute``).

Design (functional core: ``init_state``, ``update``, ``estimate`` are pure
functions over tensors batched on the leading population dimension; the
counts are updated with ``bincount`` over flat indices
``(b*N + j)*4 + 2*x_d + x_r`` and ``(b*N + o)*8 + 4*a + 2*x_d + x_r``, with no
Python loop over records).  Per (population, agent, context) the state keeps

* a **long memory**: weighted counts ``n = sum v``, ``k = sum v*y``,
  ``sq = sum v**2`` of every record since the last detected change (``v = 1``
  unless plain forgetting is switched on, see ``forget``);
* a **fast memory**: the same counts with weights ``w`` that decay by
  ``1 - 1/fast_horizon`` per new record *of that context* (an exponential window
  of about ``fast_horizon`` records, effective size ``~2 fast_horizon``), plus
  the cross sum ``sum v*w`` so that the records that are in the long memory but
  have left the fast window (the "old" sample, weights ``v - w``) are known
  with their effective size.

After every update, each context compares its fast window with its old sample
by a likelihood-ratio (G) statistic on effective sample sizes
(``n_eff = (sum w)**2 / sum w**2``); where it exceeds ``change_threshold``, the
long memory is replaced by the fast one ("forget only what changed").
Counting per record of the context (rather than per interaction) keeps the
test equally powerful in rare contexts, and the G statistic (not a z score)
keeps its false-alarm rate low when a context's probability is close to 0 or
1, as it is for deterministic norms with small errors.  The test ignores the
(positive) correlation between the two samples where records overlap, which
makes it conservative.

The estimate is a Beta-Bernoulli posterior mean of the long memory,
``(k + s m) / (n + s)``, with an **empirical-Bayes prior**: ``m`` is the pooled
estimate of the same context over the *other* agents that behave alike (no
context of their two tables differs by a G statistic above ``pool_threshold``),
itself shrunk to ``prior_mean`` with strength ``prior_strength``; ``s`` is
``pool_strength``.  A context nobody has seen therefore returns
``prior_mean``; a context only this agent has not seen returns the pooled
estimate of the agents like it; a rare context of one agent borrows from the
others while its own records are fewer than a few times ``s``.

Defaults and why:

* ``forget = 1.0`` (no plain forgetting).  SPEC section 5 measured a learner
  stall at 96-98% of the reference with a forgetting factor of 0.98 per 200
  interactions against fixed agents, because contexts that occur only through
  errors keep only a handful of records; without forgetting it reached 99.95%.
  Against fixed agents the long memory here never forgets (no change is
  detected), so the estimates converge like the plain posterior mean.
* ``fast_horizon = 50`` records, ``change_threshold = 30``: a chi-square(1)
  tail of ~4e-8 per test, so that monitoring every context of every agent after
  every update (hundreds of thousands of tests in a long run) rarely gives a
  false alarm, and a false alarm only shortens one context's memory to the
  recent ~100 records; yet a switch between deterministic outputs (0.99 -> 0)
  is detected after ~5-10 records of the new behaviour, and a drift is tracked
  to within about ``sqrt(30 p(1-p) / 100)`` (0.05 at p = 0.99, 0.27 at 0.5).
* ``pool_strength = 2``: a weak prior, worth two records, so that pooling
  decides rare and unseen contexts but an agent's own records dominate as soon
  as there are a handful; ``pool_threshold = 12`` (chi-square(1) tail ~5e-4):
  agents are pooled until their records show a clear difference.
* ``prior_mean = 0.5``, ``prior_strength = 1``: the uninformed fallback (the
  mean of a Beta(0.5, 0.5), Jeffreys, prior) when no agent has seen a context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from recigrad.game import DTYPE, ConfigError
from recigrad.world import Records

ACT_CONTEXTS = 4
SIG_CONTEXTS = 8
_STATS = ("n", "k", "sq", "fast_n", "fast_k", "fast_sq", "cross")


@dataclass(frozen=True)
class EstimatorConfig:
    """Estimator settings; the module docstring gives the reasons for the defaults.

    prior_mean, prior_strength: the base Beta prior (mean, pseudo-count) for a
        context that no (alike) agent has seen.
    pool: pool records of alike agents into an empirical-Bayes prior.
    pool_strength: pseudo-count of the pooled prior in an agent's posterior mean.
    pool_threshold: two agents are alike while no context's G statistic between
        their long memories exceeds this.
    detect_change: compare each context's fast window with its older records and
        replace the long memory by the fast one when they differ.
    fast_horizon: the fast window, in records of the context (decay ``1 - 1/h``).
    change_threshold: G statistic above which a change is declared.
    forget: plain forgetting factor of the long memory per interaction of the
        population (1.0 = none; e.g. ``0.98 ** (1 / 200)`` reproduces the SPEC's
        prototype, for ablations).
    """

    prior_mean: float = 0.5
    prior_strength: float = 1.0
    pool: bool = True
    pool_strength: float = 2.0
    pool_threshold: float = 12.0
    detect_change: bool = True
    fast_horizon: float = 50.0
    change_threshold: float = 30.0
    forget: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "prior_mean": 0.0 < self.prior_mean < 1.0,
            "prior_strength": self.prior_strength > 0.0,
            "pool_strength": self.pool_strength > 0.0,
            "pool_threshold": self.pool_threshold > 0.0,
            "fast_horizon": self.fast_horizon > 1.0,
            "change_threshold": self.change_threshold > 0.0,
            "forget": 0.0 < self.forget <= 1.0,
        }
        allowed = {
            "prior_mean": "in (0, 1)",
            "fast_horizon": "> 1",
            "forget": "in (0, 1]",
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok:
                raise ConfigError(f"estimator {name} must be {allowed.get(name, '> 0')}, got {value!r}")

    @property
    def fast_decay(self) -> float:
        return 1.0 - 1.0 / self.fast_horizon


@dataclass
class EstimatorState:
    """Counts per (population, agent, context); tensors only, so a checkpoint is
    ``to_dict`` / ``from_dict``.

    ``act_*`` are ``(B, N, 2, 2)`` over ``[x_d, x_r]`` (the agent as donor) and
    ``sig_*`` are ``(B, N, 2, 2, 2)`` over ``[a, x_d, x_r]`` (the agent as
    observer), float64.  ``n, k, sq``: long memory (sum of weights, of weights
    times outcome, of squared weights); ``fast_n, fast_k, fast_sq``: the fast
    window; ``cross``: sum of long-memory weight times fast weight;
    ``*_resets`` (int64): changes detected; ``interactions`` ``(B,)`` (int64):
    records seen per population.
    """

    act_n: torch.Tensor
    act_k: torch.Tensor
    act_sq: torch.Tensor
    act_fast_n: torch.Tensor
    act_fast_k: torch.Tensor
    act_fast_sq: torch.Tensor
    act_cross: torch.Tensor
    act_resets: torch.Tensor
    sig_n: torch.Tensor
    sig_k: torch.Tensor
    sig_sq: torch.Tensor
    sig_fast_n: torch.Tensor
    sig_fast_k: torch.Tensor
    sig_fast_sq: torch.Tensor
    sig_cross: torch.Tensor
    sig_resets: torch.Tensor
    interactions: torch.Tensor

    @property
    def batch(self) -> int:
        return self.act_n.shape[0]

    @property
    def n(self) -> int:
        return self.act_n.shape[1]

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def from_dict(tensors: dict[str, torch.Tensor]) -> EstimatorState:
        return EstimatorState(**{f.name: tensors[f.name] for f in fields(EstimatorState)})


def init_state(batch: int, n: int, config: EstimatorConfig | None = None, device=None) -> EstimatorState:
    """Empty counts for ``batch`` populations of ``n`` agents (``config`` is
    accepted for symmetry; the empty state does not depend on it)."""
    if batch < 1 or n < 2:
        raise ValueError(f"need batch >= 1 and n >= 2, got batch={batch}, n={n}")
    tensors: dict[str, torch.Tensor] = {}
    for table, shape in (("act", (2, 2)), ("sig", (2, 2, 2))):
        for stat in _STATS:
            tensors[f"{table}_{stat}"] = torch.zeros(batch, n, *shape, dtype=DTYPE, device=device)
        tensors[f"{table}_resets"] = torch.zeros(batch, n, *shape, dtype=torch.int64, device=device)
    tensors["interactions"] = torch.zeros(batch, dtype=torch.int64, device=device)
    return EstimatorState(**tensors)


def _table(state: EstimatorState, table: str) -> dict[str, torch.Tensor]:
    """Flat ``(B*N*C,)`` views of one table's statistics."""
    return {stat: getattr(state, f"{table}_{stat}").reshape(-1) for stat in (*_STATS, "resets")}


def _later_counts(idx: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """For each record, how many records of the same flat index come after it
    (records are ordered in time within each index, as ``idx`` is flattened
    population-major, time-minor)."""
    order = torch.sort(idx, stable=True).indices
    sorted_idx = idx[order]
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(idx.numel(), device=idx.device) - starts[sorted_idx]
    later = torch.empty_like(idx)
    later[order] = counts[sorted_idx] - 1 - rank
    return later


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Bernoulli KL divergence ``KL(p || q)`` (0 log 0 = 0)."""
    return (
        torch.xlogy(p, p) - torch.xlogy(p, q) + torch.xlogy(1.0 - p, 1.0 - p) - torch.xlogy(1.0 - p, 1.0 - q)
    ).clamp_min(0.0)


def g_statistic(n1, k1, sq1, n2, k2, sq2) -> torch.Tensor:
    """Two-sample likelihood-ratio (G) statistic between two weighted Bernoulli
    samples given as (sum of weights, weighted successes, sum of squared
    weights); each sample counts with its effective size ``n**2 / sq``.  An
    empty sample gives 0.  Under "same probability" it is about chi-square(1)."""
    tiny = 1e-12
    e1 = torch.where(sq1 > tiny, n1.square() / sq1.clamp_min(tiny), torch.zeros_like(n1))
    e2 = torch.where(sq2 > tiny, n2.square() / sq2.clamp_min(tiny), torch.zeros_like(n2))
    e1 = torch.where(n1 > tiny, e1, torch.zeros_like(e1))
    e2 = torch.where(n2 > tiny, e2, torch.zeros_like(e2))
    p1 = (k1 / n1.clamp_min(tiny)).clamp(0.0, 1.0)
    p2 = (k2 / n2.clamp_min(tiny)).clamp(0.0, 1.0)
    total = e1 + e2
    q = ((e1 * p1 + e2 * p2) / total.clamp_min(tiny)).clamp(0.0, 1.0)
    return 2.0 * (e1 * _kl(p1, q) + e2 * _kl(p2, q))


def _update_table(
    stats: dict[str, torch.Tensor],
    idx: torch.Tensor,
    y: torch.Tensor,
    v: torch.Tensor | None,
    long_factor: torch.Tensor | None,
    config: EstimatorConfig,
) -> dict[str, torch.Tensor]:
    """New flat statistics of one table after the records ``idx`` (flat context
    indices), outcomes ``y`` and long-memory weights ``v`` (None: all 1)."""
    size = stats["n"].numel()
    lam = config.fast_decay
    counts = torch.bincount(idx, minlength=size)
    w = lam ** _later_counts(idx, counts).to(DTYPE)
    decay = lam ** counts.to(DTYPE)
    n, k, sq, cross = stats["n"], stats["k"], stats["sq"], stats["cross"]
    if long_factor is not None:  # plain forgetting of the long memory (per population, broadcast)
        n, k, sq, cross = n * long_factor, k * long_factor, sq * long_factor.square(), cross * long_factor
    ones = v is None
    v = torch.ones_like(w) if ones else v
    new = {
        "n": n + torch.bincount(idx, weights=v, minlength=size),
        "k": k + torch.bincount(idx, weights=v * y, minlength=size),
        "sq": sq + torch.bincount(idx, weights=v.square(), minlength=size),
        "fast_n": stats["fast_n"] * decay + torch.bincount(idx, weights=w, minlength=size),
        "fast_k": stats["fast_k"] * decay + torch.bincount(idx, weights=w * y, minlength=size),
        "fast_sq": stats["fast_sq"] * decay.square() + torch.bincount(idx, weights=w.square(), minlength=size),
        "cross": cross * decay + torch.bincount(idx, weights=v * w, minlength=size),
        "resets": stats["resets"],
    }
    if config.detect_change:
        old_n = (new["n"] - new["fast_n"]).clamp_min(0.0)
        old_k = (new["k"] - new["fast_k"]).clamp(min=0.0).minimum(old_n)
        old_sq = (new["sq"] - 2.0 * new["cross"] + new["fast_sq"]).clamp_min(0.0)
        g = g_statistic(new["fast_n"], new["fast_k"], new["fast_sq"], old_n, old_k, old_sq)
        changed = (g > config.change_threshold) & (counts > 0)
        new["n"] = torch.where(changed, new["fast_n"], new["n"])
        new["k"] = torch.where(changed, new["fast_k"], new["k"])
        new["sq"] = torch.where(changed, new["fast_sq"], new["sq"])
        new["cross"] = torch.where(changed, new["fast_sq"], new["cross"])  # long weights = fast weights now
        new["resets"] = new["resets"] + changed.to(torch.int64)
    return new


def update(state: EstimatorState, records: Records | None, config: EstimatorConfig | None = None) -> EstimatorState:
    """The state after the public ``records`` (fields ``(B, T)``, in time order);
    the input state is not modified.  Population ``k``'s new state depends only on
    its own state and records."""
    config = config or EstimatorConfig()
    if records is None or len(records) == 0:
        return EstimatorState.from_dict({k: t.clone() for k, t in state.to_dict().items()})
    batch, n = state.batch, state.n
    device = state.act_n.device
    if records.donor.shape[0] != batch:
        raise ValueError(f"records for {records.donor.shape[0]} populations, state for {batch}")
    steps = records.donor.shape[1]

    def field(name: str) -> torch.Tensor:
        return getattr(records, name).to(device=device, dtype=torch.int64)

    donor, observer = field("donor"), field("observer")
    x_d, x_r, a, s = field("donor_rep"), field("recipient_rep"), field("action"), field("signal")
    if steps and (int(donor.max()) >= n or int(observer.max()) >= n or int(donor.min()) < 0):
        raise ValueError(f"agent index out of range for a population of {n}")
    pop = torch.arange(batch, device=device).unsqueeze(1) * n
    act_idx = (((pop + donor) * 4) + 2 * x_d + x_r).reshape(-1)
    sig_idx = (((pop + observer) * 8) + 4 * a + 2 * x_d + x_r).reshape(-1)

    v: torch.Tensor | None = None
    long_factor: torch.Tensor | None = None
    if config.forget < 1.0:
        age = torch.arange(steps - 1, -1, -1, device=device, dtype=DTYPE)
        v = (config.forget**age).expand(batch, steps).reshape(-1)
        long_factor = torch.full((batch, 1), config.forget**steps, dtype=DTYPE, device=device)

    out: dict[str, torch.Tensor] = {}
    for table, idx, y, contexts, shape in (
        ("act", act_idx, a, ACT_CONTEXTS, (2, 2)),
        ("sig", sig_idx, s, SIG_CONTEXTS, (2, 2, 2)),
    ):
        factor = None
        if long_factor is not None:
            factor = long_factor.expand(batch, n * contexts).reshape(-1)
        new = _update_table(_table(state, table), idx, y.reshape(-1).to(DTYPE), v, factor, config)
        for stat, tensor in new.items():
            out[f"{table}_{stat}"] = tensor.reshape(batch, n, *shape)
    out["interactions"] = state.interactions + steps
    return EstimatorState(**out)


def alike(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, threshold: float) -> torch.Tensor:
    """``(B, N, N)`` bool: agents ``j`` and ``l != j`` whose long memories differ
    in no context by a G statistic above ``threshold`` (inputs ``(B, N, C)``)."""
    g = g_statistic(
        n.unsqueeze(2), k.unsqueeze(2), sq.unsqueeze(2), n.unsqueeze(1), k.unsqueeze(1), sq.unsqueeze(1)
    )
    same = g.amax(-1) <= threshold
    eye = torch.eye(n.shape[1], dtype=torch.bool, device=n.device)
    return same & ~eye


def _posterior_mean(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, config: EstimatorConfig) -> torch.Tensor:
    """Posterior means ``(B, N, C)`` from long-memory counts ``(B, N, C)``."""
    base_mean, base_strength = config.prior_mean, config.prior_strength
    if not config.pool:
        return (k + base_strength * base_mean) / (n + base_strength)
    weight = alike(n, k, sq, config.pool_threshold).to(n.dtype)
    pooled_n = torch.einsum("bjl,blc->bjc", weight, n)
    pooled_k = torch.einsum("bjl,blc->bjc", weight, k)
    prior = (pooled_k + base_strength * base_mean) / (pooled_n + base_strength)
    # with no alike agent's record in the context, the base prior keeps its own strength
    strength = torch.where(pooled_n > 0, torch.full_like(n, config.pool_strength), torch.full_like(n, base_strength))
    return (k + strength * prior) / (n + strength)


def estimate(state: EstimatorState, config: EstimatorConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated observable tables ``(pc_hat (B, N, 2, 2), so_hat (B, N, 2, 2, 2))``,
    float64, no gradient (constants for the learners)."""
    config = config or EstimatorConfig()
    batch, n = state.batch, state.n
    result = []
    for table, contexts in (("act", ACT_CONTEXTS), ("sig", SIG_CONTEXTS)):
        counts = [getattr(state, f"{table}_{stat}").reshape(batch, n, contexts) for stat in ("n", "k", "sq")]
        mean = _posterior_mean(*counts, config)
        result.append(mean.reshape(getattr(state, f"{table}_n").shape).detach())
    return result[0], result[1]


def effective_sample_size(state: EstimatorState) -> tuple[torch.Tensor, torch.Tensor]:
    """Effective number of records in each context's long memory,
    ``(sum v)**2 / sum v**2`` (the record count when nothing is forgotten)."""

    def ess(n: torch.Tensor, sq: torch.Tensor) -> torch.Tensor:
        return torch.where(sq > 0, n.square() / sq.clamp_min(1e-300), torch.zeros_like(n))

    return ess(state.act_n, state.act_sq), ess(state.sig_n, state.sig_sq)


def substitute(
    pc_hat: torch.Tensor,
    so_hat: torch.Tensor,
    learners: list[int],
    pc_own: torch.Tensor,
    so_own: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each learner's view of its population: the estimates of the others with its
    own live tables in its own row.

    ``pc_hat (B, N, 2, 2)``, ``so_hat (B, N, 2, 2, 2)``: estimates;
    ``pc_own (B, L, 2, 2)``, ``so_own (B, L, 2, 2, 2)``: the live observable
    tables of the ``L`` learners ``learners``.  Returns ``(B, L, N, ...)`` tables,
    view ``l`` differentiable in learner ``l``'s row only."""
    n = pc_hat.shape[1]
    mask = torch.zeros(len(learners), n, dtype=pc_hat.dtype, device=pc_hat.device)
    mask[torch.arange(len(learners)), torch.tensor(learners, dtype=torch.int64)] = 1.0

    def mix(hat: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        extra = (1,) * (hat.dim() - 2)
        m = mask.reshape(1, len(learners), n, *extra)
        return hat.detach().unsqueeze(1) * (1.0 - m) + own.unsqueeze(2) * m

    return mix(pc_hat, pc_own), mix(so_hat, so_own)
