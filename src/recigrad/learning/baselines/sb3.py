"""Stable-Baselines3's PPO and A2C on ``recigrad/Reciprocity-v0`` (docs/model.md §7).

Needs the optional extra ``sb3`` (``pip install -e '.[sb3]'``, done by ``make test`` and
``make bench``); without it ``start`` refuses with one line.  Four registered methods:

- ``sb3-ppo``, ``sb3-a2c``: the tuned settings (``tuned.json``: the best grid setting of
  ``benchmarks/tune_baselines.py`` for the regime, else the grid's best overall setting);
- ``sb3-ppo-default``, ``sb3-a2c-default``: Stable-Baselines3's own defaults, untouched.

**One model per seed.**  Each population of the batch is an independent SB3 model
(``MlpPolicy``: separate 64-64 tanh networks for the policy and the value, SB3's
default) with its own ``ReciprocityEnv`` (``recigrad.envs.gymnasium``); the batch is a
loop over them.  Everything random is per seed: the environment's generator (derived
from the seed), and SB3's draws (action sampling, weight initialisation, minibatch
permutations), which use torch's and numpy's *global* generators: each seed keeps its
own states of both, swapped in around its work and out after it.  So a seed gives the
same run alone or in a batch, bit for bit.

**Interactions.**  An environment step is one learner decision (its action as donor,
its signal as observer); the environment plays every other decision itself, so the
interactions between two learner decisions vary.  The episode length is
``max_interactions = regime.train.interactions``, and the environment truncates an
episode exactly when that many interactions are complete (those before the first
decision, played by ``reset``, included).  One ``step`` is one episode: exactly
``regime.train.interactions`` interactions per population, about ``2 / N`` learner
decisions per interaction.  Each episode starts from all-good reputations (the
environment's ``reset``).

**Training loop.**  SB3's ``learn`` cannot stop at an episode's end, so ``step`` runs
SB3's own rollout collection (``OnPolicyAlgorithm.collect_rollouts``) one environment
step at a time: the policy samples the decision, the transition goes into SB3's
``RolloutBuffer``, a time-limit truncation adds ``gamma V(final observation)`` to the
reward as SB3 does, and when the buffer holds ``n_steps`` transitions SB3 computes GAE
and runs ``model.train()`` (the algorithm's update, untouched).  A partly filled buffer
is carried into the next episode, so a run of many steps is one long ``learn``.

**Start and heads.**  Every method starts from ``recigrad.learning.tables.initial_logits``:
after SB3 builds the policy, its policy network is fitted to them (cross-entropy over the
12 contexts, full batch, deterministic), until its probabilities are within
``WARM_TOLERANCE`` = 0.005 of the start tables at every context.  A head that does not learn (``components``) keeps its
start table: its decisions are drawn from it inside the environment loop, never shown
to SB3 (their payoffs go to the learner's previous decision).

**Tables.**  The observation is the decision's context (``recigrad.envs.core``), so the
learned tables are the policy's probability of choosing 1 at the 12 observations of
``recigrad.envs.core.table_observations()``.

Only regimes with exactly one learner (the Gymnasium environment's); others are refused.
The learner sees observations and its own rewards only; the environment (the world)
plays the fixed agents from their true tables.  Checkpoints: policy and optimiser
tensors, the partial rollout buffer, the generators' states (torch's as a uint8 tensor),
no pickle.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from importlib import resources

import numpy as np
import torch

from recigrad.dynamics.streams import Streams, derive_seed
from recigrad.dynamics.world import Records, initial_reputation, play
from recigrad.errors import ConfigError
from recigrad.game import DTYPE, observable
from recigrad.game.regime import Regime
from recigrad.learning import contract
from recigrad.learning.baselines import common
from recigrad.learning.tables import initial_logits
from recigrad.util.threads import one_thread

ALGORITHMS = ("ppo", "a2c")
INSTALL = "Stable-Baselines3 is not installed; install the extra: pip install -e '.[sb3]' (or pip install stable-baselines3)"
WARM_LR, WARM_STEPS, WARM_TOLERANCE = 0.01, 2000, 0.005  # fitting the policy to the start tables
OPTIMIZER_KEYS = {"Adam": ["exp_avg", "exp_avg_sq", "step"], "RMSprop": ["square_avg", "step"]}


@dataclass(frozen=True)
class SB3Config:
    """The settings passed to SB3's constructor; ``None`` keeps SB3's default
    (PPO: learning_rate 3e-4, n_steps 2048, gamma 0.99; A2C: 7e-4, 5, 0.99)."""

    learning_rate: float | None = None
    n_steps: int | None = None
    gamma: float | None = None

    def kwargs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def method_name(algorithm: str, tuned: bool) -> str:
    return f"sb3-{algorithm}" if tuned else f"sb3-{algorithm}-default"


def settings(algorithm: str, tuned: bool, regime: Regime) -> SB3Config:
    """SB3's defaults; tuned: the grid's best setting for ``regime`` (``tuned.json`` ``best``),
    else its best overall setting (``overall``), else SB3's defaults."""
    if not tuned:
        return SB3Config()
    name = method_name(algorithm, True)
    path = resources.files("recigrad.learning.baselines") / common.TUNED_FILE
    overall = json.loads(path.read_text()).get("overall", {}).get(name, {}) if path.is_file() else {}
    names = {f.name for f in fields(SB3Config)}
    return common.settings_for(SB3Config(**{k: v for k, v in overall.items() if k in names}), name, regime)


