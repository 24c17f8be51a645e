"""Decision contexts and their flat indices, defined once (docs/model.md §2).

An agent decides in two roles:

- as donor, its *action* in the context ``(x_own, x_rec)``: 4 action contexts,
  numbered ``2 x_own + x_rec``, the row-major order of ``act[x_own, x_rec]``;
- as observer, its *signal* in the context ``(a, x_donor, x_rec)``: 8 signal
  contexts, numbered ``4 a + 2 x_donor + x_rec``, the row-major order of
  ``sig[a, x_donor, x_rec]``.

The 12 *decision contexts* are numbered like the 12 logits of a policy
(``act.flatten() ++ sig.flatten()``): ``0..3`` the action contexts, ``4..11``
the signal contexts ``4 + signal_context``.

The literature writes deterministic tables as bit strings (1 = cooperate /
assessed good; G good, B bad, C cooperate, D defect):

- third-order norms over ``LEADING_EIGHT_COLUMNS`` = GGC GGD GBC GBD BGC BGD
  BBC BBD (donor, recipient, action; Ohtsuki & Iwasa 2004);
- second-order norms over ``SECOND_ORDER_COLUMNS`` = C to good, D to good,
  C to bad, D to bad (action, recipient; copied over the donor's reputation);
- action rules over ``ACTION_RULE_COLUMNS`` = GG GB BG BB (own, recipient).

The index functions are plain arithmetic, so they take Python ints, numpy
arrays or tensors alike (and numba compiles them into the world's loop).
"""

from __future__ import annotations

import torch

from recigrad.errors import ConfigError
from recigrad.game.rules import DTYPE

ACTION_CONTEXTS = 4
SIGNAL_CONTEXTS = 8
CONTEXTS = ACTION_CONTEXTS + SIGNAL_CONTEXTS

# bit-string columns: each column's (a, x_donor, x_rec) or (x_own, x_rec), 1 = good / C
LEADING_EIGHT_COLUMNS = ("GGC", "GGD", "GBC", "GBD", "BGC", "BGD", "BBC", "BBD")
SECOND_ORDER_COLUMNS = ("C to good", "D to good", "C to bad", "D to bad")
ACTION_RULE_COLUMNS = ("GG", "GB", "BG", "BB")
_GOOD = {"G": 1, "B": 0}
_COOPERATE = {"C": 1, "D": 0}
_LEADING_EIGHT_CELLS = tuple((_COOPERATE[col[2]], _GOOD[col[0]], _GOOD[col[1]]) for col in LEADING_EIGHT_COLUMNS)
_SECOND_ORDER_CELLS = ((1, 1), (0, 1), (1, 0), (0, 0))  # (a, x_rec)
_ACTION_RULE_CELLS = tuple((_GOOD[col[0]], _GOOD[col[1]]) for col in ACTION_RULE_COLUMNS)


def action_context(x_own, x_rec):
    """The action context number ``2 x_own + x_rec`` (0..3), also its decision context number.

    Args:
        x_own: the donor's reputation (0 bad, 1 good); an int, array or tensor.
        x_rec: the recipient's reputation, same shape as ``x_own``.

    Returns:
        The context number, of the inputs' shape and type.
    """
    return 2 * x_own + x_rec


def signal_context(a, x_donor, x_rec):
    """The signal context number ``4 a + 2 x_donor + x_rec`` (0..7).

    Args:
        a: the realised action (1 = C); an int, array or tensor.
        x_donor: the donor's reputation before the interaction, same shape.
        x_rec: the recipient's reputation, same shape.

    Returns:
        The context number, of the inputs' shape and type.
    """
    return 4 * a + 2 * x_donor + x_rec


def signal_decision(a, x_donor, x_rec):
    """The decision context number ``4 + signal_context(a, x_donor, x_rec)`` (4..11)
    of a signal: the index of its logit among the 12.

    Args:
        a, x_donor, x_rec: as for ``signal_context``.

    Returns:
        The decision context number, of the inputs' shape and type.
    """
    return ACTION_CONTEXTS + signal_context(a, x_donor, x_rec)


def action_fields(context: int) -> tuple[int, int]:
    """The inverse of ``action_context``.

    Args:
        context: an action context number, 0..3.

    Returns:
        ``(x_own, x_rec)``.
    """
    if not 0 <= context < ACTION_CONTEXTS:
        raise ValueError(f"an action context is 0..{ACTION_CONTEXTS - 1}, got {context}")
    return context // 2, context % 2


def signal_fields(context: int) -> tuple[int, int, int]:
    """The inverse of ``signal_context``.

    Args:
        context: a signal context number, 0..7.

    Returns:
        ``(a, x_donor, x_rec)``.
    """
    if not 0 <= context < SIGNAL_CONTEXTS:
        raise ValueError(f"a signal context is 0..{SIGNAL_CONTEXTS - 1}, got {context}")
    return context // 4, context // 2 % 2, context % 2


