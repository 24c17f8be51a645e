"""Named assessment norms, action rules and strategies (SPEC section 2).

A norm is a deterministic signal table ``sig[a, x_donor, x_rec]``; an action
rule is a deterministic action table ``act[x_own, x_rec]``.  A fixed strategy
pairs an action rule (``allc``, ``alld``, ``disc`` or the norm's own rule) with
a norm for its signals.
"""

from __future__ import annotations

import torch

from recigrad.game.rules import DTYPE, ConfigError

# Leading eight, columns GGC GGD GBC GBD BGC BGD BBC BBD (donor, recipient, action).
_LEADING_EIGHT = {
    "L1": "10111010",
    "L2": "10011010",
    "L3": "10111011",
    "L4": "10111001",
    "L5": "10011011",
    "L6": "10011001",
    "L7": "10111000",
    "L8": "10011000",
}
# Second-order norms, columns C-to-good D-to-good C-to-bad D-to-bad.
_SECOND_ORDER = {
    "image-scoring": "1010",
    "simple-standing": "1011",
    "stern-judging": "1001",
    "shunning": "1000",
}
ALIASES = {"L3": "simple-standing", "L6": "stern-judging"}
NORMS = tuple(_SECOND_ORDER) + tuple(_LEADING_EIGHT)
KINDS = ("allc", "alld", "disc", "norm", "learner")


def canonical_norm(name: str) -> str:
    """The canonical name of a norm: ``L3`` and ``L6`` are aliases of simple
    standing and stern judging, which are second order."""
    if name not in NORMS:
        raise ConfigError(f"unknown norm {name!r}; allowed: {', '.join(NORMS)}")
    return ALIASES.get(name, name)


def signal_table(norm: str) -> torch.Tensor:
    """Deterministic signal table ``sig[a, x_donor, x_rec]`` of a named norm."""
    norm = canonical_norm(norm)
    sig = torch.zeros(2, 2, 2, dtype=DTYPE)
    if norm in _SECOND_ORDER:
        cg, dg, cb, db = (float(ch) for ch in _SECOND_ORDER[norm])
        sig[1, :, 1], sig[0, :, 1], sig[1, :, 0], sig[0, :, 0] = cg, dg, cb, db
        return sig
    bits = _LEADING_EIGHT[norm]
    column = 0
    for x_donor in (1, 0):
        for x_rec in (1, 0):
            for a in (1, 0):
                sig[a, x_donor, x_rec] = float(bits[column])
                column += 1
    return sig


def action_table(kind: str, norm: str = "stern-judging") -> torch.Tensor:
    """Deterministic action table ``act[x_own, x_rec]`` of an action rule.

    ``norm`` (and ``learner``, whose warm-up is the norm) takes the norm's own
    rule: cooperate iff the recipient is good, and L1/L2 also cooperate when
    both are bad."""
    if kind not in KINDS:
        raise ConfigError(f"unknown agent kind {kind!r}; allowed: {', '.join(KINDS)}")
    act = torch.zeros(2, 2, dtype=DTYPE)
    if kind == "allc":
        act[:] = 1.0
    elif kind == "disc":
        act[:, 1] = 1.0
    elif kind in ("norm", "learner"):
        act[:, 1] = 1.0
        if norm in ("L1", "L2"):
            act[0, 0] = 1.0
    return act


def is_second_order(act: torch.Tensor, sig: torch.Tensor) -> bool:
    """True when no table depends on the donor's own reputation."""
    return bool(torch.equal(act[..., 0, :], act[..., 1, :]) and torch.equal(sig[..., 0, :], sig[..., 1, :]))
