"""The policy tables every method trains, and what every method's state shares
(``docs/model.md §2``, ``§6``, ``§7``, ``§11``).

- ``initial_logits``: the learners' starting logits (a warm-up norm's tables at
  +-``WARMUP_LOGIT``, ``warmup_logits``, or standard-normal logits from the
  ``learner-init`` stream), the same for every method;
- ``trainable``: the one rule for which heads learn (``components``);
- ``LearnerTables``: the part of a training state every method shares: the
  fixed agents' true tables, the learners' logits and optimiser, the world
  (reputations, random streams), ``tables()``, ``play`` (the only place a method
  uses the true tables: the world plays with them) and the checkpoint of these
  shared fields (``shared_state_dict`` / ``load_shared_state``).
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass

import torch

from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import Records, initial_reputation, play
from recigrad.game import DTYPE, Game, observable
from recigrad.game.contexts import CONTEXTS, split_tables
from recigrad.game.norms import action_table, signal_table
from recigrad.game.regime import Regime
from recigrad.learning import contract
from recigrad.util import device as devices
from recigrad.util import numerics

WARMUP_LOGIT = 3.0
ADAM_KEYS = ("exp_avg", "exp_avg_sq", "step")


def warmup_logits(kind: str, norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits at +-3 of a named strategy's tables."""
    return WARMUP_LOGIT * (2 * action_table(kind, norm) - 1), WARMUP_LOGIT * (2 * signal_table(norm) - 1)


