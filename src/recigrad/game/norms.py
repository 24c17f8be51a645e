"""Named assessment norms, action rules and strategies (docs/model.md §2).

A norm is a deterministic signal table ``sig[a, x_donor, x_rec]``; an action
rule is a deterministic action table ``act[x_own, x_rec]``.  A fixed strategy
pairs an action rule (``allc``, ``alld``, ``disc`` or the norm's own rule) with
a norm for its signals.

Besides the named norms, a norm may be given by its tables (``Norm``, docs/model.md
§2 "Norms of your own"): from a regime file's ``[norms.NAME]`` table
(``norm_from_tables``), from bit strings (``norm_from_bits``, ``--pop
disc:10111010/1011:7``), or as one of the 16 second-order rules by number
(``rule-0`` .. ``rule-15``).  ``resolve_norm`` turns any of these names into what
an ``Agent`` holds: a name of ``NORMS`` or ``RULES`` (a string), or a ``Norm``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from recigrad.game.contexts import action_from_bits, action_from_values, signal_from_bits, signal_from_values
from recigrad.game.rules import ConfigError, short_repr

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
# the 16 second-order rules by number: bits (C to good, D to good, C to bad, D to bad), C to good the most
# significant bit (docs/model.md §2): stern judging = rule-9, simple standing = rule-11, image scoring = rule-10
RULES = {f"rule-{number}": format(number, "04b") for number in range(16)}
RANDOM = "random"  # learner:random: a learner that starts from random logits (no norm)
MAX_NORMS = 1000  # [norms.*] tables in one file
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]{0,63}")


@dataclass(frozen=True)
class Norm:
    """A norm given by its tables (docs/model.md §2 "Norms of your own").

    ``sig`` holds the 8 entries of ``sig[a, x_donor, x_rec]`` in row-major order
    (probabilities of assessing good); ``act`` the 4 entries of ``act[x_own, x_rec]``
    (probabilities of intending C), the rule of agents of kind ``norm`` (and of a
    ``learner``'s warm-up), or ``None``: the ``disc`` rule.  ``str(norm)`` is its name.
    """

    name: str
    sig: tuple[float, ...]
    act: tuple[float, ...] | None = None

    def __str__(self) -> str:
        return self.name

    def signal(self) -> torch.Tensor:
        return torch.tensor(self.sig, dtype=torch.float64).reshape(2, 2, 2)

    def action(self) -> torch.Tensor:
        if self.act is None:
            return action_from_bits(_ACTION_RULES["disc"])
        return torch.tensor(self.act, dtype=torch.float64).reshape(2, 2)


def _values(key: str, values, sizes: tuple[int, ...]) -> list[float]:
    """Checked table entries: a list of ``sizes`` numbers in [0, 1] (not booleans)."""
    allowed = " or ".join(map(str, sizes))
    if not isinstance(values, (list, tuple)) or len(values) not in sizes:
        raise ConfigError(f"{key} must be a list of {allowed} numbers in [0, 1], got {short_repr(values)}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:  # NaN fails too
            raise ConfigError(f"{key} must be a list of {allowed} numbers in [0, 1], got the entry {short_repr(value)}")
    return [float(v) for v in values]


def norm_from_tables(name: str, assessment, action=None, key: str = "norms") -> Norm:
    """A ``Norm`` from a regime file's lists (docs/model.md §2, §10).

    Args:
        name: the norm's name.
        assessment: 8 numbers over ``GGC GGD GBC GBD BGC BGD BBC BBD`` (donor's
            reputation, recipient's, action) or 4 over ``GC GD BC BD`` (recipient's
            reputation, action; second order); 1 = good, values between are probabilities.
        action: ``None`` (the ``disc`` rule) or 4 numbers over ``GG GB BG BB``
            (own reputation, recipient's); 1 = cooperate.
        key: where the lists came from, for messages (``norms.NAME``).

    Raises:
        ConfigError: one line naming the key, for anything but such lists.
    """
    sig = signal_from_values(_values(f"{key}.assessment", assessment, (4, 8)))
    act = None if action is None else action_from_values(_values(f"{key}.action", action, (4,)))
    return Norm(name, tuple(sig.flatten().tolist()), None if act is None else tuple(act.flatten().tolist()))


def norm_from_bits(text: str, key: str = "norm") -> Norm:
    """A ``Norm`` from bit strings ``ASSESSMENT`` or ``ASSESSMENT/ACTION`` (8 or 4
    assessment bits, 4 action bits, orders as ``norm_from_tables``); its name is ``text``."""
    assessment, _, action = text.partition("/")
    try:
        sig = signal_from_bits(assessment)
        act = action_from_bits(action) if "/" in text else None
    except ConfigError as err:
        raise ConfigError(f"{key} {short_repr(text)}: {err}") from None
    return Norm(text, tuple(sig.flatten().tolist()), None if act is None else tuple(act.flatten().tolist()))


def is_bits(text) -> bool:
    """True when ``text`` is written like a bit-string norm (digits 0/1 and at most one ``/``)."""
    return isinstance(text, str) and bool(text) and set(text) <= {"0", "1", "/"}


def check_norm_name(name, key: str) -> str:
    """A new norm's name: letters, digits, ``_ . + -``, not a shipped name, a rule number or ``random``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{key}: a norm's name is a letter then up to 63 letters, digits or _ . + -, got {short_repr(name)}")
    if name in NORMS or name in RULES or name == RANDOM:
        raise ConfigError(f"{key}: {name!r} is a shipped name; give your norm another name")
    return name


def resolve_norm(name, custom: dict | None = None, key: str = "norm"):
    """What an ``Agent`` holds for the norm called ``name``: a ``Norm`` of ``custom``
    (``[norms.*]`` tables, ``--norms``), a ``Norm`` spelled as bits, or a shipped
    name (``NORMS``, ``RULES``, ``random``) as a string.

    Raises:
        ConfigError: an unknown name, one line listing what is allowed.
    """
    custom = custom or {}
    if isinstance(name, Norm):
        return name
    if isinstance(name, str) and name in custom:
        return custom[name]
    if isinstance(name, str) and (name in NORMS or name in RULES or name == RANDOM):
        return name
    if is_bits(name):
        return norm_from_bits(name, key)
    own = f", {', '.join(list(custom)[:10])}" if custom else ""
    what = f"{key} = {short_repr(name)} is not allowed" if key else f"unknown norm {short_repr(name)}"
    raise ConfigError(f"{what}; allowed: {', '.join(NORMS)}, rule-0 .. rule-15{own}, "
                      "bit strings (e.g. 10111010/1011), or a learner's 'random'")


def canonical_norm(name: str) -> str:
    """The canonical name of a norm: ``L3`` and ``L6`` are aliases of simple
    standing and stern judging, which are second order."""
    if name in RULES:
        return name
    if name not in NORMS:
        raise ConfigError(f"unknown norm {name!r}; allowed: {', '.join(NORMS)}")
    return ALIASES.get(name, name)


def signal_table(norm) -> torch.Tensor:
    """Signal table ``sig[a, x_donor, x_rec]`` of a named norm, a rule number or a ``Norm``."""
    if isinstance(norm, Norm):
        return norm.signal()
    if norm in RULES:
        return signal_from_bits(RULES[norm])
    norm = canonical_norm(norm)
    return signal_from_bits(_SECOND_ORDER[norm] if norm in _SECOND_ORDER else _LEADING_EIGHT[norm])


def action_table(kind: str, norm="stern-judging") -> torch.Tensor:
    """Deterministic action table ``act[x_own, x_rec]`` of an action rule.

    ``norm`` (and ``learner``, whose warm-up is the norm) takes the norm's own
    rule: cooperate iff the recipient is good, and L1/L2 also cooperate when
    both are bad; a ``Norm``'s own rule is its ``action`` table (``disc`` if none)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown agent kind {kind!r}; allowed: {', '.join(KINDS)}")
    if kind in ("norm", "learner") and isinstance(norm, Norm):
        return norm.action()
    if kind in ("norm", "learner"):
        kind = "disc-or-both-bad" if norm in ("L1", "L2") else "disc"
    return action_from_bits(_ACTION_RULES[kind])


def is_second_order(act: torch.Tensor, sig: torch.Tensor) -> bool:
    """True when no table depends on the donor's own reputation."""
    return bool(torch.equal(act[..., 0, :], act[..., 1, :]) and torch.equal(sig[..., 0, :], sig[..., 1, :]))
