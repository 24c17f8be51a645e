"""Which agents' records pool into an agent's empirical-Bayes prior (docs/model.md §5,
"Pooling in O(N): leader groups", equation (21a)), in ``O(N C)`` per group.

The estimators (``recigrad.learning.estimators``) shrink each agent's estimate of a
context towards the pooled records of the *other* agents that behave like it.  Comparing
every pair of agents costs ``O(N^2 C)`` time and memory (84% of a learner step at
``N = 512``, 2 GB at ``N = 1024``).  Here the agents of one table (action or signal)
are first split into **leader groups** and an agent is then compared with each group
rather than with each agent:

1. *Groups* (``leader_groups``).  Round ``r = 0, 1, ...``: the agent not yet in a group
   with the most records of the table (the first one on a tie) leads group ``r``, and
   every agent not yet in a group whose long memory differs from the leader's in no
   context by a G statistic (22) above ``pool_threshold`` joins it (the leader itself
   too).  After ``MAX_GROUPS`` rounds the agents left are in no group.
2. *Pools* (``pooled_counts``).  Agent ``j`` pools group ``g``'s records minus its own
   (leave-one-out) when its long memory differs in no context by a G statistic above
   ``pool_threshold`` from the group's *average other member*: the counts
   ``(n, k, sq)`` of the group's other members summed and divided by their number
   (the effective size of an average member, the pooled proportion).  An agent may pool
   several groups, or none.

Cost: ``O(N C)`` per round and ``O(N G C)`` for the pools, with ``G`` groups; a
population of a few strategy classes has a few groups whatever ``N``.  ``G`` is at
most ``MAX_GROUPS``, so a population of ``N`` agents that all differ costs
``O(N MAX_GROUPS C)``, not ``O(N^2 C)``; the pools are tested 8 groups at a time, so
memory stays ``O(8 N C)``.  Only the own group's average member (leave-one-out) is one
per agent, the other groups' are one per group; each agent's own log-likelihood term of
(22) is computed once per call, and the three ``x log x`` terms of a log-likelihood in
one ``xlogy`` (the same numbers as ``recigrad.learning.change_detection.g_statistic``).

Every function takes counts ``(B, N, C)`` (``B`` independent populations, ``C``
contexts), uses the inputs' device, and gives a population the same numbers, bit for
bit, alone or in any batch on the CPU (logarithms through
``recigrad.util.numerics.per_population``; counts are whole numbers unless
``forget < 1``, and every sum runs in a fixed order).
"""

from __future__ import annotations

import torch

from recigrad.game import DTYPE
from recigrad.util.numerics import per_population

MAX_GROUPS = 64  # rounds of leader clustering; never reached with N <= 64 agents
_CHUNK = 8  # groups tested at once: memory O(N C _CHUNK)
_TINY = 1e-12


def _loglik(trials: torch.Tensor, ones: torch.Tensor) -> torch.Tensor:
    """``change_detection._loglik`` (the maximised Bernoulli log-likelihood ``f(ones) + f(trials - ones)
    - f(trials)``, ``f(x) = x log x``), the same numbers with one batch-invariant ``xlogy`` for the three
    terms."""
    x = torch.stack((ones, trials - ones, trials), -1).clamp_min(0.0)
    f = per_population(lambda t: torch.xlogy(t, t), x)
    return f[..., 0] + f[..., 1] - f[..., 2]