def _sb3():
    try:
        import stable_baselines3
        from stable_baselines3.common.logger import Logger
    except ImportError:
        raise ConfigError(INSTALL) from None
    return stable_baselines3, Logger


# ---------------------------------------------------------------------------
# one seed: an SB3 model, its environment and its random states


@contextmanager
def own_random(learner: Learner):
    """Swap the seed's torch and numpy global generator states in, and the caller's back after;
    meanwhile one thread, torch's default dtype float32 (SB3's networks are float32) and no argument
    validation in ``torch.distributions`` (a check per decision that changes no number)."""
    torch_saved, numpy_saved, dtype = torch.get_rng_state(), np.random.get_state(), torch.get_default_dtype()
    validate = torch.distributions.Distribution._validate_args
    torch.set_rng_state(learner.torch_rng)
    np.random.set_state(learner.numpy_rng)
    torch.set_default_dtype(torch.float32)
    torch.distributions.Distribution.set_default_validate_args(False)  # checks only; the numbers are the same
    try:
        with one_thread():
            yield
    finally:
        learner.torch_rng, learner.numpy_rng = torch.get_rng_state(), np.random.get_state()
        torch.set_rng_state(torch_saved)
        np.random.set_state(numpy_saved)
        torch.set_default_dtype(dtype)
        torch.distributions.Distribution.set_default_validate_args(validate)