def initial_logits(regime: Regime, seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The learners' initial logits ``(B, L, 2, 2)``, ``(B, L, 2, 2, 2)``: the warm-up
    norm's tables at +-3, or standard-normal logits from the ``learner-init`` stream
    (12 per learner, in order).  Every method starts from these."""
    batch, population = len(seeds), regime.population
    init = Streams(seeds, "learner-init")
    logits_act, logits_sig = [], []
    for i in population.learners:
        agent = population.agents[i]
        if agent.warmup:
            a, s = warmup_logits("learner", agent.norm)
            logits_act.append(a.expand(batch, 2, 2))
            logits_sig.append(s.expand(batch, 2, 2, 2))
        else:
            noise_act, noise_sig = split_tables(init.normal(CONTEXTS))
            logits_act.append(noise_act)
            logits_sig.append(noise_sig)
    return torch.stack(logits_act, 1).to(DTYPE).clone(), torch.stack(logits_sig, 1).to(DTYPE).clone()


def start_fields(regime: Regime, seeds: list[int], lr: float) -> dict:
    """What every method's state starts with (docs/model.md §11): the population's true tables
    ``fixed_act``/``fixed_sig`` ``(B, N, ...)``, the learners' initial logits (``initial_logits``),
    an Adam of rate ``lr`` over the heads that learn (``trainable``), everyone good, and the world's
    random streams; as keyword arguments of the state.  The logits (hence the optimiser and all the
    method computes from them) are on ``recigrad.util.device.current()``; the rest on the CPU."""
    batch, population = len(seeds), regime.population
    fixed_act, fixed_sig = population.batched_tables(batch)
    # the learners' logits on the chosen device (drawn on the CPU: a seed gives the same start anywhere);
    # the fixed tables, the reputations and the streams stay with the world, on the CPU
    logits_act, logits_sig = (t.to(devices.current()) for t in initial_logits(regime, seeds))
    params = trainable(logits_act, logits_sig, regime.train.components)
    return {"regime": regime, "seeds": list(seeds), "fixed_act": fixed_act, "fixed_sig": fixed_sig,
            "logits_act": logits_act, "logits_sig": logits_sig, "optimizer": torch.optim.Adam(params, lr=lr),
            "reputation": initial_reputation(batch, population.n), "streams": Streams(seeds, "world")}


def trainable(logits_act: torch.Tensor, logits_sig: torch.Tensor, components: str) -> list[torch.Tensor]:
    """The heads that learn (``action | signal | joint``); the others are frozen exactly."""
    heads = [(logits_act, "action"), (logits_sig, "signal")]
    params = [p for p, part in heads if components in (part, "joint")]
    for p in params:
        p.requires_grad_(True)
    return params


def records_to(records: Records, device: torch.device) -> Records:
    """``records`` with every field on ``device`` (the same object when they are there already)."""
    if records is None or records.donor.device == torch.device(device):
        return records
    return Records(*(getattr(records, f).to(device) for f in Records.FIELDS))


class LearnerTables:
    """What every method's training state shares: it has ``regime``, ``seeds``, the fixed
    agents' true tables ``fixed_act``/``fixed_sig``, the learners' logits
    ``logits_act``/``logits_sig`` and their ``optimizer``, the world's ``reputation``
    and ``streams``, and ``interactions``."""

    @property
    def learners(self) -> list[int]:
        return self.regime.population.learners

    @property
    def game(self) -> Game:
        return self.regime.game

    @property
    def device(self) -> torch.device:
        """Where the learners' tensors live (``recigrad.util.device``); the world is on the CPU."""
        return self.logits_act.device

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Everyone's current true intended tables ``(B, N, ...)`` (for the world and for evaluation only),
        on the CPU whatever the learners' device (the sigmoid of the logits is taken there, so given the
        logits the world plays the same tables on every device)."""
        act, sig = self.fixed_act.clone(), self.fixed_sig.clone()  # on the CPU, with the world
        act[:, self.learners] = numerics.sigmoid(self.logits_act.detach().cpu())
        sig[:, self.learners] = numerics.sigmoid(self.logits_sig.detach().cpu())
        return act, sig

    def play(self, interactions: int) -> Records:
        """The world plays ``interactions`` interactions with everyone's current true tables
        (the one place a method uses them); returns the public records ``(B, T)``."""
        pc, so = observable(*self.tables(), self.game)
        self.reputation, _, records = play(pc, so, self.reputation, self.streams, interactions, record=True, game=self.game)
        return records_to(records, self.device)

    # -- checkpoints ----------------------------------------------------------------------------

    def settings(self) -> dict | None:
        """The method's settings as plain data (a checkpoint is resumed with the same settings only)."""
        config = getattr(self, "config", None)
        return asdict(config) if is_dataclass(config) else None

    def shared_state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(meta, tensors)`` of the shared fields: logits, reputations, Adam's moments and
        step counts, the world's random streams, interactions and the method's settings."""
        tensors = {"logits_act": self.logits_act.detach(), "logits_sig": self.logits_sig.detach(),
                   "reputation": self.reputation}
        optimizer = {}
        for index, entry in self.optimizer.state_dict()["state"].items():
            optimizer[str(index)] = sorted(entry)
            for key, value in entry.items():
                tensors[f"optimizer.{index}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
        meta = {"kind": type(self).__name__, "settings": self.settings(), "interactions": self.interactions,
                "world": self.streams.state(), "optimizer": optimizer}
        return meta, tensors

    def load_shared_state(self, meta: dict, tensors: dict[str, torch.Tensor], steps: int) -> None:
        """Check the shared fields of a checkpoint against this (fresh) state and load them;
        ``steps`` is the number of optimiser steps the checkpoint has taken.  Raises
        ``contract.StateError`` naming the first field that does not fit."""
        kind = type(self).__name__
        if meta.get("kind") != kind:
            raise contract.StateError(f"state.kind {meta.get('kind')!r} is not this method's; allowed: {kind!r}")
        if meta.get("settings") != self.settings():
            raise contract.StateError(f"state.settings {contract.shown(meta.get('settings'))} differ from this run's; "
                                      f"allowed: {contract.shown(self.settings())}")
        contract.check_int(meta, "interactions", 0, None)
        logits_act = contract.check_tensor(tensors, "logits_act", self.logits_act, finite=True)
        logits_sig = contract.check_tensor(tensors, "logits_sig", self.logits_sig, finite=True)
        reputation = contract.check_tensor(tensors, "reputation", self.reputation, values=(0, 1))
        contract.check_streams(meta, "world", self.streams)
        optimizer = self._checked_optimizer(meta.get("optimizer"), tensors, steps)
        with torch.no_grad():
            self.logits_act.copy_(logits_act)
            self.logits_sig.copy_(logits_sig)
        self.reputation = reputation
        self.interactions = meta["interactions"]
        self.streams.set_state(meta["world"])
        state = self.optimizer.state_dict()
        state["state"] = optimizer
        self.optimizer.load_state_dict(state)

    def _checked_optimizer(self, saved, tensors: dict[str, torch.Tensor], steps: int) -> dict:
        """Adam's per-parameter state: nothing before the first step; after ``steps`` steps, for
        each head that learns, its moments (finite, shaped as the head, second moment >= 0) and
        its step count ``steps`` (a floating-point scalar)."""
        params = self.optimizer.param_groups[0]["params"]
        indices = [str(k) for k in range(len(params))] if steps else []
        if not isinstance(saved, dict) or sorted(saved) != sorted(indices):  # names, not numbers: "10" < "2"
            held = sorted(saved) if isinstance(saved, dict) else saved
            raise contract.StateError(f"state.optimizer holds heads {contract.shown(held)}; "
                                      f"allowed: {indices} (the heads that learn, after {steps} optimiser steps)")
        state = {}
        for index, keys in saved.items():
            if keys != list(ADAM_KEYS):
                raise contract.StateError(f"state.optimizer.{index} holds {contract.shown(keys)}; allowed: {list(ADAM_KEYS)}")
            param = params[int(index)].detach()
            name = f"optimizer.{index}"
            step = contract.check_tensor(tensors, f"{name}.step", torch.tensor(1.0), dtype=False)
            if not step.dtype.is_floating_point or step.item() != steps:
                raise contract.StateError(f"tensor {name}.step is {step.item()!r} ({step.dtype}); "
                                          f"allowed: {float(steps)}, the optimiser steps the state's interactions imply")
            state[int(index)] = {
                "exp_avg": contract.check_tensor(tensors, f"{name}.exp_avg", param, finite=True),
                "exp_avg_sq": contract.check_tensor(tensors, f"{name}.exp_avg_sq", param, finite=True, low=0.0),
                "step": step,
            }
        return state
