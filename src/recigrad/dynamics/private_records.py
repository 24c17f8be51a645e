"""What each learner observes in the private-assessment world (docs/model.md §6, "The learner
under private assessment").

``observations(records, learners)`` cuts out of the world's ``PrivateRecords`` (which hold every
agent's private data) what each learner saw itself, batched over populations and learners:

- the interactions it took part in or observed (donor, recipient or drawn observer): donor,
  recipient, the action **it** perceived, its **own** views of donor and recipient before the
  interaction and its own new view of the donor;
- the gossip events it heard (it was the listener): speaker, subject, the view told, adopted.

Nothing else: an interaction it did not observe leaves ``-1`` in every field (not even who took
part), and no field reads another agent's views, assessments or perceptions, nor gossip between
others.  A learner's observations are a function of its own column of the private fields and of
the public fields of the rows it observed (tests/test_private_learner.py checks this by changing
everything else).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.dynamics.private import PrivateRecords


@dataclass
class Observations:
    """Per population, learner and interaction ``(B, L, T)`` int64, ``-1`` where the learner did not
    observe the interaction: ``donor``, ``recipient``, ``perceived`` (the action it perceived, 1 = C),
    ``view_donor``, ``view_recipient`` (its own views of them before the interaction) and
    ``assessment`` (its own new view of the donor); ``seen (B, L, T)`` bool.  ``heard (B, L, T, G, 4)``
    int64: per gossip slot of the interaction in which the learner was the listener, ``(speaker,
    subject, told, adopted)``; ``-1`` elsewhere."""

    seen: torch.Tensor
    donor: torch.Tensor
    recipient: torch.Tensor
    perceived: torch.Tensor
    view_donor: torch.Tensor
    view_recipient: torch.Tensor
    assessment: torch.Tensor
    heard: torch.Tensor

    def __len__(self) -> int:
        return self.seen.shape[2]


def observations(records: PrivateRecords, learners: list[int]) -> Observations:
    """What each of ``learners`` observed of ``records`` (module docstring).

    Args:
        records: the world's ``PrivateRecords`` of ``B`` populations, ``T`` interactions.
        learners: the ``L`` learners' agent indices (the same in every population).

    Returns:
        ``Observations`` with fields ``(B, L, T)`` (``heard (B, L, T, G, 4)``).
    """
    index = torch.tensor(learners, dtype=torch.int64)
    own = records.assessment.to(torch.int64)[:, :, index].permute(0, 2, 1)  # (B, L, T)
    seen = own >= 0
    hidden = torch.full_like(own, -1)

    def keep(value: torch.Tensor) -> torch.Tensor:
        return torch.where(seen, value, hidden)

    public = {name: keep(getattr(records, name).to(torch.int64).unsqueeze(1).expand_as(own))
              for name in ("donor", "recipient")}
    perceived = keep(records.perceived.to(torch.int64)[:, :, index].permute(0, 2, 1))
    views = records.views.to(torch.int64)[:, :, index].permute(0, 2, 1, 3)  # (B, L, T, 2)
    gossip = records.gossip.to(torch.int64).unsqueeze(1)  # (B, 1, T, G, 5)
    mine = gossip[..., 1] == index.reshape(1, -1, 1, 1)  # (B, L, T, G): the learner listened
    heard = torch.where(mine.unsqueeze(-1), gossip[..., [0, 2, 3, 4]], torch.full((), -1, dtype=torch.int64))
    return Observations(seen=seen, donor=public["donor"], recipient=public["recipient"], perceived=perceived,
                        view_donor=keep(views[..., 0]), view_recipient=keep(views[..., 1]), assessment=own,
                        heard=heard)
