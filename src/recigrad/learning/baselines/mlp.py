"""The neural policy (and critic) of ``reinforce-mlp``, ``a2c-mlp`` and ``ppo-mlp``
(docs/model.md §7, "Neural-policy baselines").

**Inputs.**  The features of a decision are those of the environments'
observations (``recigrad.envs.core``: role, reputations, action seen), restricted
to what the tables' contexts see, encoded ``-1 / +1`` (``context_features``):
``(role, x_d, x_r, a)`` with role ``+1`` for the donor and ``-1`` for the observer,
``x_d`` the donor's reputation (the learner's own one when it is the donor),
``x_r`` the recipient's, ``a`` the action seen (``0`` for a donor, who sees none).
An observer's own reputation is not an input: the signal table
``sig[a, x_donor, x_rec]`` cannot depend on it.

**The network.**  Per learner, a trunk of ``layers`` tanh layers of ``hidden``
units, weights LeCun-normal (standard deviation ``1 / sqrt(fan_in)``) from the
method's own stream ``"<method>-init"``, biases 0; on top, an **action head**
(one logit, read at the 4 donor contexts) and a **signal head** (one logit, read
at the 8 observer contexts), both linear and **initialised at zero**, added to
the learner's start logits (``recigrad.learning.tables.initial_logits``):

    z(c) = z0(c) + w_head . h(c) + b_head

so every method starts from the same tables (a warm-up norm's, or the
``learner-init`` normal logits) and the network learns a residual on them.  A head
that does not learn (``regime.train.components``) has no parameters in the
optimiser and its logits *are* the start logits, exactly.  The critic (``a2c-mlp``,
``ppo-mlp``) is a second network of the same shape with one linear output
(initialised at zero): the value of a decision context.

**Read-off.**  The network's output depends on the decision context only, so
querying the 12 contexts gives its tables exactly:
``act[x_own, x_rec] = sigmoid(z(+1, 2 x_own - 1, 2 x_rec - 1, 0))`` and
``sig[a, x_d, x_r] = sigmoid(z(-1, 2 x_d - 1, 2 x_r - 1, 2 a - 1))``
(``policy_logits``, laid out as the 12 logits of the tabular methods).  Those
tables are what the world plays and what is evaluated.

**Batching.**  Every weight has leading dimensions ``(B, L)`` (population,
learner); a layer is one ``bmm`` over the ``B L`` networks and the activation is
computed per population (``recigrad.util.numerics.per_population``), so a
seed gives the same run alone or in a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import Records  # noqa: F401  (pdoc resolves the annotations of the inherited fields here)
from recigrad.game import DTYPE
from recigrad.game.contexts import ACTION_CONTEXTS, CONTEXTS, decision_fields, split_tables
from recigrad.game.regime import Regime
from recigrad.learning import contract
from recigrad.learning.baselines import common
from recigrad.learning.baselines.common import ValueTable
from recigrad.learning.tables import start_fields
from recigrad.util import numerics

FEATURES = 4  # role, x_d, x_r, a


def context_features(device=None) -> torch.Tensor:
    """``(12, 4)``: the features ``(role, x_d, x_r, a)`` of each decision context, ``-1/+1`` (``a`` 0 for a donor),
    on ``device``."""
    rows = []
    for c in range(CONTEXTS):
        _, fields_ = decision_fields(c)
        if c < ACTION_CONTEXTS:
            x_own, x_rec = fields_
            rows.append((1.0, 2.0 * x_own - 1, 2.0 * x_rec - 1, 0.0))
        else:
            a, x_d, x_r = fields_
            rows.append((-1.0, 2.0 * x_d - 1, 2.0 * x_r - 1, 2.0 * a - 1))
    return torch.tensor(rows, dtype=DTYPE, device=device)


# ---------------------------------------------------------------------------
# the network: weights (B, L, ...), a dict of named tensors


def init_network(streams: Streams, learners: int, hidden: int, layers: int, prefix: str,
                 outputs: tuple[str, ...], device=None) -> dict[str, torch.Tensor]:
    """A batch of networks: trunk ``{prefix}.w{k}`` ``(B, L, fan_in, hidden)`` (LeCun normal from
    ``streams``) and ``{prefix}.b{k}`` (zeros), then per output ``{prefix}.{out}.w`` ``(B, L, hidden)``
    and ``{prefix}.{out}.b`` ``(B, L)``, zeros; on ``device`` (the weights drawn on the CPU, so a seed gives
    the same network on any device)."""
    batch, params, fan_in = len(streams), {}, FEATURES
    for k in range(layers):
        params[f"{prefix}.w{k}"] = (streams.normal(learners, fan_in, hidden) / math.sqrt(fan_in)).to(device)
        params[f"{prefix}.b{k}"] = torch.zeros(batch, learners, hidden, dtype=DTYPE, device=device)
        fan_in = hidden
    for out in outputs:
        params[f"{prefix}.{out}.w"] = torch.zeros(batch, learners, fan_in, dtype=DTYPE, device=device)
        params[f"{prefix}.{out}.b"] = torch.zeros(batch, learners, dtype=DTYPE, device=device)
    return params


def trunk(params: dict[str, torch.Tensor], prefix: str, layers: int) -> torch.Tensor:
    """``(B, L, 12, hidden)``: the last hidden layer at the 12 contexts (``layers >= 1``)."""
    if layers < 1:
        raise ValueError(f"an MLP has at least one hidden layer, got layers={layers}")
    batch, learners = params[f"{prefix}.w0"].shape[:2]
    h = context_features(params[f"{prefix}.w0"].device).expand(batch * learners, CONTEXTS, FEATURES)
    for k in range(layers):
        w = params[f"{prefix}.w{k}"].flatten(0, 1)
        b = params[f"{prefix}.b{k}"].flatten(0, 1).unsqueeze(1)
        h = numerics.per_population(torch.tanh, torch.baddbmm(b, h, w))
    return h.view(batch, learners, CONTEXTS, -1)


def linear_out(params: dict[str, torch.Tensor], name: str, h: torch.Tensor) -> torch.Tensor:
    """``(B, L, n)``: the linear output ``name`` (``w . h + b``) at ``h (B, L, n, hidden)``."""
    w, b = params[f"{name}.w"], params[f"{name}.b"]
    batch, learners, n, hidden = h.shape
    out = torch.bmm(h.reshape(batch * learners, n, hidden), w.reshape(batch * learners, hidden, 1))
    return out.view(batch, learners, n) + b.unsqueeze(-1)


def policy_logits(params: dict[str, torch.Tensor], start: torch.Tensor, layers: int, heads: tuple[str, ...]) -> torch.Tensor:
    """``(B, L, 12)``: the policy's logits at the 12 decision contexts, ``z0 + w . h + b``: the start logits
    ``start (B, L, 12)`` plus, for each head in ``heads`` (``"action"``, ``"signal"``), its output;
    a head not in ``heads`` gives the start logits exactly."""
    h = trunk(params, "actor", layers) if heads else None
    act, sig = start[..., :ACTION_CONTEXTS], start[..., ACTION_CONTEXTS:]
    if "action" in heads:
        act = act + linear_out(params, "actor.action", h[..., :ACTION_CONTEXTS, :])
    if "signal" in heads:
        sig = sig + linear_out(params, "actor.signal", h[..., ACTION_CONTEXTS:, :])
    return torch.cat([act, sig], -1)


def critic_values(params: dict[str, torch.Tensor], layers: int) -> torch.Tensor:
    """``(B, L, 12)``: the critic's value of each decision context."""
    return linear_out(params, "critic.value", trunk(params, "critic", layers))


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """``(B, L, 12)``: the entropy (nats) of each context's intended choice, ``q = sigmoid(z)``."""
    q = numerics.sigmoid(logits)
    log_q = numerics.per_population(F.logsigmoid, logits)
    log_not_q = numerics.per_population(lambda z: F.logsigmoid(-z), logits)
    return -(q * log_q + (1 - q) * log_not_q)


