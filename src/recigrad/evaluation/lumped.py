"""The lumped exact chain (docs/model.md §4): a learner against groups of identical opponents.

Agents with equal tables are interchangeable, so the chain on ``2^N`` reputation
vectors reduces exactly to a chain on (learner's reputation, number of good
agents in each group of equal others).  Seven equal opponents need 16 states
instead of 256; when no two others are equal, ``recigrad.dynamics.exact.solve``
answers on the full chain.  The stationary law comes from the same solve as the
full chain's (``recigrad.dynamics.exact.stationary_law``).
"""

from __future__ import annotations

import math

import torch

from recigrad.dynamics.exact import stationary_law
from recigrad.game import DTYPE, Game, observable
from recigrad.game.formation import good_probability
from recigrad.util.threads import one_thread

Groups = tuple[tuple[int, ...], ...]


def equal_groups(act: torch.Tensor, sig: torch.Tensor, learner: int) -> Groups:
    """The agents other than ``learner`` of one population (``act (N, 2, 2)``,
    ``sig (N, 2, 2, 2)``), grouped by equal tables, in order of first appearance."""
    groups: list[list[int]] = []
    for j in range(act.shape[0]):
        if j == learner:
            continue
        for group in groups:
            if torch.equal(act[group[0]], act[j]) and torch.equal(sig[group[0]], sig[j]):
                group.append(j)
                break
        else:
            groups.append([j])
    return tuple(tuple(group) for group in groups)


def lumped_states(groups: Groups) -> int:
    """States of the lumped chain: learner's reputation times good counts per group."""
    return 2 * math.prod(len(group) + 1 for group in groups)


def _count_states(sizes: list[int]) -> torch.Tensor:
    """``counts[s, k]``: good agents of block ``k`` in state ``s`` (last block fastest)."""
    grids = torch.meshgrid(*[torch.arange(size + 1) for size in sizes], indexing="ij")
    return torch.stack([grid.reshape(-1) for grid in grids], dim=1)


@one_thread()
def lumped_payoff(act: torch.Tensor, sig: torch.Tensor, learner: int, groups: Groups, game: Game) -> torch.Tensor:
    """Learner's exact per-round payoff ``(M,)`` for populations ``act (M, N, 2, 2)``,
    ``sig (M, N, 2, 2, 2)`` whose other agents have equal tables within each of
    ``groups`` (the same grouping for every row).

    A donor ``d`` turns good with probability ``q_d = (1 - m) s_d[x_d, 0] + m s_d[x_d, 1]``
    (``m``: fraction of good agents among the others), the same for every member of
    a group, so the numbers of good agents per block (the learner is a block of
    one) form a Markov chain; its stationary law gives the pair probabilities the
    payoff needs.  Equal to ``recigrad.dynamics.exact.solve`` on the full chain.
    """
    n = act.shape[1]
    if not game.recipient_observes:
        raise ValueError("the lumped chain needs a pool of observers that does not depend on the recipient")
    pc, so = observable(act, sig, game)
    s = good_probability(pc, so, game)[:, [learner] + [group[0] for group in groups]]  # (M, K, x_d, x_r)
    sizes = [1] + [len(group) for group in groups]
    size = torch.tensor(sizes, dtype=DTYPE)
    counts = _count_states(sizes)  # (S, K)
    states = counts.shape[0]
    stride = torch.tensor([math.prod(z + 1 for z in sizes[k + 1 :]) for k in range(len(sizes))])
    good = counts.to(DTYPE)
    m_bad = good.sum(1, keepdim=True) / (n - 1)  # good fraction among the others of a bad donor
    m_good = (good.sum(1, keepdim=True) - 1) / (n - 1)  # ... of a good donor
    turn_good = (1 - m_bad) * s[:, None, :, 0, 0] + m_bad * s[:, None, :, 0, 1]  # (M, S, K)
    stay_good = (1 - m_good) * s[:, None, :, 1, 0] + m_good * s[:, None, :, 1, 1]
    up = (size - good) / n * turn_good  # rate of one more good agent in block k
    down = good / n * (1 - stay_good)
    state = torch.arange(states).unsqueeze(1)
    target_up = torch.where(counts < torch.tensor(sizes), state + stride, state).reshape(-1)
    target_down = torch.where(counts > 0, state - stride, state).reshape(-1)
    rows = state.expand(states, len(sizes)).reshape(-1)
    flat = torch.cat([rows * states + target_up, rows * states + target_down, rows * states + rows])
    batch = act.shape[0]
    values = torch.cat([up.reshape(batch, -1), down.reshape(batch, -1), -(up + down).reshape(batch, -1)], dim=1)
    generator = torch.zeros(batch, states * states, dtype=DTYPE).index_add(1, flat, values)
    pi = stationary_law(generator.reshape(batch, states, states))

    # pairs[m, k, x_other, x_learner]: expected number of block-k agents with that reputation
    learner_good = good[:, :1]
    others_good, others_bad = good[:, 1:], size[1:] - good[:, 1:]
    weights = torch.stack(
        [torch.stack([others_bad * (1 - learner_good), others_bad * learner_good], -1),
         torch.stack([others_good * (1 - learner_good), others_good * learner_good], -1)], -2
    )  # (S, K - 1, x_other, x_learner)
    pairs = torch.einsum("ms,skab->mkab", pi, weights)
    to_learner = pc[:, [group[0] for group in groups]]  # [m, k, x_donor, x_learner]
    from_learner = pc[:, learner].transpose(-1, -2).unsqueeze(1)  # [m, 1, x_rec, x_learner]
    received = (pairs * to_learner).sum((1, 2, 3)) / (n - 1)
    given = (pairs * from_learner).sum((1, 2, 3)) / (n - 1)
    return game.b * received - game.c * given
