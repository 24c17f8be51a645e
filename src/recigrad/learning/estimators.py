"""Private estimators of the other agents' observable policies (docs/model.md §5).

What is estimated.  For every agent ``j`` of a population, its *observable*
tables, errors included: ``pc[j, x_d, x_r]`` = P(realised C | donor ``j``,
context) and ``so[j, a, x_d, x_r]`` = P(observed "good" | observer ``j``,
context).  They are fitted from the public records of ``recigrad.dynamics.world.play``
only, never from the true tables, so the model applies ``e`` and ``mu`` (and the
perception error) to a learner's own tables and never to these estimates.

What a record says (docs/model.md §5).  Every interaction is one sample of its
donor's ``pc`` at ``(x_d, x_r)``.  When it is observed, each of its ``k``
observers' signals is one sample of that observer's ``so`` at the *realised*
action: the signals are independent given ``a``, whatever the aggregation that
turns them into the donor's new reputation, and an observer's perception error
is inside its ``so`` (``recigrad.game.observable``).  An unobserved interaction
(probability ``1 - q``) gives no signal sample.  What an observer *perceived*
is private and never read.

One state per population.  The records are public and every learner runs the
same estimator, so the estimates that learner ``i`` would keep of agent ``j``
are the same for every ``i``: one ``EstimatorState`` per population serves all
its learners.  Each learner uses the estimated rows of the *others* (as
constants) and puts its own live tables in its own row
(``recigrad.learning.view.substitute``); the estimate of a learner's own row is
never used by that learner.

API (pure functions over tensors batched on the leading population dimension;
``update`` returns a new state and leaves its input alone)::

    state = init_state(batch, n)
    state = update(state, records, config)        # after each played batch
    pc_hat, so_hat = estimate(state, config)      # (B, N, 2, 2), (B, N, 2, 2, 2), float64

Also ``effective_sample_size(state)`` (records behind each estimate) and
``EstimatorState.to_dict`` / ``from_dict`` (checkpoints).  The change test is in
``recigrad.learning.change_detection``.  Counts are updated with ``bincount``
over the flat indices ``(b*N + j)*4 + action_context(x_d, x_r)`` (donor ``j``)
and ``(b*N + o)*8 + signal_context(a, x_d, x_r)`` (every observer ``o``; contexts of
``recigrad.game.contexts``); no Python loop runs over records, and the change
tests run only in the contexts that got records.  On the CPU a population's state and estimates are the
same bit for bit alone or in any batch: counts are whole numbers, decay weights
come from a running product rather than ``pow``, and logarithms go through
``recigrad.util.numerics.per_population``.

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
records after the change: the window's last ``tau`` records for the shortest
split whose G exceeds the threshold (records at the boundary that could belong
to either regime are dropped: a dropped record costs a little precision, a kept
record of the old regime a bias that fades only as ``1/n``), or the whole
window when only the fast memory saw the change.  This is "forget
only what changed": against fixed agents nothing is ever forgotten, and when an
agent changes, the pre-change records leave its estimate at once instead of
being diluted slowly.  Time is counted in records of the context, so the test
is as powerful in a rare context as in a common one, only slower; the G
statistic (not a z score) keeps false alarms rare where a probability is near
0 or 1, as it is for deterministic norms with small errors.

The estimate is a Beta-Bernoulli posterior mean of the long memory,
``(k + s m) / (n + s)``, with an **empirical-Bayes prior**: ``m`` is the pooled
estimate of the same context over the *other* agents that behave alike,
itself shrunk to ``prior_mean`` with strength ``prior_strength``, and
``s = pool_strength``.  Who is alike is decided in ``O(N)`` by leader groups
(``recigrad.learning.pooling``; docs/model.md §5, equation (21a)): agents join
the leader (most records) their long memory does not differ from by a G
statistic above ``pool_threshold`` in any context, and an agent pools the
records of every group whose average other member it does not differ from
(leave-one-out), instead of comparing every pair of agents (``O(N^2)``).  A context that no alike agent has seen gets the base
prior ``(k + prior_strength * prior_mean) / (n + prior_strength)``: a context
nobody has seen returns ``prior_mean``.  A rare context of one agent thus
borrows from the agents like it while its own records are few.

Defaults and why:

* no plain forgetting (``forget = 1``).  docs/model.md §5: with a forgetting factor
  of 0.98 per 200 interactions a prototype learner stalled at 96-98% of the
  reference in discriminative-sh, because contexts that occur only through
  errors keep only a handful of records; without forgetting it reached 99.95%.
* ``change_threshold = 30`` (a chi-square(1) tail of 4e-8 for one test): over
  2.6e7 records of fixed agents (6144 contexts with probabilities from 0 to 1)
  it raised no false alarm (threshold 25 raised 21), while a switch between
  deterministic outputs (0.99 -> 0) is detected after 4-5 records of the new
  behaviour.
* ``window = 62`` (one int64 per context); the test looks at 21 split points
  (every record up to 8, then about every eighth of the distance), a third of
  the cost of all 62, and a detected change is located at every split.
* ``fast_horizon = 300`` records: a compromise measured between abrupt moderate
  changes (shorter is faster: 0.5 -> 0.8 is followed to 0.05 in a median of 140
  records) and slow drifts (longer is more sensitive: a logistic drift from 0.94
  to 0.05 over 20000 records is tracked with a mean error of 0.04).
* ``pool_strength = 2``: a weak prior, worth two records, so that pooling
  decides unseen and rare contexts but an agent's own records dominate as soon
  as it has a handful; ``pool_threshold = 12`` (tail 5e-4): agents are pooled
  until their records show a clear difference.  Leader groups give the pairwise
  rule's estimates to 1e-12 in 94% of the contexts of played populations
  (mean difference 7e-4) and the same learner results within 0.0008 points of
  percent of reference (docs/model.md §5).
* ``prior_mean = 0.5``, ``prior_strength = 1``: the uninformed fallback (the
  mean of the Jeffreys Beta(0.5, 0.5) prior) where no alike agent has a record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from recigrad.dynamics.records import Records
from recigrad.game import DTYPE, ConfigError
from recigrad.game.contexts import ACTION_CONTEXTS, SIGNAL_CONTEXTS, action_context, signal_context
from recigrad.learning import pooling
from recigrad.learning.change_detection import _detect, _powers

MAX_WINDOW = 62
MERGE_TABLES_UP_TO = 512  # agents: up to this, ``estimate`` pools both tables in one call (per-call costs dominate)
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
        population (1.0 = none; e.g. ``0.98 ** (1 / 200)`` is the forgetting of the
        prototype in docs/model.md §5, for ablations; needs ``detect_change = False``).
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


def init_state(batch: int, n: int, device=None) -> EstimatorState:
    """Empty counts for ``batch`` populations of ``n`` agents.

    Args:
        batch: populations ``B``.
        n: agents per population ``N`` (at least 2).
        device: where the tensors live.

    Returns:
        An ``EstimatorState`` of zeros: tables ``(B, N, 2, 2)`` / ``(B, N, 2, 2, 2)``.
    """
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


def _update_table(
    stats: dict[str, torch.Tensor],
    idx: torch.Tensor,
    y: torch.Tensor,
    v: torch.Tensor | None,
    long_factor: float | None,
    config: EstimatorConfig,
) -> dict[str, torch.Tensor]:
    """New ``(B, W)`` statistics of one table (``W = N * contexts``) after records
    with flat context indices ``idx`` (into ``B * W``), outcomes ``y`` (int64 0/1)
    and long-memory weights ``v`` (None: all 1; ``long_factor`` then None too)."""
    shape = stats["n"].shape
    size = stats["n"].numel()
    device = idx.device
    window = config.window
    counts = torch.bincount(idx, minlength=size)
    later = _later_counts(idx, counts)
    powers = _powers(config.fast_decay, int(counts.max()) + 1, device)
    w = powers.gather(0, later)
    decay = powers.gather(0, counts).view(shape)
    counts = counts.view(shape)
    yf = y.to(DTYPE)
    n, k, sq = stats["n"], stats["k"], stats["sq"]
    if long_factor is not None:  # plain forgetting of the long memory
        n, k, sq = n * long_factor, k * long_factor, sq * (long_factor * long_factor)
    v = torch.ones_like(w) if v is None else v

    def add(weights: torch.Tensor) -> torch.Tensor:
        return torch.bincount(idx, weights=weights, minlength=size).view(shape)

    new = {
        "n": n + add(v),
        "k": k + add(v * yf),
        "sq": sq + add(v.square()),
        "fast_n": stats["fast_n"] * decay + add(w),
        "fast_k": stats["fast_k"] * decay + add(w * yf),
        "fast_sq": stats["fast_sq"] * decay.square() + add(w.square()),
        "resets": stats["resets"],
    }
    # the window of the last records, one bit each (bit t = the t-th most recent)
    shift = counts.clamp(max=window)
    one = torch.ones((), dtype=torch.int64, device=device)
    kept = stats["bits"] & ((one << (window - shift)) - 1)
    bit = torch.where(later < window, y << later.clamp(max=window - 1), torch.zeros_like(y))
    fresh = torch.zeros(size, dtype=torch.int64, device=device).index_add_(0, idx, bit).view(shape)
    new["bits"] = (kept << shift) | fresh
    new["filled"] = (stats["filled"] + counts).clamp(max=window)
    if config.detect_change:  # only the contexts that got records: O(records), not O(N C), per update
        new = _detect(new, counts > 0, config)
    return new


def update(state: EstimatorState, records: Records | None, config: EstimatorConfig | None = None,
           valid: torch.Tensor | None = None) -> EstimatorState:
    """The state after the public ``records``; the input state is not modified.
    Population ``k``'s new state depends only on its own state and records, bit
    for bit (on the CPU).

    Args:
        state: the counts of ``B`` populations of ``N`` agents.
        records: the public records, fields ``(B, T)`` (``observers`` and ``signals``
            ``(B, T, K)``) in time order (None or ``T = 0``: a copy of ``state``).
            Every interaction is one sample of its donor's action table; every
            observer of an observed interaction (``observers >= 0``) one sample of
            its own signal table at ``(a, x_d, x_r)``, in draw order; ``perceived``
            is private and never read.
        config: the estimator settings (default ``EstimatorConfig()``).
        valid: ``(B, T)`` bool, the rows whose *action* sample counts (None: all); a row outside it adds no
            action sample and its donor index is not read (its observers' signals still count). The private
            learner's records (docs/model.md §6, "The learner under private assessment") use it.

    Returns:
        The new ``EstimatorState``, same shapes.
    """
    config = config or EstimatorConfig()
    if records is None or len(records) == 0:
        return EstimatorState.from_dict({name: t.clone() for name, t in state.to_dict().items()})
    batch, n = state.batch, state.n
    device = state.act_n.device
    if records.donor.shape[0] != batch:
        raise ValueError(f"records for {records.donor.shape[0]} populations, state for {batch}")
    steps = records.donor.shape[1]

    def field(name: str) -> torch.Tensor:
        return torch.as_tensor(getattr(records, name)).to(device=device, dtype=torch.int64)

    donor, observers = field("donor"), field("observers")  # (B, T), (B, T, K)
    if valid is not None:
        valid = valid.to(device=device, dtype=torch.bool)
        donor = torch.where(valid, donor, torch.zeros_like(donor))
    x_d, x_r, a, signals = field("donor_rep"), field("recipient_rep"), field("action"), field("signals")
    if int(donor.min()) < 0 or int(donor.max()) >= n:
        raise ValueError(f"records: donor index out of range for a population of {n}")
    if int(observers.min()) < -1 or int(observers.max()) >= n:
        raise ValueError(f"records: observer index out of range for a population of {n} (-1: not observed)")
    pop = torch.arange(batch, device=device).unsqueeze(1) * n
    act_idx = ((pop + donor) * ACTION_CONTEXTS + action_context(x_d, x_r)).reshape(-1)
    # every observer of an observed interaction gives one sample of its table; unobserved rows (-1) none
    observed = (observers >= 0).reshape(-1)
    sig_idx = ((pop.unsqueeze(-1) + observers) * SIGNAL_CONTEXTS + signal_context(a, x_d, x_r).unsqueeze(-1)).reshape(-1)
    sig_idx, sig_y = sig_idx[observed], signals.reshape(-1)[observed]
    act_y = a.reshape(-1)

    v_act: torch.Tensor | None = None
    v_sig: torch.Tensor | None = None
    factor: float | None = None
    if config.forget < 1.0:  # a record's weight is forget ** (interactions after it), its observers' signals alike
        v = _powers(config.forget, steps, device).flip(0).expand(batch, steps)
        v_act, v_sig = v.reshape(-1), v.unsqueeze(-1).expand(observers.shape).reshape(-1)[observed]
        factor = config.forget**steps
    if valid is not None:
        keep = valid.reshape(-1)
        act_idx, act_y = act_idx[keep], act_y[keep]
        v_act = None if v_act is None else v_act[keep]

    out: dict[str, torch.Tensor] = {}
    for table, idx, y, v in (("act", act_idx, act_y, v_act), ("sig", sig_idx, sig_y, v_sig)):
        shape = getattr(state, f"{table}_n").shape
        flat = {stat: getattr(state, f"{table}_{stat}").reshape(batch, -1) for stat in (*_FLOAT_STATS, *_INT_STATS)}
        new = _update_table(flat, idx, y, v, factor, config)
        for stat, tensor in new.items():
            out[f"{table}_{stat}"] = tensor.reshape(shape)
    out["interactions"] = state.interactions + steps
    return EstimatorState(**out)


def _posterior_mean(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, config: EstimatorConfig) -> torch.Tensor:
    """Posterior means ``(B, N, C)`` from long-memory counts ``(B, N, C)``."""
    base_mean, base_strength = config.prior_mean, config.prior_strength
    if not config.pool:
        return (k + base_strength * base_mean) / (n + base_strength)
    group = pooling.leader_groups(n, k, sq, config.pool_threshold)
    pooled_n, pooled_k = pooling.pooled_counts(n, k, sq, group, config.pool_threshold)
    prior = (pooled_k + base_strength * base_mean) / (pooled_n + base_strength)
    # where no alike agent has a record of the context, the base prior keeps its own strength
    strength = torch.where(pooled_n > 0, config.pool_strength, base_strength).to(n.dtype)
    return (k + strength * prior) / (n + strength)


def estimate(state: EstimatorState, config: EstimatorConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated observable tables, without gradient (constants for the learners).

    Args:
        state: the counts of ``B`` populations of ``N`` agents.
        config: the estimator settings (default ``EstimatorConfig()``).

    Returns:
        ``(pc_hat, so_hat)``: ``(B, N, 2, 2)`` the probability of a realised C per
        donor and ``[x_d, x_r]``, ``(B, N, 2, 2, 2)`` of an observed "good" per
        observer and ``[a, x_d, x_r]``; float64.
    """
    config = config or EstimatorConfig()
    batch, n = state.batch, state.n
    act, sig = ([getattr(state, f"{table}_{stat}").reshape(batch, n, -1) for stat in ("n", "k", "sq")] for table in ("act", "sig"))
    if n > MERGE_TABLES_UP_TO:
        return tuple(_posterior_mean(*counts, config).reshape(shape).detach()
                     for counts, shape in ((act, state.act_n.shape), (sig, state.sig_n.shape)))
    # both tables in one batch of 2 B rows, the action table's contexts padded with empty ones (no record: a G of 0,
    # nothing pooled): the same numbers (bit for bit with whole counts), with pooling's per-call work done once
    pad = SIGNAL_CONTEXTS - ACTION_CONTEXTS
    both = [torch.cat((torch.nn.functional.pad(a, (0, pad)), s), 0) for a, s in zip(act, sig)]
    means = _posterior_mean(*both, config)
    return means[:batch, :, :ACTION_CONTEXTS].reshape(state.act_n.shape).detach(), means[batch:].reshape(state.sig_n.shape).detach()


def effective_sample_size(state: EstimatorState) -> tuple[torch.Tensor, torch.Tensor]:
    """Effective number of records in each context's long memory,
    ``(sum v)**2 / sum v**2`` (the record count when nothing is forgotten)."""

    def ess(n: torch.Tensor, sq: torch.Tensor) -> torch.Tensor:
        return torch.where(sq > 0, n.square() / sq.clamp_min(1e-300), torch.zeros_like(n))

    return ess(state.act_n, state.act_sq), ess(state.sig_n, state.sig_sq)
