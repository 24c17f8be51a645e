"""The record of an interaction (docs/model.md §1), defined once.

``Record`` is one interaction (Python ints and tuples, as the environments
produce them); ``Records`` is a batch of them, tensors with leading ``(B, T)``
(as the world produces them).  Both have the fields ``FIELDS``, in this order
(``K`` is the game's number of observers ``k``; shapes and dtypes of ``Records``
as ``recigrad.dynamics.world.play`` returns them, ``RECORD_DTYPES``):

- ``donor``, ``recipient``: ``(B, T)`` int32 agent indices;
- ``observers``: ``(B, T, K)`` int32, the ``k`` observers in draw order; ``-1``
  everywhere in a row that was not observed (probability ``1 - q``);
- ``donor_rep``, ``recipient_rep``: ``(B, T)`` uint8, the donor's and the
  recipient's reputations *before* the interaction (0 bad, 1 good);
- ``action``: ``(B, T)`` uint8, the realised action (1 = C, after the execution error);
- ``signals``: ``(B, T, K)`` uint8, each observer's observed signal (1 = good,
  after its perception and the assessment error); 0 where not observed;
- ``perceived``: ``(B, T, K)`` uint8, the action each observer perceived (the
  realised action, flipped with the perception error); 0 where not observed.
  **Private**: a method may read only its own agents' entries (e.g. a baseline's
  own signal decisions); estimators never read it;
- ``reputation``: ``(B, T)`` uint8, the donor's reputation *after* the
  interaction (the aggregate of the signals; the old one when not observed or
  on a majority tie).

A ``Record`` has the same fields, with ``observers``, ``signals`` and
``perceived`` as tuples of length ``k`` (empty when not observed).  With the
default game ``K = 1``, every row is observed, ``perceived`` is the action and
``reputation`` the one signal.

``PUBLIC`` are the fields anyone may read (all but ``perceived``); ``NOTATION``
gives each the short name of docs/model.md §1's record, the keys of
``Record.as_dict`` (the environments' ``info["records"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True, slots=True)
class Record:
    """The record of one interaction; fields as in the module docstring (``perceived`` is private)."""

    donor: int
    recipient: int
    observers: tuple[int, ...]
    donor_rep: int
    recipient_rep: int
    action: int
    signals: tuple[int, ...]
    perceived: tuple[int, ...]
    reputation: int

    def as_dict(self) -> dict:
        """The public fields keyed by docs/model.md §1's notation: ``{d, r, x_d, x_r, a, o, signals, x_new}``
        (``o`` and ``signals`` are tuples, empty when not observed)."""
        return {short: getattr(self, name) for name, short in NOTATION.items()}


FIELDS = tuple(f.name for f in fields(Record))
PRIVATE = ("perceived",)
PUBLIC = tuple(f for f in FIELDS if f not in PRIVATE)
NOTATION = {"donor": "d", "recipient": "r", "donor_rep": "x_d", "recipient_rep": "x_r", "action": "a", "observers": "o",
            "signals": "signals", "reputation": "x_new"}
AGENT_FIELDS = ("donor", "recipient", "observers")  # int32 agent indices (-1: no observer)
PER_OBSERVER = ("observers", "signals", "perceived")  # (B, T, K); the others are (B, T)
RECORD_DTYPES = {f: torch.int32 if f in AGENT_FIELDS else torch.uint8 for f in FIELDS}


@dataclass
class Records:
    """Records of ``T`` interactions in each of ``B`` populations, in time order.

    Args:
        donor, recipient: ``(B, T)`` int32 agent indices.
        observers: ``(B, T, K)`` int32 observers in draw order, ``-1`` in unobserved rows.
        donor_rep, recipient_rep: ``(B, T)`` uint8 reputations before the interaction.
        action: ``(B, T)`` uint8 realised actions, 1 = C.
        signals: ``(B, T, K)`` uint8 observed signals, 1 = good (0 in unobserved rows).
        perceived: ``(B, T, K)`` uint8 perceived actions (private; 0 in unobserved rows).
        reputation: ``(B, T)`` uint8 the donor's reputation after the interaction.
    """

    donor: torch.Tensor
    recipient: torch.Tensor
    observers: torch.Tensor
    donor_rep: torch.Tensor
    recipient_rep: torch.Tensor
    action: torch.Tensor
    signals: torch.Tensor
    perceived: torch.Tensor
    reputation: torch.Tensor

    FIELDS = FIELDS

    @staticmethod
    def cat(parts: list[Records]) -> Records:
        """The records of ``parts`` one after the other in time.

        Args:
            parts: records of the same ``B`` populations (and the same ``K``), ``(B, T_i)`` each.

        Returns:
            ``Records`` with fields ``(B, sum T_i[, K])``.
        """
        return Records(*(torch.cat([getattr(p, f) for p in parts], dim=1) for f in Records.FIELDS))

    @property
    def observed(self) -> torch.Tensor:
        """``(B, T)`` bool: the interactions that were observed."""
        return self.observers[..., 0] >= 0

    def row(self, b: int, t: int) -> Record:
        """Interaction ``t`` of population ``b`` as a ``Record`` (tuples empty when not observed)."""
        values = {}
        seen = int(self.observers[b, t, 0]) >= 0
        for f in FIELDS:
            value = getattr(self, f)[b, t]
            values[f] = (tuple(int(v) for v in value) if seen else ()) if f in PER_OBSERVER else int(value)
        return Record(**values)

    def __len__(self) -> int:
        return self.donor.shape[1]


if tuple(f.name for f in fields(Records)) != FIELDS or set(NOTATION) != set(PUBLIC):  # pragma: no cover
    raise ImportError("Record, Records and NOTATION must have the same fields")
