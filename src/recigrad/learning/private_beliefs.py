"""The private learner's beliefs of the others' views (docs/model.md §6, "The learner under private
assessment", "Per-donor beliefs").

Learner ``i`` keeps, per agent ``j`` and subject ``k``, ``belief[j, k]``: its probability that ``j`` views
``k`` good, ``M[j, k] = 1`` (``k = j``: ``j``'s self-view).  A donor acts on its **own** views, so the
context of an action sample of donor ``d`` toward ``r`` is ``d``'s believed views, not the learner's.
On each donation ``d -> r`` that the learner observes, with perceived action ``a``:

1. **context** (before anything is updated): ``(belief[d, d] >= 1/2, belief[d, r] >= 1/2)``;
2. **what the action reveals** of the donor's views: with the prior pair
   ``pi(u, x) = P(M[d, d] = u) P(M[d, r] = x)`` (beliefs independent across subjects) and the learner's
   current estimate ``p[d, u, x]`` of ``P(it perceives C | u, x)``,

        rho(u, x) = pi(u, x) l(u, x) / sum pi l,   l = p[d, u, x] if a = C else 1 - p[d, u, x]   (B1)

   (``pi`` where the sum is 0; no correction of the learner's own donations).  An estimated non-discriminator
   (``p`` flat in ``x``) reveals nothing of ``M[d, r]``; and the context of step 1 is never corrected by the
   same action;
3. **judgements**: every agent ``j`` observed it with probability ``w_j`` (1 for donor and recipient, ``q``
   for the others) and then judged ``d`` by the assumed norm at its own views of ``d`` and ``r``:

        belief[j, d] <- w_j sum_{u, x} P_j(u, x) J[a, u, x] + (1 - w_j) belief[j, d]            (B2)

   with ``P_j`` the product of ``belief[j, d]``, ``belief[j, r]`` (for ``j = d``: ``rho``, so the donor's new
   self-view reads what its action revealed) and ``J`` the probability that an observer judges the donor
   good given the learner perceived ``a`` (``judged``); and ``belief[d, r] <- sum_u rho(u, 1)``.
   The learner's own row is its own views (``view_donor``, ``view_recipient``, then its assessment).

A told view (gossip) is the speaker's view at that moment: ``belief[s, t] <- told``.  Nothing here reads
another agent's views: only the learner's observations and its own estimates.
"""

from __future__ import annotations

import torch

from recigrad.game import DTYPE


def judged(norm: torch.Tensor, perception_error: float, assessment_error: float) -> torch.Tensor:
    """``J (..., 2, 2, 2)`` over ``[a, u, x]``: the probability that an observer judges the donor good when the
    learner perceived ``a`` and the observer's views of donor and recipient are ``u``, ``x``, under the intended
    signal tables ``norm (..., 2, 2, 2)``.  Both perceive the realised action independently flipped with
    probability ``eps``, so they differ with probability ``delta = 2 eps (1 - eps)`` whatever was realised:
    ``s = (1 - delta) norm[a] + delta norm[1 - a]``, then the assessment error: ``(1 - mu) s + mu (1 - s)``."""
    delta = 2.0 * perception_error * (1.0 - perception_error)
    s = (1.0 - delta) * norm + delta * norm.flip(-3)
    return (1.0 - assessment_error) * s + assessment_error * (1.0 - s)


def initial(rows: int, n: int, initial_good: float) -> torch.Tensor:
    """``(rows, N, N)`` float64: every view good with the game's ``initial_good`` (public knowledge)."""
    return torch.full((rows, n, n), float(initial_good), dtype=DTYPE)


def contexts(belief: torch.Tensor) -> torch.Tensor:
    """The hard contexts of the beliefs: ``1`` (good) where ``belief >= 1/2``, int64."""
    return (belief >= 0.5).to(torch.int64)


