"""The Stable-Baselines3 methods (docs/model.md §7): ``sb3-ppo``, ``sb3-a2c`` and their ``-default`` variants.

- both solve the case with immediate reward (degenerate-allc: defecting saves c now and costs nothing later);
- the tables read off the policy are SB3's own probabilities (``evaluate_actions``) at every context, and they
  start within 0.005 of the start tables of every method;
- an iteration is one episode of exactly ``regime.train.interactions`` interactions, holding Binomial(K, 2/N)
  learner decisions;
- a state resumed from ``state_dict`` between SB3 updates continues bit for bit;
- the learner never reads the others' tables: with the environment's outputs replayed, garbage in the fixed
  agents' tables changes nothing;
- a default variant is the tuned variant's code with SB3's default settings;
- refusals: a broken checkpoint field, several learners, SB3 missing.

The method contract (seed alone = seed in batch, frozen head, resume through ``train``) is in
tests/test_methods.py.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from recigrad.errors import ConfigError  # noqa: E402
from recigrad.evaluation import evaluate, metrics  # noqa: E402
from recigrad.evaluation.best_response import best_response  # noqa: E402
from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning import contract  # noqa: E402
from recigrad.learning.baselines import sb3, sb3_a2c, sb3_a2c_default, sb3_ppo, sb3_ppo_default  # noqa: E402
from recigrad.learning.tables import initial_logits  # noqa: E402

MODULES = {"sb3-ppo": sb3_ppo, "sb3-a2c": sb3_a2c}
Z = 4.0


def with_train(regime, **changes):
    return dataclasses.replace(regime, train=dataclasses.replace(regime.train, **changes))


@pytest.mark.parametrize("method, config", [("sb3-ppo", sb3.SB3Config(n_steps=64, learning_rate=1e-3, gamma=0.0)),
                                            ("sb3-a2c", sb3.SB3Config(learning_rate=1.5e-3, gamma=0.0))])
def test_solves_degenerate_allc(method, config):
    regime = with_train(load_regime("degenerate-allc"), interactions=800)
    act0, sig0 = regime.population.batched_tables(1)
    ref = best_response(act0, sig0, 0, regime.game)
    module = MODULES[method]
    state = module.start(regime, [0, 1], config)
    for _ in range(10):  # 8 000 interactions, about 2 000 learner decisions per population
        module.step(state)
    act, sig = state.tables()
    solution, _ = evaluate(act, sig, regime.game)
    act_w, _ = metrics.context_weights(act, sig, solution.good, 0, regime.game)
    occurs = act_w >= metrics.OCCURS * act_w.flatten(1).sum(1).view(-1, 1, 1)
    assert occurs.flatten(1).sum(1).min() >= 2
    # the action head defects in every context that occurs
    assert torch.where(occurs, act[:, 0], 0.0).max() < 0.1
    # and the exact payoff is within a few percent of the reference (b (1 - e) = 4.95)
    assert (solution.payoff[:, 0] / ref.payoff[0]).min() > 0.98


@pytest.mark.parametrize("method", ["sb3-ppo", "sb3-a2c"])
def test_tables_are_the_policy_at_every_context_and_start_at_the_start_tables(method):
    from recigrad.envs.core import table_observations

    regime = with_train(load_regime("discriminative-sj"), interactions=400)
    state = MODULES[method].start(regime, [3], sb3.SB3Config(n_steps=32))
    logits_act, logits_sig = initial_logits(regime, [3])
    act, sig = state.tables()
    torch.testing.assert_close(act[0, 0], torch.sigmoid(logits_act[0, 0]), rtol=0, atol=sb3.WARM_TOLERANCE)
    torch.testing.assert_close(sig[0, 0], torch.sigmoid(logits_sig[0, 0]), rtol=0, atol=sb3.WARM_TOLERANCE)
    for _ in range(3):
        MODULES[method].step(state)
    act, sig = state.tables()
    act_obs, sig_obs = table_observations()
    policy = state.models[0].model.policy
    with torch.no_grad():
        for obs, table in ((act_obs, act[0, 0]), (sig_obs, sig[0, 0])):
            flat = torch.as_tensor(obs.reshape(-1, 4)).float()
            _, log_prob, _ = policy.evaluate_actions(flat, torch.ones(len(flat)))
            torch.testing.assert_close(table.flatten(), log_prob.exp().double(), rtol=0, atol=1e-6)
    torch.testing.assert_close(act[0, 1:], state.fixed_act[0, 1:], rtol=0, atol=0)


def test_an_iteration_is_an_episode_of_exactly_the_iteration_interactions():
    """K interactions per step; the learner decides in each with probability 2/N (donor 1/N,
    observer (N-1)/N x 1/(N-1)), so its decisions are Binomial(K, 2/N)."""
    regime = with_train(load_regime("hybrid-alld"), interactions=800)
    state = sb3_ppo.start(regime, [1], sb3.SB3Config(n_steps=4096))  # no update: collecting only
    learner = state.models[0]
    steps = 8
    for k in range(steps):
        sb3_ppo.step(state)
        assert state.interactions == (k + 1) * 800
        assert learner.env.core.interactions == 800
        assert learner.env.core.pending is None
    n, total = regime.population.n, steps * 800
    p = 2 / n
    assert abs(learner.model.num_timesteps - total * p) < Z * (total * p * (1 - p)) ** 0.5
    assert learner.model.rollout_buffer.pos == learner.model.num_timesteps


@pytest.mark.parametrize("method", ["sb3-ppo", "sb3-a2c"])
def test_resume_from_state_dict_between_updates(method):
    module = MODULES[method]
    regime = with_train(load_regime("discriminative-ss"), interactions=400)
    config = sb3.SB3Config(n_steps=48)
    full = module.start(regime, [0, 1], config)
    for _ in range(2):
        module.step(full)
    meta, tensors = full.state_dict()
    assert all(m["n_updates"] > 0 and m["buffer_pos"] > 0 for m in meta["models"])  # updates done, a partial rollout
    resumed = module.start(regime, [0, 1], config)
    resumed.load_state_dict(meta, {k: v.clone() for k, v in tensors.items()})
    for _ in range(2):
        torch.testing.assert_close(module.step(resumed), module.step(full), rtol=0, atol=0)
    for ours, theirs in zip(resumed.tables(), full.tables()):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_learner_never_reads_true_tables():
    """The blinded run replays the honest run's environment outputs (observations, rewards, records)
    while its environment's and its state's fixed-agent tables hold garbage: same tables, same figures."""
    regime = with_train(load_regime("hybrid-alld"), interactions=400)
    config = sb3.SB3Config(n_steps=32)
    honest, blinded = sb3_a2c.start(regime, [4], config), sb3_a2c.start(regime, [4], config)
    env = honest.models[0].env
    outputs, real_reset, real_step = [], env.reset, env.step
    env.reset = lambda **kw: outputs.append(("reset", None, real_reset(**kw))) or outputs[-1][2]
    env.step = lambda a: outputs.append(("step", a, real_step(a))) or outputs[-1][2]
    replay = iter(outputs)

    def replayed(kind, action=None):
        recorded_kind, recorded_action, output = next(replay)
        assert (kind, action) == (recorded_kind, recorded_action)
        return output

    garbage = torch.Generator().manual_seed(0)
    fake = blinded.models[0].env
    fixed = [j for j in range(regime.population.n) if j not in regime.population.learners]
    fake.core.act = torch.rand(regime.population.n, 2, 2, generator=garbage).tolist()
    fake.core.sig = torch.rand(regime.population.n, 2, 2, 2, generator=garbage).tolist()
    blinded.fixed_act[:, fixed] = torch.rand(blinded.fixed_act[:, fixed].shape, generator=garbage, dtype=torch.float64)
    fake.reset = lambda **kw: replayed("reset")
    fake.step = lambda a: replayed("step", a)
    for _ in range(3):
        figure = sb3_a2c.step(honest)
        torch.testing.assert_close(sb3_a2c.step(blinded), figure, rtol=0, atol=0)
    assert blinded.models[0].model._n_updates > 0
    for ours, theirs in zip(blinded.tables(), honest.tables()):
        torch.testing.assert_close(ours[:, 0], theirs[:, 0], rtol=0, atol=0)


def test_default_variants_are_the_tuned_code_with_sb3_defaults():
    regime = with_train(load_regime("discriminative-ss"), interactions=400)
    for default, tuned, algorithm in ((sb3_ppo_default, sb3_ppo, "PPO"), (sb3_a2c_default, sb3_a2c, "A2C")):
        state = default.start(regime, [2])
        assert state.config == sb3.SB3Config()
        model = state.models[0].model
        expected = {"PPO": (3e-4, 2048, 0.99), "A2C": (7e-4, 5, 0.99)}[algorithm]
        assert (model.learning_rate, model.n_steps, model.gamma) == expected
        assert type(model).__name__ == algorithm
        same = tuned.start(regime, [2], sb3.SB3Config())
        for _ in range(2):
            torch.testing.assert_close(default.step(state), tuned.step(same), rtol=0, atol=0)
        torch.testing.assert_close(state.tables()[0], same.tables()[0], rtol=0, atol=0)
    names = {"sb3-ppo", "sb3-a2c", "sb3-ppo-default", "sb3-a2c-default"}
    assert names <= set(contract.METHODS)


def test_refusals():
    regime = with_train(load_regime("discriminative-ss"), interactions=400)
    state = sb3_ppo.start(regime, [0], sb3.SB3Config(n_steps=32))
    sb3_ppo.step(state)
    meta, tensors = state.state_dict()
    broken = [
        ({**meta, "interactions": 100}, tensors, r"^state.interactions is 100; allowed: a multiple of 400"),
        (meta, {**tensors, "seed0.torch_rng": tensors["seed0.torch_rng"][:-1]}, r"^tensor seed0.torch_rng has shape"),
        (meta, {**tensors, "seed0.policy.action_net.bias": torch.full((2,), float("nan"), dtype=torch.float32)}, r"is not finite"),
        (meta, {**tensors, "seed0.buffer.actions": tensors["seed0.buffer.actions"] + 3}, r"^tensor seed0.buffer.actions holds 3"),
        ({**meta, "models": [{**meta["models"][0], "buffer_pos": 32}]}, tensors, r"buffer_pos is 32; allowed: an integer in \[0, 31"),
        ({**meta, "models": [{**meta["models"][0], "env": {"bit_generator": "MT"}}]}, tensors, r"env is not a PCG64 generator state"),
        ({**meta, "settings": {"learning_rate": 1.0, "n_steps": 32, "gamma": None}}, tensors, r"^state.settings is"),
    ]
    for bad_meta, bad_tensors, message in broken:
        fresh = sb3_ppo.start(regime, [0], sb3.SB3Config(n_steps=32))
        before = [t.clone() for t in fresh.tables()]
        with pytest.raises(contract.StateError, match=message) as err:
            fresh.load_state_dict(bad_meta, bad_tensors)
        assert "\n" not in str(err.value)
        assert fresh.interactions == 0
        for now, then in zip(fresh.tables(), before):
            torch.testing.assert_close(now, then, rtol=0, atol=0)
    with pytest.raises(ConfigError, match=r"^regime 'society-L6' has 8 learners; the sb3 methods need exactly one"):
        sb3_a2c.start(load_regime("society-L6"), [0])


def test_missing_stable_baselines3_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    with pytest.raises(ConfigError, match=r"^Stable-Baselines3 is not installed; install the extra: pip install -e '\.\[sb3\]'"):
        sb3_ppo.start(load_regime("discriminative-sj"), [0])


def test_seed_states_do_not_leak_into_the_caller():
    """SB3 draws from torch's and numpy's global generators; the method swaps each seed's own states in
    and the caller's back, so the caller's draws are as if nothing ran."""
    torch.manual_seed(11)
    np.random.seed(11)
    expected = (torch.rand(3), np.random.rand(3))
    torch.manual_seed(11)
    np.random.seed(11)
    state = sb3_a2c.start(with_train(load_regime("discriminative-ss"), interactions=400), [0])
    sb3_a2c.step(state)
    torch.testing.assert_close(torch.rand(3), expected[0], rtol=0, atol=0)
    np.testing.assert_array_equal(np.random.rand(3), expected[1])


def test_command_line_refuses_a_society_before_any_work(tmp_path, capsys):
    from recigrad.cli import main
    from recigrad.running import suite

    for argv in (["bench", "--methods", "rg,sb3-ppo", "--regimes", "discriminative-sj,society-L6", "--out", str(tmp_path / "bench")],
                 ["train", "--method", "sb3-a2c-default", "--regime", "society-L6", "--out", str(tmp_path / "train")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == ("recigrad: error: regime 'society-L6' has 8 learners; the sb3 methods need exactly one "
                       "(they train on the single-learner Gymnasium environment)\n")
    assert list(tmp_path.iterdir()) == []
    assert suite.METHOD_ORDER == tuple(m for m in contract.METHODS if not m.startswith("sb3-"))  # bench's default


def test_a_tuning_result_sets_the_run_and_says_so():
    """``sb3-ppo`` and ``sb3-a2c`` are tunable: a tuning result's best setting is the model's (SB3's own ``n_steps``,
    ``gamma``), and the run's ``baseline_settings`` names it; without one, the settings ``start`` picks."""
    from recigrad.learning.baselines import settings as baseline_settings
    from recigrad.running import train

    regime = with_train(load_regime("discriminative-sj"), interactions=100)
    doc = {"best": {"n_steps": 64, "gamma": 0.7}, "population": {"name": "elsewhere", "key": "0"}, "file": "t.json"}
    record = train.train_seeds(regime, [0], "sb3-ppo", iterations=1, tuning=doc)
    assert record.result["baseline_settings"] == {"source": "other", "tuned_for": "elsewhere", "file": "t.json",
                                                  "settings": {"learning_rate": None, "n_steps": 64, "gamma": 0.7}}
    state = sb3_ppo.start(regime, [0], baseline_settings.config_for("sb3-ppo", regime, doc))
    assert (state.models[0].model.n_steps, state.models[0].model.gamma) == (64, 0.7)
    for method, algorithm in (("sb3-ppo", "ppo"), ("sb3-a2c", "a2c")):
        for name in ("discriminative-sj", "hybrid-standing"):  # tuned there; not tuned there (overall)
            assert baseline_settings.config_for(method, load_regime(name)) == sb3.settings(algorithm, True, load_regime(name))
    with pytest.raises(ConfigError, match="n_steps is 32.5; allowed: a positive integer"):
        baseline_settings.check_setting("sb3-ppo", {"n_steps": 32.5}, "best")
