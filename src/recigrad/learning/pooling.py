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
``O(N MAX_GROUPS C)``, not ``O(N^2 C)``.

Every function takes counts ``(B, N, C)`` (``B`` independent populations, ``C``
contexts), uses the inputs' device, and gives a population the same numbers, bit for
bit, alone or in any batch on the CPU (G statistics through
``recigrad.learning.change_detection.g_statistic``; counts are whole numbers unless
``forget < 1``, and every sum runs in a fixed order).
"""

from __future__ import annotations

import torch

from recigrad.learning.change_detection import g_statistic

MAX_GROUPS = 64  # rounds of leader clustering; never reached with N <= 64 agents


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
    batch, agents, _ = n.shape
    total = n.sum(-1)
    group = torch.full((batch, agents), -1, dtype=torch.int64, device=n.device)
    rows = torch.arange(batch, device=n.device)
    for r in range(min(agents, max_groups)):
        free = group < 0
        if not bool(free.any()):
            break
        leader = torch.where(free, total, torch.full_like(total, -1.0)).argmax(-1)  # the first on a tie
        lead = [t[rows, leader].unsqueeze(1).expand_as(t) for t in (n, k, sq)]
        join = free & (g_statistic(n, k, sq, *lead).amax(-1) <= threshold)
        group = torch.where(join, torch.full_like(group, r), group)
    return group


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
    member = group.unsqueeze(-1) == torch.arange(groups, device=n.device)  # (B, N, G)
    flat = (group.clamp_min(0) + groups * torch.arange(batch, device=n.device).unsqueeze(1)).reshape(-1)
    inside = (group >= 0).reshape(-1)
    flat, size = flat[inside], batch * groups

    def group_sum(t: torch.Tensor) -> torch.Tensor:  # (B, G, C), summed in agent order
        values = t.reshape(batch * agents, contexts)[inside]
        return torch.zeros(size, contexts, dtype=t.dtype, device=t.device).index_add_(0, flat, values).view(batch, groups, contexts)

    def others(t: torch.Tensor) -> torch.Tensor:  # (B, N, G, C): the group's sum less the agent's own
        own = torch.where(member.unsqueeze(-1), t.unsqueeze(2), torch.zeros((), dtype=t.dtype, device=t.device))
        return (group_sum(t).unsqueeze(1) - own).clamp_min(0.0)

    other_n, other_k, other_sq = others(n), others(k), others(sq)
    count = member.sum(1).unsqueeze(1) - member.to(torch.int64)  # (B, N, G): other members
    per = count.clamp_min(1).to(n.dtype).unsqueeze(-1)
    mean = (other_n / per, (other_k / per).minimum(other_n / per), other_sq / per)
    own = [t.unsqueeze(2).expand_as(other_n) for t in (n, k, sq)]
    pools = (count > 0) & (g_statistic(*own, *mean).amax(-1) <= threshold)  # (B, N, G)
    pooled_n, pooled_k = torch.zeros_like(n), torch.zeros_like(k)
    for g in range(groups):  # in group order, whatever the batch's number of groups
        keep = pools[:, :, g].unsqueeze(-1)
        pooled_n = torch.where(keep, pooled_n + other_n[:, :, g], pooled_n)
        pooled_k = torch.where(keep, pooled_k + other_k[:, :, g], pooled_k)
    return pooled_n, pooled_k