class Learner:
    """One population's SB3 model, environment and random states."""

    def __init__(self, regime: Regime, seed: int, algorithm: str, config: SB3Config, start_act, start_sig) -> None:
        sb3, Logger = _sb3()
        from recigrad.envs.core import ROLE_DONOR, ROLE_OBSERVER, table_observations
        from recigrad.envs.gymnasium import ReciprocityEnv

        self.env = ReciprocityEnv(regime, max_interactions=regime.train.interactions)
        self.env.np_random = np.random.Generator(np.random.PCG64(derive_seed(seed, "sb3-env")))
        self.torch_rng = torch.Generator().manual_seed(derive_seed(seed, "sb3-torch")).get_state()
        self.numpy_rng = np.random.RandomState(derive_seed(seed, "sb3-numpy") % 2**32).get_state()
        self.start_act, self.start_sig = start_act, start_sig  # (2, 2), (2, 2, 2) float64
        components = regime.train.components
        self.frozen = {role: table for role, table, head in ((ROLE_DONOR, start_act, "action"), (ROLE_OBSERVER, start_sig, "signal"))
                       if components not in (head, "joint")}
        act_obs, sig_obs = table_observations()
        self.contexts = torch.as_tensor(np.concatenate([act_obs.reshape(-1, 4), sig_obs.reshape(-1, 4)]))
        algo = {"ppo": sb3.PPO, "a2c": sb3.A2C}[algorithm]
        with own_random(self):
            self.model = algo("MlpPolicy", self.env, device="cpu", **config.kwargs())
            self.model.set_logger(Logger(folder=None, output_formats=[]))
            self._warm_start(torch.cat([start_act.flatten(), start_sig.flatten()]))
        self.model.policy.set_training_mode(False)

    @property
    def policy(self):
        return self.model.policy

    def _warm_start(self, table: torch.Tensor) -> None:
        """Fit the policy network (full batch of the 12 contexts, cross-entropy, Adam at ``WARM_LR``) until its
        probability of choosing 1 is within ``WARM_TOLERANCE`` of ``table`` at every context."""
        policy = self.policy
        params = [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters()]
        optimizer = torch.optim.Adam(params, lr=WARM_LR)
        target = table.float()
        for _ in range(WARM_STEPS):
            features = policy.extract_features(self.contexts, policy.pi_features_extractor)
            logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
            margin = logits[:, 1] - logits[:, 0]
            if float((torch.sigmoid(margin.detach()) - target).abs().max()) < WARM_TOLERANCE:
                return
            optimizer.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(margin, target).backward()
            optimizer.step()
        raise RuntimeError(f"the policy did not reach the start tables within {WARM_STEPS} steps")

    def probabilities(self) -> torch.Tensor:
        """``(12,)`` float64: the policy's probability of choosing 1 at each table context."""
        with own_random(self), torch.no_grad():
            return self.policy.get_distribution(self.contexts).distribution.probs[:, 1].double()

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The learner's current tables ``(2, 2)``, ``(2, 2, 2)``; a frozen head's is its start table."""
        p = self.probabilities()
        act, sig = p[:4].view(2, 2), p[4:].view(2, 2, 2)
        from recigrad.envs.core import ROLE_DONOR, ROLE_OBSERVER

        return (self.start_act if ROLE_DONOR in self.frozen else act), (self.start_sig if ROLE_OBSERVER in self.frozen else sig)

    def episode(self) -> float:
        """One episode of ``regime.train.interactions`` interactions, collecting and training as
        SB3's ``learn`` does; returns the learner's payoff per round over the episode."""
        with own_random(self):
            return self._episode()

    def _advance(self, choice: int | None, records: list) -> tuple[np.ndarray, float, bool, bool]:
        """Step the environment with ``choice`` (``None``: reset), then draw the frozen head's
        decisions from its start table until a decision SB3 makes, or the episode's end."""
        env, reward = self.env, 0.0
        if choice is None:
            obs, info = env.reset()
            terminated = truncated = False
        else:
            obs, reward, terminated, truncated, info = env.step(choice)
        records.extend(info["records"])
        while not (terminated or truncated) and int(obs[0]) in self.frozen:
            _, x_d, x_r, a = (int(v) for v in obs)
            table = self.frozen[int(obs[0])]
            p = float(table[x_d, x_r] if table.dim() == 2 else table[a, x_d, x_r])
            obs, r, terminated, truncated, info = env.step(int(torch.rand(()).item() < p))
            reward += r
            records.extend(info["records"])
        return obs, reward, terminated, truncated

    def _episode(self) -> float:
        model, policy, buffer, env = self.model, self.policy, self.model.rollout_buffer, self.env
        records: list = []
        obs, _, terminated, truncated = self._advance(None, records)
        done, episode_start = terminated or truncated or int(obs[0]) == 0, True
        while not done:
            with torch.no_grad():
                action, value, log_prob = policy(torch.as_tensor(obs[None]))
            choice = int(action[0])
            new_obs, reward, terminated, truncated = self._advance(choice, records)
            done = terminated or truncated
            model.num_timesteps += 1
            if truncated and not terminated:  # SB3's time-limit bootstrap (collect_rollouts)
                with torch.no_grad():
                    reward += model.gamma * float(policy.predict_values(torch.as_tensor(new_obs[None]))[0, 0])
            buffer.add(obs[None], np.array([[choice]]), np.array([reward], dtype=np.float32), np.array([episode_start]),
                       value, log_prob)
            episode_start = done
            if buffer.full:
                with torch.no_grad():
                    last_value = policy.predict_values(torch.as_tensor(new_obs[None]))
                buffer.compute_returns_and_advantage(last_values=last_value, dones=np.array([done]))
                model.train()
                buffer.reset()
                policy.set_training_mode(False)
            obs = new_obs
        b, c, me = env.regime.game.b, env.regime.game.c, env.learner
        payoff = sum((b if rec["r"] == me else 0.0) - (c if rec["d"] == me else 0.0) for rec in records if rec["a"] == 1)
        return payoff * env.core.n / env.max_interactions


