"""The public record of an interaction (docs/model.md §1), defined once.

``Record`` is one interaction (Python ints, as the environments produce them);
``Records`` is a batch of them, each field a ``(B, T)`` tensor (as the world
produces them).  Both have the fields ``FIELDS``, in this order:

- ``donor``, ``recipient``, ``observer``: agent indices;
- ``donor_rep``, ``recipient_rep``: the donor's and the recipient's reputations
  before the interaction (0 bad, 1 good);
- ``action``: the realised action (1 = C, after the execution error);
- ``signal``: the observed signal (1 = good, after the assessment error), the
  donor's new reputation.

``NOTATION`` gives each field the short name of docs/model.md §1's record
``(d, r, x_d, x_r, a, o, signal)``, in that order: the keys of
``Record.as_dict`` (the environments' ``info["records"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True, slots=True)
class Record:
    """The public record of one interaction; fields as in the module docstring."""

    donor: int
    recipient: int
    observer: int
    donor_rep: int
    recipient_rep: int
    action: int
    signal: int

    def as_dict(self) -> dict[str, int]:
        """The record keyed by docs/model.md §1's notation: ``{d, r, x_d, x_r, a, o, signal}``."""
        return {short: getattr(self, name) for name, short in NOTATION.items()}


FIELDS = tuple(f.name for f in fields(Record))
NOTATION = {"donor": "d", "recipient": "r", "donor_rep": "x_d", "recipient_rep": "x_r", "action": "a", "observer": "o",
            "signal": "signal"}


@dataclass
class Records:
    """Public records of ``T`` interactions in each of ``B`` populations, in time order.

    Args:
        donor, recipient, observer: ``(B, T)`` integer agent indices (int32 from the world).
        donor_rep, recipient_rep: ``(B, T)`` reputations before the interaction (uint8 from the world).
        action: ``(B, T)`` realised actions, 1 = C.
        signal: ``(B, T)`` observed signals, 1 = good.
    """

    donor: torch.Tensor
    recipient: torch.Tensor
    observer: torch.Tensor
    donor_rep: torch.Tensor
    recipient_rep: torch.Tensor
    action: torch.Tensor
    signal: torch.Tensor

    FIELDS = FIELDS

    @staticmethod
    def cat(parts: list[Records]) -> Records:
        """The records of ``parts`` one after the other in time.

        Args:
            parts: records of the same ``B`` populations, ``(B, T_i)`` each.

        Returns:
            ``Records`` with fields ``(B, sum T_i)``.
        """
        return Records(*(torch.cat([getattr(p, f) for p in parts], dim=1) for f in Records.FIELDS))

    def row(self, b: int, t: int) -> Record:
        """Interaction ``t`` of population ``b`` as a ``Record`` of ints."""
        return Record(*(int(getattr(self, f)[b, t]) for f in FIELDS))

    def __len__(self) -> int:
        return self.donor.shape[1]


if tuple(f.name for f in fields(Records)) != FIELDS or set(NOTATION) != set(FIELDS):  # pragma: no cover
    raise ImportError("Record, Records and NOTATION must have the same fields")