def entropy_bonus(logits: torch.Tensor, events: common.Events, mask: torch.Tensor) -> torch.Tensor:
    """``(B, L)``: the mean over each learner's events in ``mask`` of the entropy at the event's context."""
    return common.per_learner_mean(entropy(logits).gather(-1, events.context), mask)


# ---------------------------------------------------------------------------
# the training state


@dataclass
class MLPState(common.BaselineState):
    """A ``BaselineState`` whose policy is a network (``params``, the actor ``actor.*`` and for
    the actor-critic methods the critic ``critic.*``): ``start`` ``(B, L, 12)`` holds the start
    logits, ``heads`` the heads that learn, ``layers`` the trunk's depth.  ``logits_act`` and
    ``logits_sig`` hold the network's current read-off (``refresh`` after every optimiser step),
    which the world plays with.  The value table ``values`` is used by ``reinforce-mlp`` (its
    baseline, as ``reinforce``'s) and stays empty for the methods with a critic."""

    start: torch.Tensor | None = None
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    heads: tuple[str, ...] = ()
    layers: int = 2

    def logits(self) -> torch.Tensor:
        """``(B, L, 12)``: the policy's logits (with gradients to ``params``)."""
        return policy_logits(self.params, self.start, self.layers, self.heads)

    def values_of_contexts(self) -> torch.Tensor:
        """``(B, L, 12)``: the critic's values (with gradients to ``params``)."""
        return critic_values(self.params, self.layers)

    def refresh(self) -> None:
        """Read the tables off the network: ``logits_act``/``logits_sig`` at the 12 contexts."""
        with torch.no_grad():
            act, sig = split_tables(self.logits())
            self.logits_act, self.logits_sig = act.contiguous(), sig.contiguous()

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``BaselineState.state_dict`` and every network tensor as ``net.<name>``."""
        meta, tensors = super().state_dict()
        tensors.update({f"net.{name}": p.detach() for name, p in self.params.items()})
        return meta, tensors

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Check the network tensors (shape, dtype, finite) and the rest (``BaselineState``), then
        load them and read the tables off the loaded network."""
        net = {name: contract.check_tensor(tensors, f"net.{name}", p.detach(), finite=True) for name, p in self.params.items()}
        extra = sorted(k for k in tensors if k.startswith("net.") and k[4:] not in self.params)
        if extra:
            raise contract.StateError(f"tensor {extra[0]} is not part of this network; allowed: {len(self.params)} net.* tensors")
        super().load_state_dict(meta, tensors)
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(net[name])
        self.refresh()