# ---------------------------------------------------------------------------
# the method state


@dataclass
class SB3State:
    """A batch of populations, one SB3 model per seed (``Learner``)."""

    regime: Regime
    seeds: list[int]
    algorithm: str
    tuned: bool
    config: SB3Config
    fixed_act: torch.Tensor  # (B, N, 2, 2) true tables (the learner's row is read off its policy)
    fixed_sig: torch.Tensor
    models: list[Learner]
    reputation: torch.Tensor  # the simulator's world of ``play`` (not used by ``step``)
    streams: Streams
    interactions: int = 0

    @property
    def learners(self) -> list[int]:
        return self.regime.population.learners

    @property
    def method(self) -> str:
        return method_name(self.algorithm, self.tuned)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Everyone's current tables ``(B, N, ...)``: the fixed agents' true tables, the learner's
        read off its policy at every context (for evaluation only)."""
        act, sig = self.fixed_act.clone(), self.fixed_sig.clone()
        for k, learner in enumerate(self.models):
            act[k, self.learners[0]], sig[k, self.learners[0]] = learner.tables()
        return act, sig

    def play(self, interactions: int) -> Records:
        """The simulator's world with ``tables()`` (the contract's ``play``; ``step`` does not use it:
        an SB3 model plays in its environment, which plays the fixed agents from their true tables)."""
        pc, so = observable(*self.tables(), self.regime.game)
        self.reputation, _, records = play(pc, so, self.reputation, self.streams, interactions, record=True)
        return records

    # -- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(meta, tensors)``: per seed ``k`` the policy's tensors (``seed{k}.policy.*``), the
        optimiser's (``seed{k}.optimizer.*``), the partial rollout buffer (``seed{k}.buffer.*``),
        torch's generator state (``seed{k}.torch_rng``) and numpy's (``seed{k}.numpy_rng`` and meta);
        in meta the environment's generator state and SB3's counters."""
        meta = {"kind": type(self).__name__, "method": self.method, "settings": asdict(self.config),
                "interactions": self.interactions, "world": self.streams.state(), "models": []}
        tensors = {"reputation": self.reputation}
        for k, learner in enumerate(self.models):
            model, buffer, prefix = learner.model, learner.model.rollout_buffer, f"seed{k}."
            tensors.update({f"{prefix}policy.{n}": t.detach().clone() for n, t in model.policy.state_dict().items()})
            optimizer = {}
            for index, entry in model.policy.optimizer.state_dict()["state"].items():
                optimizer[str(index)] = sorted(entry)
                tensors.update({f"{prefix}optimizer.{index}.{key}": torch.as_tensor(v).clone() for key, v in entry.items()})
            for name in BUFFER_FIELDS:
                tensors[f"{prefix}buffer.{name}"] = torch.from_numpy(getattr(buffer, name).copy())
            _, keys, pos, has_gauss, gauss = learner.numpy_rng
            tensors[f"{prefix}torch_rng"] = learner.torch_rng.clone()
            tensors[f"{prefix}numpy_rng"] = torch.from_numpy(keys.astype(np.int64))
            meta["models"].append({"n_updates": model._n_updates, "num_timesteps": model.num_timesteps, "buffer_pos": buffer.pos,
                                   "optimizer": optimizer, "numpy_rng": [int(pos), int(has_gauss), float(gauss)],
                                   "env": learner.env.np_random.bit_generator.state})
        return meta, tensors

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Check ``(meta, tensors)`` against this fresh state, every field (docs/model.md §11), then
        load them all; a field that does not fit raises ``StateError`` with nothing loaded."""
        for key, value in (("kind", type(self).__name__), ("method", self.method), ("settings", asdict(self.config))):
            if meta.get(key) != value:
                raise contract.StateError(f"state.{key} is {contract.shown(meta.get(key))}; allowed: {contract.shown(value)}")
        per_step = self.regime.train.interactions
        interactions = contract.check_int(meta, "interactions", 0, None)
        if interactions % per_step:
            raise contract.StateError(f"state.interactions is {interactions}; allowed: a multiple of {per_step} (whole episodes)")
        reputation = contract.check_tensor(tensors, "reputation", self.reputation, values=(0, 1))
        contract.check_streams(meta, "world", self.streams)
        saved = meta.get("models")
        if not isinstance(saved, list) or len(saved) != len(self.models):
            raise contract.StateError(f"state.models is {contract.shown(saved)}; allowed: {len(self.models)} entries, one per seed")
        loads = [_checked_model(learner, entry, tensors, f"seed{k}.") for k, (learner, entry) in enumerate(zip(self.models, saved))]
        for load in loads:
            load()
        self.reputation, self.interactions = reputation, interactions
        self.streams.set_state(meta["world"])


BUFFER_FIELDS = ("observations", "actions", "rewards", "episode_starts", "values", "log_probs")


def _checked_model(learner: Learner, entry, tensors: dict[str, torch.Tensor], prefix: str):
    """Check one seed's saved model against the fresh ``learner``; returns the function that loads it."""
    where = prefix.rstrip(".")
    if not isinstance(entry, dict):
        raise contract.StateError(f"state.models entry {where} is {contract.shown(entry)}; allowed: an object")
    model = learner.model
    n_updates = contract.check_int(entry, "n_updates", 0, None, where)
    num_timesteps = contract.check_int(entry, "num_timesteps", 0, None, where)
    pos = contract.check_int(entry, "buffer_pos", 0, model.n_steps - 1, where)
    policy = {n: contract.check_tensor(tensors, f"{prefix}policy.{n}", t, finite=True) for n, t in model.policy.state_dict().items()}
    optimizer = model.policy.optimizer
    params = [p for group in optimizer.param_groups for p in group["params"]]
    keys = OPTIMIZER_KEYS[type(optimizer).__name__]
    indices = [str(i) for i in range(len(params))] if n_updates else []
    held = entry.get("optimizer")
    if not isinstance(held, dict) or sorted(held, key=str) != sorted(indices) or any(v != keys for v in held.values()):
        raise contract.StateError(f"state.models.{where}.optimizer is {contract.shown(held)}; "
                                  f"allowed: {keys} for each of the {len(indices)} parameters (none before the first update)")
    moments = {}
    for i in indices:
        entry_ = {}
        for key in keys:
            like = torch.tensor(0.0, dtype=torch.float32) if key == "step" else params[int(i)].detach()
            low = None if key == "exp_avg" else 0.0
            entry_[key] = contract.check_tensor(tensors, f"{prefix}optimizer.{i}.{key}", like, finite=True, low=low)
        moments[int(i)] = entry_
    buffer = {}
    special = {"observations": {"low": 0}, "actions": {"values": (0, 1)}, "episode_starts": {"values": (0.0, 1.0)}}
    for name in BUFFER_FIELDS:
        like = torch.from_numpy(getattr(model.rollout_buffer, name))
        checks = special.get(name, {"finite": True})
        buffer[name] = contract.check_tensor(tensors, f"{prefix}buffer.{name}", like, **checks).numpy().copy()
    if bool((torch.from_numpy(buffer["observations"]) > torch.tensor(learner.env.observation_space.high)).any()):
        raise contract.StateError(f"tensor {prefix}buffer.observations holds a value above the observation space's bounds")
    torch_rng = contract.check_tensor(tensors, f"{prefix}torch_rng", learner.torch_rng)
    try:
        torch.Generator().set_state(torch_rng)
    except RuntimeError as err:
        raise contract.StateError(f"tensor {prefix}torch_rng is not a torch generator state ({err})") from None
    numpy_keys = contract.check_tensor(tensors, f"{prefix}numpy_rng", torch.zeros(624, dtype=torch.int64), low=0)
    if int(numpy_keys.max()) >= 2**32:
        raise contract.StateError(f"tensor {prefix}numpy_rng holds {int(numpy_keys.max())}; allowed: values below 2**32")
    numpy_meta = entry.get("numpy_rng")
    numbers = isinstance(numpy_meta, list) and len(numpy_meta) == 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in numpy_meta)
    if not (numbers and isinstance(numpy_meta[0], int) and 0 <= numpy_meta[0] <= 624 and numpy_meta[1] in (0, 1)
            and np.isfinite(numpy_meta[2])):
        raise contract.StateError(f"state.models.{where}.numpy_rng is {contract.shown(numpy_meta)}; "
                                  "allowed: [pos in 0..624, has_gauss 0 or 1, a finite cached gaussian]")
    try:
        np.random.PCG64().state = entry.get("env")
    except (TypeError, ValueError, KeyError) as err:
        raise contract.StateError(f"state.models.{where}.env is not a PCG64 generator state ({err})") from None

    def load() -> None:
        model.policy.load_state_dict(policy)
        state = optimizer.state_dict()
        state["state"] = moments
        optimizer.load_state_dict(state)
        for name, value in buffer.items():
            getattr(model.rollout_buffer, name)[...] = value
        model.rollout_buffer.pos, model.rollout_buffer.full = pos, False
        model._n_updates, model.num_timesteps = n_updates, num_timesteps
        learner.torch_rng = torch_rng.clone()
        learner.numpy_rng = ("MT19937", numpy_keys.numpy().astype(np.uint32), *numpy_meta)
        learner.env.np_random.bit_generator.state = entry["env"]

    return load