def _sample(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A weighted Bernoulli sample's effective size ``E = n**2 / sq``, successes ``E k / n`` and
    maximised log-likelihood ``LL(E, E k / n)`` (22), as ``change_detection.g_statistic`` computes
    them; an empty sample has ``E = 0``."""
    zero = torch.zeros((), dtype=DTYPE, device=n.device)
    size = torch.where((sq > _TINY) & (n > _TINY), n.square() / sq.clamp_min(_TINY), zero)
    ones = size * (k / n.clamp_min(_TINY)).clamp(0.0, 1.0)
    return size, ones, _loglik(size, ones)


def _g(one: tuple, two: tuple) -> torch.Tensor:
    """The G statistic (22) between two samples of ``_sample`` (broadcast against each other), the
    same numbers as ``change_detection.g_statistic``: each sample's own log-likelihood is computed
    once, however many samples it is compared with."""
    (e1, a1, l1), (e2, a2, l2) = one, two
    return (2.0 * (l1 + l2 - _loglik(e1 + e2, a1 + a2))).clamp_min(0.0)


def leader_groups(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, threshold: float, max_groups: int = MAX_GROUPS) -> torch.Tensor:
    """Leader clustering of the agents' long memories (step 1 of the module docstring).

    Args:
        n, k, sq: long-memory counts ``(B, N, C)``: records (sum of weights), outcomes 1
            (weighted), sum of squared weights.
        threshold: the largest G statistic (22) of a context at which an agent joins a leader.
        max_groups: rounds at most.

    Returns:
        ``(B, N)`` int64: each agent's group, ``0, 1, ...`` in the order the leaders were
        picked; ``-1`` for an agent left when ``max_groups`` rounds are done.
    """
    batch, agents, contexts = n.shape
    total = n.sum(-1)
    flat = [t.reshape(batch * agents, contexts) for t in _sample(n, k, sq)]
    first = torch.arange(batch, device=n.device) * agents  # each population's first agent in the flat rows
    group = torch.full((batch * agents,), -1, dtype=torch.int64, device=n.device)
    for r in range(min(agents, max_groups)):
        free = group < 0
        if not bool(free.any()):
            break
        leader = torch.where(free.view(batch, agents), total, torch.full_like(total, -1.0)).argmax(-1) + first
        left = free.nonzero().squeeze(-1)  # the agents left, of every population in one row
        mine = [t.index_select(0, left).unsqueeze(0) for t in flat]
        lead = [t.index_select(0, leader.index_select(0, torch.div(left, agents, rounding_mode="floor"))).unsqueeze(0)
                for t in flat]
        join = left[_g(mine, lead).amax(-1).squeeze(0) <= threshold]
        group = group.index_fill(0, join, r)
    return group.view(batch, agents)


def pooled_counts(
    n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, group: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each agent's pooled records (step 2 of the module docstring; equation (21a)).

    Args:
        n, k, sq: long-memory counts ``(B, N, C)``.
        group: ``(B, N)`` groups from ``leader_groups`` (``-1``: in none).
        threshold: the largest G statistic (22) of a context at which an agent pools a group.

    Returns:
        ``(pooled_n, pooled_k)``, ``(B, N, C)``: per agent, the sums of ``n`` and ``k`` over
        the other members of every group it pools.
    """
    batch, agents, contexts = n.shape
    groups = int(group.max()) + 1
    if groups <= 0:
        return torch.zeros_like(n), torch.zeros_like(k)
    inside = group >= 0
    flat = (group + groups * torch.arange(batch, device=n.device).unsqueeze(1))[inside]

    def group_sum(t: torch.Tensor) -> torch.Tensor:  # (B, G, ...), summed in agent order
        return torch.zeros(batch * groups, *t.shape[2:], dtype=t.dtype, device=t.device).index_add_(0, flat, t[inside]).view(
            batch, groups, *t.shape[2:])

    sums = [group_sum(t) for t in (n, k, sq)]  # (B, G, C)
    members = group_sum(torch.ones(batch, agents, dtype=DTYPE, device=n.device))  # (B, G)
    mine = _sample(n, k, sq)
    zero = torch.zeros((), dtype=DTYPE, device=n.device)

    def average(total_n, total_k, total_sq, count):  # the average of ``count`` members with these sums
        per = count.clamp_min(1.0).unsqueeze(-1)
        return _sample(total_n / per, (total_k / per).minimum(total_n / per), total_sq / per)

    # the agent's own group, less itself (leave-one-out): (B, N, C)
    own = group.clamp_min(0)
    others = [(t.gather(1, own.unsqueeze(-1).expand_as(x)) - x).clamp_min(0.0) for t, x in zip(sums, (n, k, sq))]
    count = members.gather(1, own) - 1.0
    keep = (inside & (count > 0) & (_g(mine, average(*others, count)).amax(-1) <= threshold)).unsqueeze(-1)
    pooled_n, pooled_k = torch.where(keep, others[0], zero), torch.where(keep, others[1], zero)
    # the other groups' average members, (B, 1, chunk, C), 8 groups at a time (memory O(8 N C)); the same sums
    # whatever the batch's number of groups
    mine = [t.unsqueeze(2) for t in mine]
    for start in range(0, groups, _CHUNK):
        total = [t[:, start : start + _CHUNK].unsqueeze(1) for t in sums]
        size = members[:, start : start + _CHUNK].unsqueeze(1)
        other = group.unsqueeze(-1) != torch.arange(start, start + size.shape[-1], device=n.device)  # (B, N, chunk)
        keep = (other & (size > 0) & (_g(mine, average(*total, size)).amax(-1) <= threshold)).unsqueeze(-1)
        pooled_n = pooled_n + torch.where(keep, total[0], zero).sum(2)
        pooled_k = pooled_k + torch.where(keep, total[1], zero).sum(2)
    return pooled_n, pooled_k
