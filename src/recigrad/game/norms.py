"""Named assessment norms, action rules and strategies (docs/model.md §2).

A norm is a deterministic signal table ``sig[a, x_donor, x_rec]``; an action
rule is a deterministic action table ``act[x_own, x_rec]``.  A fixed strategy
pairs an action rule (``allc``, ``alld``, ``disc`` or the norm's own rule) with
a norm for its signals.
"""

from __future__ import annotations

import torch

from recigrad.game.contexts import action_from_bits, signal_from_bits
from recigrad.game.rules import ConfigError

# Leading eight, bit strings over contexts.LEADING_EIGHT_COLUMNS: GGC GGD GBC GBD BGC BGD BBC BBD (donor, recipient, action).
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
# Second-order norms, over contexts.SECOND_ORDER_COLUMNS: C to good, D to good, C to bad, D to bad.
_SECOND_ORDER = {
    "image-scoring": "1010",
    "simple-standing": "1011",
    "stern-judging": "1001",
    "shunning": "1000",
}
# Action rules, over contexts.ACTION_RULE_COLUMNS: GG GB BG BB (own, recipient).
_ACTION_RULES = {"allc": "1111", "alld": "0000", "disc": "1010", "disc-or-both-bad": "1011"}
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
    return signal_from_bits(_SECOND_ORDER[norm] if norm in _SECOND_ORDER else _LEADING_EIGHT[norm])


def action_table(kind: str, norm: str = "stern-judging") -> torch.Tensor:
    """Deterministic action table ``act[x_own, x_rec]`` of an action rule.

    ``norm`` (and ``learner``, whose warm-up is the norm) takes the norm's own
    rule: cooperate iff the recipient is good, and L1/L2 also cooperate when
    both are bad."""
    if kind not in KINDS:
        raise ConfigError(f"unknown agent kind {kind!r}; allowed: {', '.join(KINDS)}")
    if kind in ("norm", "learner"):
        kind = "disc-or-both-bad" if norm in ("L1", "L2") else "disc"
    return action_from_bits(_ACTION_RULES[kind])


def is_second_order(act: torch.Tensor, sig: torch.Tensor) -> bool:
    """True when no table depends on the donor's own reputation."""
    return bool(torch.equal(act[..., 0, :], act[..., 1, :]) and torch.equal(sig[..., 0, :], sig[..., 1, :]))