def heads_that_learn(components: str) -> tuple[str, ...]:
    """The policy heads that learn: ``action``, ``signal`` or both (``joint``)."""
    return tuple(h for h in ("action", "signal") if components in (h, "joint"))


def learns(name: str, heads: tuple[str, ...]) -> bool:
    """Whether the network tensor ``name`` learns: the critic, the actor's trunk and the heads in ``heads``."""
    network, *rest = name.split(".")
    return network == "critic" or len(rest) == 1 or rest[0] in heads


def start_state(regime: Regime, seeds: list[int], config, method: str, critic: bool, steps_per_update: int = 1) -> MLPState:
    """The initial state of an MLP method: the start logits of every method
    (``recigrad.learning.tables.start_fields``), the actor (and with ``critic`` the critic)
    from the stream ``"<method>-init"``, an Adam of rate ``config.lr`` over the trunk, the heads
    that learn and the critic; the world and the sampling stream ``"<method>-sampling"``."""
    if not regime.population.learners:
        raise ValueError(f"regime {regime.name!r} has no learner")
    learners = len(regime.population.learners)
    shared = start_fields(regime, seeds, config.lr)
    start = common.flat_logits(shared["logits_act"], shared["logits_sig"]).detach().clone()
    heads = heads_that_learn(regime.train.components)
    init, device = Streams(seeds, f"{method}-init"), start.device  # the device of recigrad.util.device.current()
    params = init_network(init, learners, config.hidden, config.layers, "actor", ("action", "signal"), device)
    if critic:
        params.update(init_network(init, learners, config.hidden, config.layers, "critic", ("value",), device))
    learning = [p for name, p in params.items() if learns(name, heads)]
    for p in learning:
        p.requires_grad_(True)
    shared.update(logits_act=shared["logits_act"].detach().clone(), logits_sig=shared["logits_sig"].detach().clone(),
                  optimizer=torch.optim.Adam(learning, lr=config.lr))
    state = MLPState(**shared, config=config, values=ValueTable.zeros(len(seeds), learners, device),
                     sampler=Streams(seeds, f"{method}-sampling"), steps_per_update=steps_per_update,
                     start=start, params=params, heads=heads, layers=config.layers)
    state.refresh()
    return state
