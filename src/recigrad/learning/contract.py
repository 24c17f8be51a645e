"""The method contract (``docs/model.md §11``) and the registry of methods.

A *method* is a module with two functions over a *state*, one state for a batch
of ``B`` independent populations (one per seed) of the regime's ``N`` agents, ``L``
of them learners:

- ``start(regime, seeds) -> state``: the initial state.  The learners' tables
  start at ``recigrad.learning.tables.initial_logits`` and only the heads of
  ``regime.train.components`` learn (``recigrad.learning.tables.trainable``);
  the other head stays exactly where it started.
- ``step(state) -> Tensor (B, L)``: one training iteration, in place.  It plays
  exactly ``regime.train.interactions`` interactions of the world per
  population (so after ``k`` steps ``state.interactions == k *
  regime.train.interactions``) and returns a per-learner figure of the
  iteration (the learner's payoff per round, in its model or in the records).

The state has

- ``tables() -> (act (B, N, 2, 2), sig (B, N, 2, 2, 2))``: everyone's current true
  intended tables, for the world and for evaluation only;
- ``play(interactions) -> Records``: the world plays with those tables and
  returns the public records.  It is the only place where a method may use the
  true tables: a learner reads public records and its own parameters, never
  another agent's true tables (``docs/model.md §5``);
- ``interactions``: interactions played so far per population;
- ``state_dict() -> (meta, tensors)``: everything training changes, as a
  JSON-able dict and a dict of named tensors (no pickle);
- ``load_state_dict(meta, tensors)``: called on a fresh ``start(regime, seeds)``
  state, it checks every field against that state (names, shapes and dtypes
  exactly as the fresh state has them, values in range, counts consistent) and
  loads them, so that training continues to the same numbers as an
  uninterrupted run.  A field that does not fit raises ``StateError`` (one line:
  the field, what is wrong, what is allowed) and leaves nothing half-loaded
  that the caller would keep.

A seed gives the same run alone or inside a batch, bit for bit.  Adding a
method is adding a line to ``METHODS``; ``tests/test_methods.py`` then tests it
against this contract.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import Protocol, runtime_checkable

import torch

from recigrad.errors import ConfigError

METHODS = {
    "rg": "recigrad.learning.reciprocity_gradient",
    "reinforce": "recigrad.learning.baselines.reinforce",
    "ppo": "recigrad.learning.baselines.ppo",
    "reinforce-mlp": "recigrad.learning.baselines.reinforce_mlp",
    "a2c-mlp": "recigrad.learning.baselines.a2c_mlp",
    "ppo-mlp": "recigrad.learning.baselines.ppo_mlp",
    "sb3-ppo": "recigrad.learning.baselines.sb3_ppo",
    "sb3-a2c": "recigrad.learning.baselines.sb3_a2c",
    "sb3-ppo-default": "recigrad.learning.baselines.sb3_ppo_default",
    "sb3-a2c-default": "recigrad.learning.baselines.sb3_a2c_default",
}


@runtime_checkable
class MethodState(Protocol):
    """The training state of a batch of ``B`` populations of ``N`` agents, ``L`` of them learners."""

    interactions: int  # interactions played so far, per population

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Everyone's current true intended tables, for the world and evaluation only.

        Returns:
            ``act (B, N, 2, 2)`` indexed ``[x_own, x_rec]`` and ``sig (B, N, 2, 2, 2)`` indexed
            ``[a, x_donor, x_rec]``: probabilities of C and of a good signal.
        """

    def play(self, interactions: int):
        """The world plays with ``tables()``: the only place a method uses true tables.

        Args:
            interactions: interactions to play in every population.

        Returns:
            The public ``Records``, each field ``(B, interactions)``.
        """

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """Everything training changes, for a checkpoint.

        Returns:
            ``(meta, tensors)``: JSON-able data (scalars, settings, random generator states)
            and named tensors.
        """

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Check a checkpoint against this fresh ``start(regime, seeds)`` state, field by field, and load it.

        Args:
            meta: the JSON-able part, as ``state_dict`` wrote it.
            tensors: the named tensors, as ``state_dict`` wrote them.

        Raises:
            StateError: a field missing or with another shape, dtype or range than this run allows.
        """


@runtime_checkable
class Method(Protocol):
    """A training method: a module with ``start`` and ``step``."""

    def start(self, regime, seeds: list[int]) -> MethodState:
        """The initial state.

        Args:
            regime: the game, the population and the training settings (``regime.train``).
            seeds: one seed per population; ``B = len(seeds)``.

        Returns:
            The state; learners' tables at ``tables.initial_logits``, only the heads of
            ``regime.train.components`` learning.
        """

    def step(self, state: MethodState) -> torch.Tensor:
        """One training iteration, in place: ``regime.train.interactions`` interactions per population.

        Args:
            state: the state from ``start``.

        Returns:
            A figure per learner ``(B, L)``: its payoff per round (in its model or in the records).
        """


def method(name: str) -> Method:
    """The method registered as ``name`` in ``METHODS``, imported on first use.

    Args:
        name: a key of ``METHODS``.

    Returns:
        The method's module.
    """
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return importlib.import_module(METHODS[name])


# ---------------------------------------------------------------------------
# checking a saved state field by field


class StateError(ConfigError):
    """A saved state that does not fit this run: one line, the field, what is wrong and what is allowed."""


MISSING = object()  # a field that is not there


def shown(value) -> str:
    """``value`` as short JSON for a one-line message (``missing`` for ``MISSING``)."""
    if value is MISSING:
        return "missing"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _label(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_int(meta: dict, key: str, low: int | None, high: int | None, where: str = "state") -> int:
    """``meta[key]``, an integer in ``[low, high]`` (``None``: unbounded)."""
    value = meta.get(key, MISSING) if isinstance(meta, dict) else MISSING
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise StateError(f"{_label(where, key)} is {shown(value)}; allowed: an integer in {bounds}")
    return value


def check_tensor(tensors: dict[str, torch.Tensor], name: str, like: torch.Tensor, finite: bool = False,
                 low: float | None = None, values: tuple | None = None, dtype: bool = True) -> torch.Tensor:
    """``tensors[name]`` if it has exactly the shape (and, with ``dtype``, the dtype) of ``like``
    and its values are finite (``finite``), at least ``low``, or among ``values``."""
    if name not in tensors:
        raise StateError(f"tensor {name} is missing; allowed: the tensors of this method's state")
    t = tensors[name]
    if tuple(t.shape) != tuple(like.shape):
        raise StateError(f"tensor {name} has shape {tuple(t.shape)}; allowed: exactly {tuple(like.shape)}")
    if dtype and t.dtype != like.dtype:
        raise StateError(f"tensor {name} has dtype {t.dtype}; allowed: {like.dtype}")
    if finite and t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
        raise StateError(f"tensor {name} holds a value that is not finite; allowed: finite numbers")
    if low is not None and bool((t < low).any()):
        raise StateError(f"tensor {name} holds {t.min().item()!r}; allowed: values >= {low}")
    if values is not None and not bool(torch.isin(t, torch.tensor(values, dtype=t.dtype)).all()):
        bad = t[~torch.isin(t, torch.tensor(values, dtype=t.dtype))][0].item()
        raise StateError(f"tensor {name} holds {bad!r}; allowed: only {', '.join(map(str, values))}")
    return t


def check_streams(meta: dict, key: str, streams) -> None:
    """``meta[key]``: one numpy PCG64 state per population of ``streams``."""
    states = meta.get(key)
    allowed = f"allowed: {len(streams)} PCG64 generator states, one per seed"
    if not isinstance(states, list) or len(states) != len(streams):
        raise StateError(f"state.{key} is {shown(states)}; {allowed}")
    import numpy as np

    probe = np.random.PCG64()
    for k, state in enumerate(states):
        try:
            probe.state = state
        except (TypeError, ValueError, KeyError) as err:
            raise StateError(f"state.{key}[{k}] is not a generator state ({err}); {allowed}") from None


def check_finite_number(meta: dict, key: str, where: str) -> float:
    """``meta[key]``: a finite number >= 0."""
    value = meta.get(key, MISSING) if isinstance(meta, dict) else MISSING
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise StateError(f"{_label(where, key)} is {shown(value)}; allowed: a finite number >= 0")
    return float(value)