def _pair(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``(..., 2, 2)`` the product distribution of two independent bits, ``P(first = 1) = p``, ``P(second = 1) = q``."""
    first = torch.stack([1.0 - p, p], -1)
    second = torch.stack([1.0 - q, q], -1)
    return first.unsqueeze(-1) * second.unsqueeze(-2)


def reveal(prior: torch.Tensor, p_c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """(B1): the posterior ``(R, 2, 2)`` over the donor's ``(M[d, d], M[d, r])`` given its perceived action
    ``a (R,)`` (1 = C), from the prior pair ``prior (R, 2, 2)`` and the estimate ``p_c (R, 2, 2)`` of
    ``P(perceived C | u, x)``; the prior where the action has probability 0 under it."""
    like = torch.where((a == 1).reshape(-1, 1, 1), p_c, 1.0 - p_c)
    joint = prior * like
    z = joint.sum((-2, -1), keepdim=True)
    return torch.where(z > 0, joint / z.clamp(min=1e-300), prior)


def observe(belief: torch.Tensor, seen: torch.Tensor, d: torch.Tensor, r: torch.Tensor, a: torch.Tensor,
            p_c: torch.Tensor, judge: torch.Tensor, observation: float, learner: torch.Tensor,
            assessment: torch.Tensor) -> torch.Tensor:
    """The beliefs after one observed donation per row (steps 2 and 3 of the module docstring).

    Args:
        belief: ``(R, N, N)`` the beliefs before (not modified).
        seen: ``(R,)`` bool, the rows that observed a donation (the others are returned unchanged).
        d, r, a: ``(R,)`` donor, recipient, perceived action (1 = C); read only where ``seen``.
        p_c: ``(R, N, 2, 2)`` the current estimates of ``P(perceived C | u, x)`` per donor.
        judge: ``(R, 2, 2, 2)`` ``judged`` per row.
        observation: ``q``, the probability that a third agent observes.
        learner: ``(R,)`` the learner's own index per row (its row of ``belief`` holds its own views,
            ``own_views``).
        assessment: ``(R,)`` the learner's own new view of the donor.

    Returns:
        ``(R, N, N)`` the new beliefs.
    """
    rows = torch.arange(belief.shape[0])
    d, r, a = d.clamp(min=0), r.clamp(min=0), a.clamp(min=0)
    of_d, of_r = belief[rows, :, d], belief[rows, :, r]  # (R, N): everyone's views of donor and recipient
    pairs = _pair(of_d, of_r)  # (R, N, 2, 2): P_j(M[j, d] = u, M[j, r] = x)
    prior = pairs[rows, d]
    post = torch.where((learner != d).reshape(-1, 1, 1), reveal(prior, p_c[rows, d], a), prior)
    pairs[rows, d] = post
    good = (pairs * judge[rows, a].unsqueeze(1)).sum((-2, -1))  # (R, N): P(j judges d good | j observed)
    weight = torch.full_like(of_d, float(observation))
    weight[rows, d] = 1.0
    weight[rows, r] = 1.0
    new_d = weight * good + (1.0 - weight) * of_d
    new_d[rows, learner] = assessment.to(belief.dtype)
    out = belief.clone()
    out[rows, :, d] = torch.where(seen.unsqueeze(-1), new_d, of_d)
    revealed = torch.where(learner != d, post[:, :, 1].sum(-1), belief[rows, d, r])
    out[rows, d, r] = torch.where(seen, revealed, belief[rows, d, r])
    return out


def own_views(belief: torch.Tensor, seen: torch.Tensor, learner: torch.Tensor, subjects: tuple[torch.Tensor, ...],
              views: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The beliefs with the learner's own row set to its own views ``views[k] (R,)`` of ``subjects[k] (R,)``
    where ``seen (R,)`` (the learner knows its own views; it reads nobody else's)."""
    rows = torch.arange(belief.shape[0])
    belief = belief.clone()
    for k, v in zip(subjects, views):
        k = k.clamp(min=0)
        belief[rows, learner, k] = torch.where(seen, v.to(belief.dtype), belief[rows, learner, k])
    return belief


def complement_symmetric(norm: torch.Tensor) -> torch.Tensor:
    """``(...,)`` bool: the intended signal tables ``norm (..., 2, 2, 2)`` that complementing both views turns into
    their complement, ``norm[a, 1 - u, 1 - x] = 1 - norm[a, u, x]`` (stern judging; none of L1-L5, L7, L8)."""
    return ((norm.flip(-1).flip(-2) - (1.0 - norm)).abs() < 1e-12).flatten(-3).all(-1)


def canonical(belief: torch.Tensor, where: torch.Tensor, learner: torch.Tensor) -> torch.Tensor:
    """(B3): each other agent's row of beliefs complemented where it believes itself bad,
    ``belief[j, .] <- 1 - belief[j, .]`` if ``belief[j, j] < 1/2`` (``j`` not the learner), in the rows
    ``where (R,)`` (a complement-symmetric assumed norm and no gossip)."""
    n = belief.shape[-1]
    self_view = belief.diagonal(dim1=-2, dim2=-1)  # (R, N)
    flip = (self_view < 0.5) & where.unsqueeze(-1)
    flip &= torch.arange(n).unsqueeze(0) != learner.unsqueeze(-1)
    return torch.where(flip.unsqueeze(-1), 1.0 - belief, belief)