def decision_fields(decision: int) -> tuple[str, tuple[int, ...]]:
    """The role and context of a decision context number (the inverse of
    ``action_context`` for 0..3 and of ``signal_decision`` for 4..11).

    Args:
        decision: a decision context number, 0..11.

    Returns:
        ``("action", (x_own, x_rec))`` or ``("signal", (a, x_donor, x_rec))``.
    """
    if not 0 <= decision < CONTEXTS:
        raise ValueError(f"a decision context is 0..{CONTEXTS - 1}, got {decision}")
    if decision < ACTION_CONTEXTS:
        return "action", action_fields(decision)
    return "signal", signal_fields(decision - ACTION_CONTEXTS)


def flat_tables(act: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
    """One value per decision context.

    Args:
        act: action tables ``(..., 2, 2)`` over ``[x_own, x_rec]``.
        sig: signal tables ``(..., 2, 2, 2)`` over ``[a, x_donor, x_rec]``, same leading shape.

    Returns:
        ``(..., 12)``: entry ``k`` is the table entry of decision context ``k``.
    """
    return torch.cat([act.flatten(-2), sig.flatten(-3)], -1)


def split_tables(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of ``flat_tables``.

    Args:
        flat: ``(..., 12)`` values per decision context.

    Returns:
        ``act (..., 2, 2)`` and ``sig (..., 2, 2, 2)`` (views of ``flat``).
    """
    lead = flat.shape[:-1]
    return flat[..., :ACTION_CONTEXTS].reshape(*lead, 2, 2), flat[..., ACTION_CONTEXTS:].reshape(*lead, 2, 2, 2)


def _check_bits(bits: str, sizes: tuple[int, ...], what: str) -> None:
    if not isinstance(bits, str) or len(bits) not in sizes or set(bits) - {"0", "1"}:
        raise ConfigError(f"{what} must be a string of {' or '.join(map(str, sizes))} bits 0/1, got {bits!r}")


def signal_from_bits(bits: str) -> torch.Tensor:
    """A deterministic signal table from the literature's bit string.

    Args:
        bits: 8 bits over ``LEADING_EIGHT_COLUMNS`` (third order) or 4 bits over
            ``SECOND_ORDER_COLUMNS`` (second order); 1 = assessed good.

    Returns:
        ``sig (2, 2, 2)`` over ``[a, x_donor, x_rec]``, float64.
    """
    _check_bits(bits, (4, 8), "a norm's bit string")
    return signal_from_values([float(bit) for bit in bits])


def signal_from_values(values) -> torch.Tensor:
    """A signal table from its entries in the bit-string orders (``signal_from_bits``
    with probabilities allowed; docs/model.md §2).

    Args:
        values: 8 numbers over ``LEADING_EIGHT_COLUMNS`` or 4 over
            ``SECOND_ORDER_COLUMNS`` (copied over the donor's reputation); the
            caller checks that they are in [0, 1].

    Returns:
        ``sig (2, 2, 2)`` over ``[a, x_donor, x_rec]``, float64.
    """
    if len(values) not in (4, 8):
        raise ConfigError(f"a signal table has 4 or 8 entries, got {len(values)}")
    sig = torch.zeros(2, 2, 2, dtype=DTYPE)
    if len(values) == 4:
        for (a, x_rec), value in zip(_SECOND_ORDER_CELLS, values):
            sig[a, :, x_rec] = float(value)
        return sig
    for cell, value in zip(_LEADING_EIGHT_CELLS, values):
        sig[cell] = float(value)
    return sig


def signal_bits(sig: torch.Tensor) -> str:
    """The bit string of a deterministic signal table (the inverse of ``signal_from_bits``
    for 8 bits).

    Args:
        sig: ``(2, 2, 2)`` over ``[a, x_donor, x_rec]`` with entries 0 or 1.

    Returns:
        8 bits over ``LEADING_EIGHT_COLUMNS``.
    """
    return "".join(str(int(sig[cell])) for cell in _LEADING_EIGHT_CELLS)


def action_from_bits(bits: str) -> torch.Tensor:
    """A deterministic action table from its bit string.

    Args:
        bits: 4 bits over ``ACTION_RULE_COLUMNS`` (GG GB BG BB: own, recipient); 1 = cooperate.

    Returns:
        ``act (2, 2)`` over ``[x_own, x_rec]``, float64.
    """
    _check_bits(bits, (4,), "an action rule's bit string")
    return action_from_values([float(bit) for bit in bits])


def action_from_values(values) -> torch.Tensor:
    """An action table from its 4 entries over ``ACTION_RULE_COLUMNS`` (``action_from_bits``
    with probabilities allowed; the caller checks that they are in [0, 1]).

    Returns:
        ``act (2, 2)`` over ``[x_own, x_rec]``, float64.
    """
    if len(values) != 4:
        raise ConfigError(f"an action table has 4 entries, got {len(values)}")
    act = torch.zeros(2, 2, dtype=DTYPE)
    for cell, value in zip(_ACTION_RULE_CELLS, values):
        act[cell] = float(value)
    return act


def action_bits(act: torch.Tensor) -> str:
    """The bit string of a deterministic action table (the inverse of ``action_from_bits``).

    Args:
        act: ``(2, 2)`` over ``[x_own, x_rec]`` with entries 0 or 1.

    Returns:
        4 bits over ``ACTION_RULE_COLUMNS``.
    """
    return "".join(str(int(act[cell])) for cell in _ACTION_RULE_CELLS)
