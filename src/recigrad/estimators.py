"""Private estimators of the other agents' observable policies (SPEC section 5).

What is estimated.  For every agent ``j`` of a population, its *observable*
tables, errors included: ``pc[j, x_d, x_r]`` = P(realised C | donor ``j``,
context) and ``so[j, a, x_d, x_r]`` = P(observed "good" | observer ``j``,
context).  They are fitted from the public records of ``recigrad.world.play``
only, never from the true tables, so the model applies ``e`` and ``mu`` to a
learner's own tables and never to these estimates.

One state per population.  The records are public and every learner runs the
same estimator, so the estimates that learner ``i`` would keep of agent ``j``
are the same for every ``i``: one ``EstimatorState`` per population serves all
its learners.  Each learner uses the estimated rows of the *others* (as
constants) and puts its own live tables in its own row (``substitute``); the
estimate of a learner's own row is never used by that learner.

API (pure functions over tensors batched on the leading population dimension;
``update`` returns a new state and leaves its input alone)::

    state = init_state(batch, n, config)
    state = update(state, records, config)        # after each played batch
    pc_hat, so_hat = estimate(state, config)      # (B, N, 2, 2), (B, N, 2, 2, 2), float64

Counts are updated with ``bincount`` over the flat indices
``(b*N + j)*4 + 2*x_d + x_r`` (donor ``j``) and ``(b*N + o)*8 + 4*a + 2*x_d + x_r``
(observer ``o``); no Python loop runs over records.

Design.  Per (population, agent, context) the state keeps

* a **long memory**: the counts ``n`` (records) and ``k`` (outcomes 1) of every
  record since the last detected change; nothing is forgotten otherwise;
* a **window**: the outcomes of the last ``window`` (62) records, one bit each;
* a **fast memory**: counts with weights that decay by ``1 - 1/fast_horizon``
  per new record *of that context* (an exponential window of ~300 records).

After every update, each context that got records is tested for a change:
(a) every split of the window, the last ``tau`` records against all earlier
records of the long memory (a windowed Bernoulli GLR test), and (b) the fast
memory against the records that have left it (a G test with effective sample
sizes; it catches slow drifts the window is too short to see).  If either G
statistic exceeds ``change_threshold``, the long memory restarts from the
records after the change: the window's last ``tau`` records at the best split,
or the whole window when only the fast memory saw the change.  This is "forget
only what changed": against fixed agents nothing is ever forgotten, and when an
agent changes, the pre-change records leave its estimate at once instead of
being diluted slowly.  Time is counted in records of the context, so the test
is as powerful in a rare context as in a common one, only slower; the G
statistic (not a z score) keeps false alarms rare where a probability is near
0 or 1, as it is for deterministic norms with small errors.

The estimate is a Beta-Bernoulli posterior mean of the long memory,
``(k + s m) / (n + s)``, with an **empirical-Bayes prior**: ``m`` is the pooled
estimate of the same context over the *other* agents that behave alike (no
context of the two tables differs by a G statistic above ``pool_threshold``),
itself shrunk to ``prior_mean`` with strength ``prior_strength``, and
``s = pool_strength``.  A context that no alike agent has seen gets the base
prior ``(k + prior_strength * prior_mean) / (n + prior_strength)``: a context
nobody has seen returns ``prior_mean``.  A rare context of one agent thus
borrows from the agents like it while its own records are few.

Defaults and why:

* no plain forgetting (``forget = 1``).  SPEC section 5: with a forgetting factor
  of 0.98 per 200 interactions a prototype learner stalled at 96-98% of the
  reference in discriminative-sh, because contexts that occur only through
  errors keep only a handful of records; without forgetting it reached 99.95%.
* ``change_threshold = 30`` (a chi-square(1) tail of 4e-8 for one test): over
  2.6e7 records of fixed agents (6144 contexts with probabilities from 0 to 1)
  it raised no false alarm (threshold 25 raised 20, threshold 20 raised 258),
  while a switch between deterministic outputs (0.99 -> 0) is detected after
  3-5 records of the new behaviour.
* ``window = 62`` (one int64 per context); the test looks at 21 split points
  (every record up to 8, then about every eighth of the distance), a third of
  the cost of all 62, and a detected change is located at every split.
* ``fast_horizon = 300`` records: a compromise measured between abrupt moderate
  changes (shorter is faster: 0.5 -> 0.8 is followed to 0.05 in a median of 175
  records) and slow drifts (longer is more sensitive: a logistic drift from 0.94
  to 0.05 over 20000 records is tracked with a mean error of 0.04).
* ``pool_strength = 2``: a weak prior, worth two records, so that pooling
  decides unseen and rare contexts but an agent's own records dominate as soon
  as it has a handful; ``pool_threshold = 12`` (tail 5e-4): agents are pooled
  until their records show a clear difference.
* ``prior_mean = 0.5``, ``prior_strength = 1``: the uninformed fallback (the
  mean of the Jeffreys Beta(0.5, 0.5) prior) where no alike agent has a record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from recigrad.game import DTYPE, ConfigError
from recigrad.world import Records

ACT_CONTEXTS = 4
SIG_CONTEXTS = 8
MAX_WINDOW = 62
_FLOAT_STATS = ("n", "k", "sq", "fast_n", "fast_k", "fast_sq")
_INT_STATS = ("bits", "filled", "resets")


@dataclass(frozen=True)
class EstimatorConfig:
    """Estimator settings; the module docstring gives the reasons for the defaults.

    prior_mean, prior_strength: the base Beta prior (mean, pseudo-count) for a
        context that no alike agent has seen.
    pool: pool the records of alike agents into an empirical-Bayes prior.
    pool_strength: pseudo-count of the pooled prior in an agent's posterior mean.
    pool_threshold: two agents are alike while no context's G statistic between
        their long memories exceeds this.
    detect_change: test every context for a change after every update and, on a
        change, restart its long memory from the records after the change.
    window: records of each context kept exactly (at most 62, one bit each) to
        test every split point and to restart from.
    fast_horizon: horizon of the fast exponential window, in records of the
        context (decay ``1 - 1 / fast_horizon`` per record), to detect slow drifts.
    change_threshold: G statistic above which a change is declared.
    forget: plain forgetting factor of the long memory per interaction of the
        population (1.0 = none; e.g. ``0.98 ** (1 / 200)`` is the SPEC's
        prototype, for ablations; needs ``detect_change = False``).
    """

    prior_mean: float = 0.5
    prior_strength: float = 1.0
    pool: bool = True
    pool_strength: float = 2.0
    pool_threshold: float = 12.0
    detect_change: bool = True
    window: int = 62
    fast_horizon: float = 300.0
    change_threshold: float = 30.0
    forget: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "prior_mean": (0.0 < self.prior_mean < 1.0, "in (0, 1)"),
            "prior_strength": (self.prior_strength > 0.0, "> 0"),
            "pool_strength": (self.pool_strength > 0.0, "> 0"),
            "pool_threshold": (self.pool_threshold > 0.0, "> 0"),
            "fast_horizon": (self.fast_horizon > 1.0, "> 1"),
            "change_threshold": (self.change_threshold > 0.0, "> 0"),
            "forget": (0.0 < self.forget <= 1.0, "in (0, 1]"),
        }
        for name, (ok, allowed) in checks.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok:
                raise ConfigError(f"estimator {name} must be {allowed}, got {value!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or not 1 <= self.window <= MAX_WINDOW:
            raise ConfigError(f"estimator window must be an integer in [1, {MAX_WINDOW}], got {self.window!r}")
        for name in ("pool", "detect_change"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"estimator {name} must be true or false, got {getattr(self, name)!r}")
        if self.forget < 1.0 and self.detect_change:
            raise ConfigError("estimator forget < 1 needs detect_change = false (plain forgetting is an ablation)")

    @property
    def fast_decay(self) -> float:
        return 1.0 - 1.0 / self.fast_horizon


@dataclass
class EstimatorState:
    """Counts per (population, agent, context); tensors only, so a checkpoint is
    ``to_dict`` / ``from_dict``.

    ``act_*`` are ``(B, N, 2, 2)`` over ``[x_d, x_r]`` (the agent as donor),
    ``sig_*`` are ``(B, N, 2, 2, 2)`` over ``[a, x_d, x_r]`` (the agent as
    observer).  Float64: ``n, k, sq`` the long memory (sum of weights, of
    weights times outcome, of squared weights; weights are 1 unless ``forget``),
    ``fast_n, fast_k, fast_sq`` the fast exponential window.  Int64: ``bits``
    the last records' outcomes (bit ``t`` = the ``t``-th most recent),
    ``filled`` how many of them are in the long memory, ``resets`` the changes
    detected.  ``interactions (B,)``: records seen per population.
    """

    act_n: torch.Tensor
    act_k: torch.Tensor
    act_sq: torch.Tensor
    act_fast_n: torch.Tensor
    act_fast_k: torch.Tensor
    act_fast_sq: torch.Tensor
    act_bits: torch.Tensor
    act_filled: torch.Tensor
    act_resets: torch.Tensor
    sig_n: torch.Tensor
    sig_k: torch.Tensor
    sig_sq: torch.Tensor
    sig_fast_n: torch.Tensor
    sig_fast_k: torch.Tensor
    sig_fast_sq: torch.Tensor
    sig_bits: torch.Tensor
    sig_filled: torch.Tensor
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
    """Empty counts for ``batch`` populations of ``n`` agents (the empty state
    does not depend on ``config``; it is accepted for symmetry)."""
    if batch < 1 or n < 2:
        raise ValueError(f"need batch >= 1 and n >= 2, got batch={batch}, n={n}")
    tensors: dict[str, torch.Tensor] = {}
    for table, shape in (("act", (2, 2)), ("sig", (2, 2, 2))):
        for stat in _FLOAT_STATS:
            tensors[f"{table}_{stat}"] = torch.zeros(batch, n, *shape, dtype=DTYPE, device=device)
        for stat in _INT_STATS:
            tensors[f"{table}_{stat}"] = torch.zeros(batch, n, *shape, dtype=torch.int64, device=device)
    tensors["interactions"] = torch.zeros(batch, dtype=torch.int64, device=device)
    return EstimatorState(**tensors)


def _later_counts(idx: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """For each record, how many records of the same flat index come after it
    (``idx`` is flattened population-major, time-minor, so a stable sort keeps
    each index's records in time order)."""
    order = torch.sort(idx, stable=True).indices
    sorted_idx = idx.gather(0, order)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(idx.numel(), device=idx.device) - starts.gather(0, sorted_idx)
    return torch.empty_like(idx).scatter_(0, order, counts.gather(0, sorted_idx) - 1 - rank)


def _xlogx(x: torch.Tensor) -> torch.Tensor:
    return torch.xlogy(x, x)


def _split_points(window: int, device=None) -> torch.Tensor:
    """Split points of the windowed change test: every ``tau`` up to 8, then
    steps of 2, 4 and 6, and the whole window (a change is then located at every
    split, only in the contexts where one was detected)."""
    points = [*range(1, 9), 10, 12, 14, 16, 20, 24, 28, 32, 38, 44, 50, 56, window]
    return torch.tensor(sorted({p for p in points if p <= window}), dtype=torch.int64, device=device)


def _split_statistic(
    n: torch.Tensor, k: torch.Tensor, cumulative: torch.Tensor, points: torch.Tensor, filled: torch.Tensor
) -> torch.Tensor:
    """G statistics ``(S, P)`` of the splits "last ``tau`` records against all earlier
    records of the long memory" for ``tau`` in ``points`` (0 where ``tau > filled``):
    ``G = 2 [LL(last tau) + LL(earlier) - LL(all)]``, ``LL(m, s) = f(s) + f(m - s) - f(m)``,
    ``f(x) = x log x``.  ``cumulative[:, t]``: outcomes 1 among the last ``t + 1`` records."""
    ones = cumulative.index_select(1, points - 1)
    tau = points.to(DTYPE)
    earlier_n = n.unsqueeze(1) - tau
    earlier_k = k.unsqueeze(1) - ones
    split = 2.0 * (
        _xlogx(ones)
        + _xlogx(tau - ones)
        - _xlogx(tau)
        + _xlogx(earlier_k)
        + _xlogx(earlier_n - earlier_k)
        - _xlogx(earlier_n)
        - (_xlogx(k) + _xlogx(n - k) - _xlogx(n)).unsqueeze(1)
    )
    return torch.where(points <= filled.unsqueeze(1), split, torch.zeros((), dtype=DTYPE, device=n.device))


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Bernoulli KL divergence ``KL(p || q)`` (0 log 0 = 0)."""
    return (torch.xlogy(p, p) - torch.xlogy(p, q) + torch.xlogy(1.0 - p, 1.0 - p) - torch.xlogy(1.0 - p, 1.0 - q)).clamp_min(0.0)


def g_statistic(n1, k1, sq1, n2, k2, sq2) -> torch.Tensor:
    """Two-sample likelihood-ratio (G) statistic between two weighted Bernoulli
    samples, each given as (sum of weights, weighted successes, sum of squared
    weights) and counted with its effective size ``n**2 / sq``.  An empty sample
    gives 0.  For two unweighted samples with the same probability it is about
    chi-square with one degree of freedom."""
    tiny = 1e-12
    zero = torch.zeros((), dtype=DTYPE, device=n1.device)
    e1 = torch.where((sq1 > tiny) & (n1 > tiny), n1.square() / sq1.clamp_min(tiny), zero)
    e2 = torch.where((sq2 > tiny) & (n2 > tiny), n2.square() / sq2.clamp_min(tiny), zero)
    p1 = (k1 / n1.clamp_min(tiny)).clamp(0.0, 1.0)
    p2 = (k2 / n2.clamp_min(tiny)).clamp(0.0, 1.0)
    q = ((e1 * p1 + e2 * p2) / (e1 + e2).clamp_min(tiny)).clamp(0.0, 1.0)
    # an empty sample contributes nothing (its KL may be infinite)
    return 2.0 * (torch.where(e1 > 0, e1 * _kl(p1, q), zero) + torch.where(e2 > 0, e2 * _kl(p2, q), zero))


def _update_table(
    stats: dict[str, torch.Tensor],
    idx: torch.Tensor,
    y: torch.Tensor,
    v: torch.Tensor | None,
    long_factor: torch.Tensor | None,
    config: EstimatorConfig,
) -> dict[str, torch.Tensor]:
    """New flat ``(M,)`` statistics of one table after records with flat context
    indices ``idx``, outcomes ``y`` (int64 0/1) and long-memory weights ``v``
    (None: all 1; ``long_factor`` then None too)."""
    size = stats["n"].numel()
    device = idx.device
    window = config.window
    lam = config.fast_decay
    counts = torch.bincount(idx, minlength=size)
    later = _later_counts(idx, counts)
    yf = y.to(DTYPE)
    w = lam ** later.to(DTYPE)
    decay = lam ** counts.to(DTYPE)
    n, k, sq = stats["n"], stats["k"], stats["sq"]
    if long_factor is not None:  # plain forgetting of the long memory
        n, k, sq = n * long_factor, k * long_factor, sq * long_factor.square()
    v = torch.ones_like(w) if v is None else v
    new = {
        "n": n + torch.bincount(idx, weights=v, minlength=size),
        "k": k + torch.bincount(idx, weights=v * yf, minlength=size),
        "sq": sq + torch.bincount(idx, weights=v.square(), minlength=size),
        "fast_n": stats["fast_n"] * decay + torch.bincount(idx, weights=w, minlength=size),
        "fast_k": stats["fast_k"] * decay + torch.bincount(idx, weights=w * yf, minlength=size),
        "fast_sq": stats["fast_sq"] * decay.square() + torch.bincount(idx, weights=w.square(), minlength=size),
        "resets": stats["resets"],
    }
    # the window of the last records, one bit each (bit t = the t-th most recent)
    shift = counts.clamp(max=window)
    one = torch.ones((), dtype=torch.int64, device=device)
    kept = stats["bits"] & ((one << (window - shift)) - 1)
    bit = torch.where(later < window, y << later.clamp(max=window - 1), torch.zeros_like(y))
    fresh = torch.zeros(size, dtype=torch.int64, device=device).index_add_(0, idx, bit)
    new["bits"] = (kept << shift) | fresh
    new["filled"] = (stats["filled"] + counts).clamp(max=window)
    if config.detect_change:
        new = _detect(new, counts > 0, config)
    return new


def _detect(new: dict[str, torch.Tensor], touched: torch.Tensor, config: EstimatorConfig) -> dict[str, torch.Tensor]:
    """Change detection in the contexts that got records (long memory
    unweighted, ``v = 1``): a split of the window (the last ``tau`` records
    against all earlier ones in the long memory, every ``tau``: a windowed GLR
    test) or the fast window against the older records; on a change, the long
    memory restarts from the window's last ``tau`` records (the best split, or
    the whole window when only the fast window saw the change)."""
    sel = touched.nonzero().squeeze(1)
    if sel.numel() == 0:
        return new
    window = config.window
    device = touched.device
    part = {stat: value.index_select(0, sel) for stat, value in new.items()}
    n, k, filled = part["n"], part["k"], part["filled"]
    # windowed GLR test at the split points of _split_points (every tau up to 8, then about every eighth)
    steps = torch.arange(window, device=device)
    outcome = ((part["bits"].unsqueeze(1) >> steps) & 1).to(DTYPE)  # (S, window), column t = t-th most recent
    cumulative = outcome.cumsum(1)
    points = _split_points(window, device)
    split = _split_statistic(n, k, cumulative, points, filled)
    split_max, best = split.max(1)
    # fast exponential window against the older records (weights 1 - w)
    old_n = (n - part["fast_n"]).clamp_min(0.0)
    old_k = (k - part["fast_k"]).clamp(min=0.0).minimum(old_n)
    old_sq = (n - 2.0 * part["fast_n"] + part["fast_sq"]).clamp_min(0.0)
    fast = g_statistic(part["fast_n"], part["fast_k"], part["fast_sq"], old_n, old_k, old_sq)
    by_split = split_max > config.change_threshold
    changed = (by_split | (fast > config.change_threshold)) & (filled > 0)
    keep = torch.where(by_split, points.gather(0, best), filled)  # records to restart from
    refine = (changed & by_split).nonzero().squeeze(1)
    if refine.numel():  # locate the change at every split, in the (few) contexts that changed
        full = _split_statistic(n[refine], k[refine], cumulative[refine], steps + 1, filled[refine])
        keep = keep.index_copy(0, refine, full.argmax(1) + 1)
    keep = keep.clamp(min=1)
    position = (keep - 1).unsqueeze(1)
    decay = config.fast_decay ** steps.to(DTYPE)
    restart = {
        "n": keep.to(DTYPE),
        "k": cumulative.gather(1, position).squeeze(1),
        "sq": keep.to(DTYPE),
        "fast_n": decay.cumsum(0).gather(0, keep - 1),
        "fast_k": (outcome * decay).cumsum(1).gather(1, position).squeeze(1),
        "fast_sq": decay.square().cumsum(0).gather(0, keep - 1),
        "filled": keep,
        "resets": part["resets"] + 1,
    }
    for stat, value in restart.items():
        new[stat] = new[stat].index_copy(0, sel, torch.where(changed, value, part[stat]))
    return new


def update(state: EstimatorState, records: Records | None, config: EstimatorConfig | None = None) -> EstimatorState:
    """The state after the public ``records`` (fields ``(B, T)``, in time order);
    the input state is not modified.  Population ``k``'s new state depends only on
    its own state and records."""
    config = config or EstimatorConfig()
    if records is None or len(records) == 0:
        return EstimatorState.from_dict({name: t.clone() for name, t in state.to_dict().items()})
    batch, n = state.batch, state.n
    device = state.act_n.device
    if records.donor.shape[0] != batch:
        raise ValueError(f"records for {records.donor.shape[0]} populations, state for {batch}")
    steps = records.donor.shape[1]

    def field(name: str) -> torch.Tensor:
        return getattr(records, name).to(device=device, dtype=torch.int64)

    donor, observer = field("donor"), field("observer")
    x_d, x_r, a, s = field("donor_rep"), field("recipient_rep"), field("action"), field("signal")
    for name, agents in (("donor", donor), ("observer", observer)):
        if int(agents.min()) < 0 or int(agents.max()) >= n:
            raise ValueError(f"records: {name} index out of range for a population of {n}")
    pop = torch.arange(batch, device=device).unsqueeze(1) * n
    act_idx = ((pop + donor) * ACT_CONTEXTS + 2 * x_d + x_r).reshape(-1)
    sig_idx = ((pop + observer) * SIG_CONTEXTS + 4 * a + 2 * x_d + x_r).reshape(-1)

    v: torch.Tensor | None = None
    factor: torch.Tensor | None = None
    if config.forget < 1.0:
        age = torch.arange(steps - 1, -1, -1, device=device, dtype=DTYPE)
        v = (config.forget**age).expand(batch, steps).reshape(-1)
        factor = torch.tensor(config.forget**steps, dtype=DTYPE, device=device)

    out: dict[str, torch.Tensor] = {}
    for table, idx, y in (("act", act_idx, a), ("sig", sig_idx, s)):
        shape = getattr(state, f"{table}_n").shape
        flat = {stat: getattr(state, f"{table}_{stat}").reshape(-1) for stat in (*_FLOAT_STATS, *_INT_STATS)}
        new = _update_table(flat, idx, y.reshape(-1), v, factor, config)
        for stat, tensor in new.items():
            out[f"{table}_{stat}"] = tensor.reshape(shape)
    out["interactions"] = state.interactions + steps
    return EstimatorState(**out)


def alike(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, threshold: float) -> torch.Tensor:
    """``(B, N, N)`` bool: agents ``j`` and ``l != j`` whose long memories
    ``(B, N, C)`` differ in no context by a G statistic above ``threshold``."""
    g = g_statistic(n.unsqueeze(2), k.unsqueeze(2), sq.unsqueeze(2), n.unsqueeze(1), k.unsqueeze(1), sq.unsqueeze(1))
    eye = torch.eye(n.shape[1], dtype=torch.bool, device=n.device)
    return (g.amax(-1) <= threshold) & ~eye


def _posterior_mean(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, config: EstimatorConfig) -> torch.Tensor:
    """Posterior means ``(B, N, C)`` from long-memory counts ``(B, N, C)``."""
    base_mean, base_strength = config.prior_mean, config.prior_strength
    if not config.pool:
        return (k + base_strength * base_mean) / (n + base_strength)
    weight = alike(n, k, sq, config.pool_threshold).to(n.dtype)
    pooled_n = torch.einsum("bjl,blc->bjc", weight, n)
    pooled_k = torch.einsum("bjl,blc->bjc", weight, k)
    prior = (pooled_k + base_strength * base_mean) / (pooled_n + base_strength)
    # where no alike agent has a record of the context, the base prior keeps its own strength
    strength = torch.where(pooled_n > 0, config.pool_strength, base_strength).to(n.dtype)
    return (k + strength * prior) / (n + strength)


def estimate(state: EstimatorState, config: EstimatorConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated observable tables ``(pc_hat (B, N, 2, 2), so_hat (B, N, 2, 2, 2))``,
    float64, without gradient (constants for the learners)."""
    config = config or EstimatorConfig()
    batch, n = state.batch, state.n
    result = []
    for table, contexts in (("act", ACT_CONTEXTS), ("sig", SIG_CONTEXTS)):
        shape = getattr(state, f"{table}_n").shape
        counts = [getattr(state, f"{table}_{stat}").reshape(batch, n, contexts) for stat in ("n", "k", "sq")]
        result.append(_posterior_mean(*counts, config).reshape(shape).detach())
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
    tables of the ``L`` learners ``learners``.  Returns ``(B, L, N, ...)``
    tables; view ``l`` is differentiable in learner ``l``'s row only (fold
    ``L`` into the batch to solve the model for every learner at once)."""
    n = pc_hat.shape[1]
    mask = torch.zeros(len(learners), n, dtype=pc_hat.dtype, device=pc_hat.device)
    mask[torch.arange(len(learners)), torch.tensor(learners, dtype=torch.int64)] = 1.0

    def mix(hat: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        m = mask.reshape(1, len(learners), n, *(1,) * (hat.dim() - 2))
        return hat.detach().unsqueeze(1) * (1.0 - m) + own.unsqueeze(2) * m

    return mix(pc_hat, pc_own), mix(so_hat, so_own)
