"""Every registered method against the method contract (``docs/model.md §11``): registering a
method in ``recigrad.learning.contract.METHODS`` puts it under these tests.

- it satisfies the Protocol, and ``step`` plays ``regime.train.interactions`` per iteration;
- a seed alone equals the same seed inside a batch, bit for bit, over several iterations;
- with ``components`` action (signal) the signal (action) head stays exactly where it started;
- a run resumed from a checkpoint equals the uninterrupted run;
- a learner never reads another agent's true tables: with the same public records, its
  updates are the same when the others' true tables are garbage.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from helpers import without_seconds
from recigrad.errors import ConfigError
from recigrad.game.regime import load_regime
from recigrad.learning import contract
from recigrad.running import checkpoint, train

# The "-default" variants of the sb3 methods are the code of their tuned variants with Stable-Baselines3's
# default settings (tests/test_sb3.py checks that they give the same run as the tuned variant given those
# settings), so the contract is tested once per algorithm: sb3-ppo and sb3-a2c.
SAME_CODE = {"sb3-ppo-default": "sb3-ppo", "sb3-a2c-default": "sb3-a2c"}
METHODS = sorted(m for m in contract.METHODS if m not in SAME_CODE)
# Methods that train one learner in the single-learner Gymnasium environment (recigrad.envs.gymnasium): they
# refuse a regime with several learners, and their world is the environment, stepped decision by decision,
# not ``state.play``, so the public records cannot be replayed into them (tests/test_sb3.py replays the
# environment's outputs instead, with garbage in the fixed agents' tables).
SINGLE_LEARNER = {m for m in contract.METHODS if m.startswith("sb3-")}
# one update of the baselines per 1600 interactions (discriminative-ss is not tuned): iterations of 800
# put records in their buffer between updates
PER_ITERATION = 800


# a game other than the default one (issue 13): 3 observers, a quorum of 2, observation 0.7, perception error
FORMED = "+formed"


def small(name: str, **changes):
    """A shipped regime with ``PER_ITERATION`` interactions per iteration; a name ending in ``+formed``
    plays it under the non-default formation ``formed_game``."""
    base = name.removesuffix(FORMED)
    regime = load_regime(base)
    if name.endswith(FORMED):
        regime = replace(regime, game=formed_game(regime.game))
    return replace(regime, train=replace(regime.train, interactions=PER_ITERATION, **changes))


def formed_game(game):
    return replace(game, observers=3, aggregation="quorum", quorum=2, observation=0.7, perception_error=0.05)


def learner_tables(state, regime) -> tuple[torch.Tensor, torch.Tensor]:
    act, sig = state.tables()
    learners = regime.population.learners
    return act[:, learners], sig[:, learners]


@pytest.mark.parametrize("name", METHODS)
def test_satisfies_the_protocol(name):
    method = contract.method(name)
    assert isinstance(method, contract.Method)
    regime = small("discriminative-ss")
    state = method.start(regime, [0, 1])
    assert isinstance(state, contract.MethodState)
    act, sig = state.tables()
    assert tuple(act.shape) == (2, 8, 2, 2)
    assert tuple(sig.shape) == (2, 8, 2, 2, 2)
    figure = method.step(state)
    assert tuple(figure.shape) == (2, 1)
    assert state.interactions == PER_ITERATION


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("regime_name", ["hybrid-alld", "society-L6", "hybrid-alld" + FORMED])
def test_seed_alone_equals_seed_in_batch(name, regime_name):
    method = contract.method(name)
    regime = small(regime_name)
    if name in SINGLE_LEARNER and len(regime.population.learners) > 1:
        with pytest.raises(ConfigError, match=rf"^regime '{regime_name}' has 8 learners; the sb3 methods need exactly one"):
            method.start(regime, [6])
        return
    batch, alone = method.start(regime, [5, 6, 7]), method.start(regime, [6])
    start = learner_tables(batch, regime)
    for _ in range(4):
        figure_batch, figure_alone = method.step(batch), method.step(alone)
        torch.testing.assert_close(figure_batch[1:2], figure_alone, rtol=0, atol=0)
    act_batch, sig_batch = learner_tables(batch, regime)
    act_alone, sig_alone = learner_tables(alone, regime)
    torch.testing.assert_close(act_batch[1:2], act_alone, rtol=0, atol=0)
    torch.testing.assert_close(sig_batch[1:2], sig_alone, rtol=0, atol=0)
    assert not torch.equal(act_batch, start[0])  # it learned something: the equality above could fail


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("components", ["action", "signal"])
def test_frozen_head_does_not_move(name, components):
    method = contract.method(name)
    regime = small("discriminative-ss", components=components)
    state = method.start(regime, [0, 1])
    act0, sig0 = learner_tables(state, regime)
    for _ in range(3):
        method.step(state)
    act, sig = learner_tables(state, regime)
    frozen, learning = ((sig, sig0), (act, act0)) if components == "action" else ((act, act0), (sig, sig0))
    torch.testing.assert_close(*frozen, rtol=0, atol=0)
    assert not torch.equal(*learning)




@pytest.mark.parametrize("name", METHODS)
def test_resume_equals_uninterrupted_run(tmp_path, name):
    """A checkpoint at iteration 3 (the baselines with records buffered for their next update),
    resumed in a fresh state: the same curve, results and final tables as the run that went on."""
    regime = small("discriminative-ss")
    work = tmp_path / "run.partial"
    full = train.train_seeds(regime, [0, 1], name, 6, work=work, checkpoint_every=3)
    saved = checkpoint.load(work, train._header(regime, [0, 1], name, 6, 1))
    assert saved["iteration"] == 3
    resumed = train.train_seeds(regime, [0, 1], name, 6, work=work, resume=True)
    assert without_seconds(resumed.curve) == without_seconds(full.curve)
    assert without_seconds(resumed.result) == without_seconds(full.result)
    assert resumed.tables == full.tables


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("regime_name", ["hybrid-alld", "hybrid-alld" + FORMED])
def test_learner_never_reads_true_tables(name, regime_name):
    """Two runs from the same start: in the second, every table-shaped tensor of the state has
    garbage in the fixed agents' rows, and the world is replaced by a replay of the first run's
    public records, where the other agents' private perceived actions are garbage too.  A learner
    that reads only public records, its own perceptions and its own parameters updates exactly as
    in the first run."""
    if name in SINGLE_LEARNER:
        pytest.skip("the environment is this method's world, not state.play; tests/test_sb3.py replays the environment")
    method = contract.method(name)
    regime = small(regime_name)
    fixed = [i for i in range(regime.population.n) if i not in regime.population.learners]
    honest, blinded = method.start(regime, [3, 4]), method.start(regime, [3, 4])
    played = []
    real_play = honest.play

    def recording(interactions):
        records = real_play(interactions)
        played.append((records, honest.reputation.clone()))
        return records

    honest.play = recording
    replay = iter(played)

    def replaying(interactions):
        records, reputation = next(replay)
        assert len(records) == interactions
        blinded.reputation = reputation.clone()
        others = ~torch.isin(records.observers.long(), torch.tensor(regime.population.learners)) & (records.observers >= 0)
        return replace(records, perceived=torch.where(others, 1 - records.perceived, records.perceived))

    blinded.play = replaying
    act, sig = blinded.tables()
    garbage = torch.Generator().manual_seed(0)
    planted = 0
    for value in vars(blinded).values():
        if isinstance(value, torch.Tensor) and value.shape in (act.shape, sig.shape):
            value[:, fixed] = torch.rand(value[:, fixed].shape, generator=garbage, dtype=value.dtype)
            planted += 1
    assert planted == 2  # the fixed agents' act and sig tables
    for _ in range(3):
        figure = method.step(honest)
        torch.testing.assert_close(method.step(blinded), figure, rtol=0, atol=0)
    for ours, theirs in zip(learner_tables(blinded, regime), learner_tables(honest, regime)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert not torch.equal(blinded.tables()[0][:, fixed], honest.tables()[0][:, fixed])  # the garbage is there


@pytest.mark.parametrize("name", METHODS)
def test_state_round_trip_under_a_formed_game(name):
    """Under the non-default formation (k = 3 signals per record), a state saved after 3 iterations
    (the baselines with records buffered) and loaded into a fresh state goes on as the original, bit
    for bit; a buffer with one observer per record is refused."""
    method = contract.method(name)
    regime = small("hybrid-alld" + FORMED)
    state = method.start(regime, [0, 1])
    for _ in range(3):
        method.step(state)
    meta, tensors = state.state_dict()
    meta, tensors = copy.deepcopy(meta), {key: value.clone() for key, value in tensors.items()}  # as from a file
    fresh = method.start(regime, [0, 1])
    fresh.load_state_dict(copy.deepcopy(meta), {key: value.clone() for key, value in tensors.items()})
    for _ in range(2):
        torch.testing.assert_close(method.step(fresh), method.step(state), rtol=0, atol=0)
    for ours, theirs in zip(learner_tables(fresh, regime), learner_tables(state, regime)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    if "buffer.observers" in tensors:
        narrow = dict(tensors, **{"buffer.observers": tensors["buffer.observers"][..., :1]})
        with pytest.raises(contract.StateError, match="buffer.observers has shape"):
            method.start(regime, [0, 1]).load_state_dict(meta, narrow)


def test_unknown_method_is_refused_with_the_registered_names():
    with pytest.raises(ConfigError, match="unknown method 'sarsa'; allowed: rg, reinforce, ppo"):
        contract.method("sarsa")