# ---------------------------------------------------------------------------
# the method


def check(regime: Regime) -> None:
    """Refuse (``ConfigError``, one line) what the sb3 methods cannot run: Stable-Baselines3 not
    installed, or a regime without exactly one learner."""
    _sb3()
    learners = regime.population.learners
    if len(learners) != 1:
        raise ConfigError(f"regime {regime.name!r} has {len(learners)} learners; the sb3 methods need exactly one "
                          "(they train on the single-learner Gymnasium environment)")


def start(regime: Regime, seeds: list[int], algorithm: str = "ppo", tuned: bool = True, config: SB3Config | None = None) -> SB3State:
    """The initial state (docs/model.md §7, §11): one SB3 model per seed, its policy at the start tables.

    Args:
        regime: the game, the population (exactly one learner) and the training settings.
        seeds: one seed per population; ``B = len(seeds)``.
        algorithm: ``"ppo"`` or ``"a2c"``.
        tuned: the tuned settings (``settings``), else SB3's defaults.
        config: explicit settings (overrides ``tuned``).

    Returns:
        An ``SB3State``.
    """
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown SB3 algorithm {algorithm!r}; allowed: {', '.join(ALGORITHMS)}")
    check(regime)
    config = config if config is not None else settings(algorithm, tuned, regime)
    fixed_act, fixed_sig = regime.population.batched_tables(len(seeds))
    logits_act, logits_sig = initial_logits(regime, seeds)
    models = [Learner(regime, seed, algorithm, config, torch.sigmoid(logits_act[k, 0]), torch.sigmoid(logits_sig[k, 0]))
              for k, seed in enumerate(seeds)]
    return SB3State(regime, list(seeds), algorithm, tuned, config, fixed_act.to(DTYPE), fixed_sig.to(DTYPE), models,
                    initial_reputation(len(seeds), regime.population.n), Streams(seeds, "world"))


def step(state: SB3State) -> torch.Tensor:
    """One iteration in place: one episode of ``regime.train.interactions`` interactions per model.

    Args:
        state: the ``SB3State`` of ``B`` populations.

    Returns:
        The learner's payoff per round over the episode, ``(B, 1)``.
    """
    figures = [learner.episode() for learner in state.models]
    state.interactions += state.regime.train.interactions
    return torch.tensor(figures, dtype=DTYPE).view(-1, 1)


def variant(algorithm: str, tuned: bool):
    """``(start, step)`` of one registered variant (``sb3_ppo``, ``sb3_a2c``, ...)."""

    def start_variant(regime: Regime, seeds: list[int], config: SB3Config | None = None) -> SB3State:
        return start(regime, seeds, algorithm, tuned, config)

    start_variant.__doc__ = f"``start`` of ``{method_name(algorithm, tuned)}`` (``recigrad.learning.baselines.sb3.start``)."
    return start_variant, step


