"""Environments (``recigrad.envs``): the rules one decision at a time, the
PettingZoo and Gymnasium checkers, the long-run payoff against the exact chain,
and a tiny REINFORCE that learns on the Gymnasium environment."""

import random

import numpy as np
import pytest
import torch

from recigrad.dynamics.exact import solve
from recigrad.dynamics.plain import play_plain
from recigrad.envs.core import NO_ACTION, ROLE_DONOR, ROLE_NONE, ROLE_OBSERVER, Core, Uniforms, resolve_regime
from recigrad.game import ConfigError, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.game.regime import load_regime, regime_from_dict

Z = 4.0
DISC = action_table("disc").tolist()
SJ = signal_table("stern-judging").tolist()


def regime_dict(agents, e=0.01, mu=0.01):
    return {
        "name": "test",
        "game": {"benefit": 5.0, "cost": 1.0, "execution_error": e, "assessment_error": mu},
        "agents": [{"kind": k, "norm": n, "count": c} for k, n, c in agents],
    }


def disc_sj(obs):
    """The learner copying disc + stern judging, from an observation."""
    role, x_own, x_d, x_r, a = (int(v) for v in obs)
    if role == ROLE_DONOR:
        return int(DISC[x_own][x_r])
    return int(SJ[a][x_d][x_r])


def own_payoff(records, j, b, c):
    return sum((b if rec["r"] == j else 0.0) - (c if rec["d"] == j else 0.0) for rec in records if rec["a"] == 1)


# ---------------------------------------------------------------- the core


@pytest.mark.parametrize("name", ["hybrid-alld", "leading-eight-L1"])
def test_core_without_learners_replays_plain(name):
    """Same draws in the same order as ``recigrad.dynamics.plain``: identical payoffs and
    time spent good, interaction by interaction."""
    regime = load_regime(name)
    act, sig = regime.population.tables()
    core = Core.from_regime(regime, external=())
    core.reset(random.Random(5))
    n, steps = regime.population.n, 3000
    payoff, good = [0.0] * n, [0] * n
    for t in range(steps):
        for j in range(n):
            good[j] += core.x[j]
        records, pay = core.advance(limit=t + 1)
        assert len(records) == 1
        assert core.pending is None
        assert core.interactions == t + 1
        payoff = [p + q for p, q in zip(payoff, pay)]
    plain = play_plain(act.tolist(), sig.tolist(), regime.game, steps, 5)
    assert [p * n / steps for p in payoff] == pytest.approx(plain["payoff"], abs=1e-12)
    assert [g / steps for g in good] == plain["good"]


def test_core_decisions_and_misuse():
    core = Core.from_regime(load_regime("discriminative-sj"))
    with pytest.raises(RuntimeError):
        core.advance()
    core.reset(Uniforms(np.random.default_rng(0)))
    core.advance(limit=1000)
    pending = core.pending
    assert pending is not None
    assert pending.agent == 0
    assert core.interactions < 1000
    obs = core.observation(0)
    assert obs.dtype == np.int64
    assert obs[0] == pending.role
    assert (obs[4] == NO_ACTION) == (pending.role == ROLE_DONOR)
    assert core.observation(1).tolist() == [ROLE_NONE, core.x[1], 0, 0, NO_ACTION]
    with pytest.raises(ValueError, match="owes a decision"):
        core.advance(limit=1000)
    with pytest.raises(ValueError, match="0 or 1"):
        core.advance(2, limit=1000)
    core.advance(1, limit=1000)
    while core.pending is not None:
        core.advance(0, limit=1000)
    assert core.interactions == 1000
    with pytest.raises(ValueError, match="no decision is pending"):
        core.advance(1, limit=1000)


def test_resolve_regime(tmp_path):
    regime = load_regime("hybrid-allc")
    assert resolve_regime("hybrid-allc") == regime
    assert resolve_regime(regime) is regime
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[[agents]]\nkind = "learner"\nnorm = "L3"\n[[agents]]\nkind = "disc"\nnorm = "L3"\ncount = 3\n')
    assert resolve_regime(str(path)).population.n == 4
    assert resolve_regime(path).name == "mine"
    with pytest.raises(ConfigError, match="unknown regime"):
        resolve_regime("no-such-regime")
    with pytest.raises(ConfigError, match="no such file"):
        resolve_regime(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError):
        resolve_regime(3)


# ---------------------------------------------------------------- PettingZoo


@pytest.mark.parametrize(("name", "limit"), [("discriminative-sj", 60), ("society-L6-alld", 40), ("society-L3", 400)])
def test_pettingzoo_api_and_seed(name, limit):
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import api_test, parallel_api_test, seed_test

    from recigrad.envs import pettingzoo as pz

    api_test(pz.env(name, max_interactions=limit), num_cycles=300)
    seed_test(lambda: pz.env(name, max_interactions=limit), num_cycles=300)
    parallel_api_test(pz.parallel_env(name, max_interactions=limit), num_cycles=300)
    try:
        from pettingzoo.test import parallel_seed_test
    except ImportError:  # older PettingZoo
        return
    parallel_seed_test(lambda: pz.parallel_env(name, max_interactions=limit), num_cycles=300)


def test_pettingzoo_agents_are_the_learners():
    pytest.importorskip("pettingzoo")
    from recigrad.envs import pettingzoo as pz

    assert pz.env("discriminative-sj").possible_agents == ["agent_0"]
    assert pz.parallel_env("society-L6-alld").possible_agents == [f"agent_{j}" for j in range(6)]
    aec = pz.raw_env("society-L6-alld")
    assert aec.observation_space("agent_3") is aec.observation_space("agent_3")
    assert aec.action_space("agent_3") is aec.action_space("agent_3")
    no_learner = regime_from_dict(regime_dict([("disc", "stern-judging", 8)]))
    with pytest.raises(ConfigError, match="no learner"):
        pz.env(no_learner)
    with pytest.raises(ConfigError, match="max_interactions"):
        pz.parallel_env("discriminative-sj", max_interactions=0)


def test_pettingzoo_aec_records_rewards_and_observations():
    """Records given to an agent are complete and consistent with reputations,
    its observations and its rewards."""
    pytest.importorskip("pettingzoo")
    from recigrad.envs import pettingzoo as pz

    regime = load_regime("society-L6-alld")
    env = pz.env(regime, max_interactions=500)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    seen = {agent: [] for agent in env.possible_agents}
    reward = dict.fromkeys(env.possible_agents, 0.0)
    at_reset = {agent: list(env.infos[agent]["records"]) for agent in env.possible_agents}
    for agent in env.agent_iter():
        obs, r, term, trunc, info = env.last()
        seen[agent].extend(info["records"])
        reward[agent] += r
        assert not term
        if trunc:
            env.step(None)
            continue
        j = int(agent.split("_")[1])
        assert obs[0] in (ROLE_DONOR, ROLE_OBSERVER)
        assert env.unwrapped.core.pending.agent == j
        env.step(int(rng.integers(2)))
    b, c = regime.game.b, regime.game.c
    for agent, records in seen.items():
        assert len(records) == 500
        x = [1] * regime.population.n
        for rec in records:
            assert (rec["x_d"], rec["x_r"]) == (x[rec["d"]], x[rec["r"]])
            assert rec["o"][0] != rec["d"]
            assert rec["d"] != rec["r"]
            x[rec["d"]] = rec["x_new"]
        j = int(agent.split("_")[1])
        assert reward[agent] == pytest.approx(own_payoff(records, j, b, c) - own_payoff(at_reset[agent], j, b, c))


def test_pettingzoo_parallel_uses_only_the_deciders_action():
    pytest.importorskip("pettingzoo")
    from recigrad.envs import pettingzoo as pz

    def play(others):
        env = pz.parallel_env("society-L6", max_interactions=200)
        obs, infos = env.reset(seed=3)
        rng = np.random.default_rng(0)
        out = []
        while env.agents:
            deciders = [a for a in env.agents if obs[a][0] != ROLE_NONE]
            assert len(deciders) == 1
            choice = int(rng.integers(2))
            actions = {a: (choice if a == deciders[0] else others) for a in env.agents}
            obs, rewards, terms, truncs, infos = env.step(actions)
            out.append((rewards, infos))
        return out

    assert play(0) == play(1)
    env = pz.parallel_env("society-L6", max_interactions=200)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="decides in this phase"):
        env.step({})


def test_pettingzoo_render():
    pytest.importorskip("pettingzoo")
    from recigrad.envs import pettingzoo as pz

    env = pz.raw_env("discriminative-sj", render_mode="ansi")
    env.reset(seed=0)
    env.step(1)
    text = env.render()
    assert "reputations" in text
    assert "deciding: agent 0" in text
    assert pz.raw_env("discriminative-sj").render() is None


# ---------------------------------------------------------------- Gymnasium


def test_gymnasium_check_env_and_registration():
    gymnasium = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    import recigrad.envs.gymnasium as genv

    env = gymnasium.make(genv.ENV_ID, regime="discriminative-sj", max_interactions=200)
    assert isinstance(env.unwrapped, genv.ReciprocityEnv)
    check_env(env.unwrapped)
    ansi = gymnasium.make(genv.ENV_ID, regime="hybrid-alld", render_mode="ansi")
    ansi.reset(seed=0)
    assert "deciding: agent 0" in ansi.render()


def test_gymnasium_refuses_other_than_one_learner():
    pytest.importorskip("gymnasium")
    from recigrad.envs.gymnasium import ReciprocityEnv

    with pytest.raises(ConfigError, match="has 8 learners") as err:
        ReciprocityEnv("society-L6")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="has 0 learners"):
        ReciprocityEnv(regime_from_dict(regime_dict([("disc", "stern-judging", 8)])))


def test_gymnasium_steps_are_the_learners_decisions_with_errors():
    """Each observation describes the decision whose record comes next; the
    execution error turns C into D (never D into C) and the assessment error
    flips the learner's signal, at their rates."""
    pytest.importorskip("gymnasium")
    from recigrad.envs.gymnasium import ReciprocityEnv

    e, mu = 0.2, 0.1
    env = ReciprocityEnv(regime_from_dict(regime_dict([("learner", "L6", 1), ("disc", "L6", 3)], e, mu)), max_interactions=20_000)
    rng = np.random.default_rng(2)
    obs, _ = env.reset(seed=2)
    counts = np.zeros((2, 2, 2))  # role - 1, choice, outcome (a for a donor, "signal flipped" for an observer)
    done = False
    while not done:
        choice = int(rng.integers(2))
        before = obs
        obs, _, term, done, info = env.step(choice)
        assert not term
        rec = info["records"][0]  # a single learner: the pending interaction completes first
        assert (rec["x_d"], rec["x_r"]) == (before[2], before[3])
        if before[0] == ROLE_DONOR:
            assert rec["d"] == 0
            assert before[1] == before[2]
            assert before[4] == NO_ACTION
            counts[0, choice, rec["a"]] += 1
        else:
            assert before[0] == ROLE_OBSERVER
            assert rec["o"] == (0,)
            assert rec["a"] == before[4]
            assert rec["d"] != 0
            counts[1, choice, int(rec["signals"][0] != choice)] += 1
    assert counts[0, 0, 1] == 0
    for p, (fails, total) in [(e, (counts[0, 1, 0], counts[0, 1].sum())), (mu, (counts[1, :, 1].sum(), counts[1].sum()))]:
        assert total > 1000
        assert abs(fails / total - p) < Z * (p * (1 - p) / total) ** 0.5


# ---------------------------------------------------------------- the long run against the exact chain


def exact_payoff(regime):
    act, sig = regime.population.tables()
    act[0], sig[0] = torch.tensor(DISC), torch.tensor(SJ)
    pc, so = observable(act[None], sig[None], regime.game)
    return solve(pc, so, regime.game).payoff[0, 0].item()


@pytest.mark.parametrize("form", ["gymnasium", "pettingzoo"])
def test_mean_reward_matches_the_exact_chain(form):
    """The learner plays disc + stern judging among seven of them: its mean
    payoff per round over independent episodes is the exact chain's."""
    pytest.importorskip(form)
    regime = load_regime("discriminative-sj")
    b, c, n = regime.game.b, regime.game.c, regime.population.n
    episodes, length = 20, 5000
    per_round = []
    if form == "gymnasium":
        from recigrad.envs.gymnasium import ReciprocityEnv

        env = ReciprocityEnv(regime, max_interactions=length)
        for k in range(episodes):
            obs, info = env.reset(seed=k)
            total, done = own_payoff(info["records"], 0, b, c), False
            while not done:
                obs, r, _, done, info = env.step(disc_sj(obs))
                total += r
            per_round.append(total * n / length)
    else:
        from recigrad.envs.pettingzoo import raw_env

        env = raw_env(regime, max_interactions=length)
        for k in range(episodes):
            env.reset(seed=100 + k)
            total = own_payoff(env.infos["agent_0"]["records"], 0, b, c)
            for _ in env.agent_iter():
                obs, r, term, trunc, _ = env.last()
                total += r
                env.step(None if term or trunc else disc_sj(obs))
            per_round.append(total * n / length)
    per_round = np.array(per_round)
    mean, se = per_round.mean(), per_round.std(ddof=1) / episodes**0.5
    expected = exact_payoff(regime)
    assert se < 0.1, f"standard error {se:.3f} too large for the test to mean anything"
    assert abs(mean - expected) < Z * se, f"{mean:.4f} vs exact {expected:.4f} (se {se:.4f})"


# ---------------------------------------------------------------- a standard learner on the Gymnasium env


def reinforce_episode(env, logits, rng, seed, lr=None):
    """One episode of a tabular softmax policy; with ``lr``, a REINFORCE update
    (reward-to-go with discount 0: this regime's reward is immediate; the
    episode's mean as baseline)."""
    obs, _ = env.reset(seed=seed)
    steps, total, done = [], 0.0, False
    while not done:
        state = tuple(int(v) for v in obs)
        logit = logits.setdefault(state, np.zeros(2))
        p = np.exp(logit - logit.max())
        p /= p.sum()
        action = int(rng.random() < p[1])
        obs, reward, _, done, _ = env.step(action)
        steps.append((state, action, p, reward))
        total += reward
    if lr is not None:
        baseline = np.mean([s[3] for s in steps])
        for state, action, p, reward in steps:
            grad = -p
            grad[action] += 1.0
            logits[state] += lr * (reward - baseline) * grad
    return total


def test_reinforce_learns_to_defect_against_unconditional_cooperators():
    gymnasium = pytest.importorskip("gymnasium")
    import recigrad.envs.gymnasium as genv

    length = 400
    env = gymnasium.make(genv.ENV_ID, regime="degenerate-allc", max_interactions=length)
    n = 8

    def evaluate(logits):
        rounds = [reinforce_episode(env, dict(logits), np.random.default_rng(50 + k), 1000 + k) for k in range(50)]
        return np.mean(rounds) * n / length

    before = evaluate({})
    logits, rng = {}, np.random.default_rng(0)
    for episode in range(60):
        reinforce_episode(env, logits, rng, episode, lr=0.05)
    after = evaluate(logits)
    logit = logits[(ROLE_DONOR, 1, 1, 1, NO_ACTION)]  # the donor's most frequent context: everyone good
    assert 1 / (1 + np.exp(logit[0] - logit[1])) < 0.1
    # defecting saves c (1 - e) per donation, a donation in 1/N of interactions: about 0.45 per round from a uniform start
    assert after - before > 0.25, (before, after)


def test_no_learner_decision_within_the_limit_truncates_at_once():
    """With ``max_interactions = 1`` the learner of discriminative-sj decides
    nothing in 3 episodes out of 4: the episode is over at ``reset``."""
    pytest.importorskip("gymnasium")
    pytest.importorskip("pettingzoo")
    from recigrad.envs.gymnasium import ReciprocityEnv
    from recigrad.envs.pettingzoo import parallel_env, raw_env

    gym, aec, par = ReciprocityEnv(max_interactions=1), raw_env(max_interactions=1), parallel_env(max_interactions=1)
    outcomes = set()
    for seed in range(12):
        obs, info = gym.reset(seed=seed)
        over = obs[0] == ROLE_NONE
        outcomes.add(bool(over))
        assert over == (info["interactions"] == 1)
        _, reward, term, trunc, _ = gym.step(0)
        assert trunc
        assert not term
        if over:
            assert reward == 0.0
        aec.reset(seed=seed)
        assert aec.truncations["agent_0"] == (aec.core.pending is None)
        for _ in aec.agent_iter():
            _, _, _, trunc, _ = aec.last()
            aec.step(None if trunc else 1)
        assert aec.agents == []
        par.reset(seed=seed)
        _, _, _, truncs, _ = par.step({"agent_0": 1})
        assert truncs == {"agent_0": True}
        assert par.agents == []
    assert outcomes == {True, False}


# ---------------------------------------------------------------- misuse (issue 9)

BAD_ACTIONS = [0.9, 1.7, 1.0, "1", "0", True, False, 2, -1, np.float64(1.0), np.array(1.0), np.array([1]), np.bool_(True)]
GOOD_ACTIONS = [0, 1, np.int64(1), np.int32(0), np.uint8(1), np.array(1), np.array(0, dtype=np.int8)]


def _envs_at_a_decision():
    """The raw Gymnasium, raw AEC and parallel environments of discriminative-sj, each at the learner's first decision."""
    pytest.importorskip("gymnasium")
    pytest.importorskip("pettingzoo")
    from recigrad.envs.gymnasium import ReciprocityEnv
    from recigrad.envs.pettingzoo import parallel_env, raw_env

    gym, aec, par = ReciprocityEnv(max_interactions=800), raw_env(max_interactions=800), parallel_env(max_interactions=800)
    gym.reset(seed=0)
    aec.reset(seed=0)
    par.reset(seed=0)
    return {"gymnasium": gym.step, "aec": aec.step, "parallel": lambda a: par.step({"agent_0": a})}, (gym, aec, par)


@pytest.mark.parametrize("action", BAD_ACTIONS, ids=repr)
def test_every_env_refuses_actions_outside_its_space(action):
    steps, (gym, aec, par) = _envs_at_a_decision()
    before = [(env.core.interactions, env.core.pending) for env in (gym, aec, par)]
    for form, step in steps.items():
        with pytest.raises(ConfigError, match="a decision is 0 or 1") as info:
            step(action)
        assert "\n" not in str(info.value), form
    after = [(env.core.interactions, env.core.pending) for env in (gym, aec, par)]
    assert after == before  # nothing half-done: the same decision is still pending


def test_every_env_refuses_no_action_when_its_agent_decides():
    steps, _ = _envs_at_a_decision()
    for step in steps.values():
        with pytest.raises(ValueError, match="owes a decision|decides in this phase"):
            step(None)


@pytest.mark.parametrize("action", GOOD_ACTIONS, ids=repr)
def test_every_env_accepts_ints_and_numpy_integers_0_or_1(action):
    steps, (gym, aec, par) = _envs_at_a_decision()
    for step in steps.values():
        step(action)
    assert gym.core.interactions >= 1
    assert aec.core.interactions >= 1
    assert par.core.interactions >= 1


def test_an_integer_action_acts_as_that_decision_and_a_float_is_not_rounded():
    """The reproduction of issue 9: ``step(0.9)`` acted as 0 and ``step(1.7)`` as 1.
    Two runs from one seed agree when given 1 and np.int64(1), and 0.9 is refused."""
    pytest.importorskip("gymnasium")
    from recigrad.envs.gymnasium import ReciprocityEnv

    runs = []
    for one in (1, np.int64(1), np.array(1)):
        env = ReciprocityEnv(max_interactions=400)
        env.reset(seed=4)
        runs.append([env.step(one)[1:4] for _ in range(20)])
    assert runs[0] == runs[1] == runs[2]
    env = ReciprocityEnv(max_interactions=400)
    env.reset(seed=4)
    for bad in (0.9, 1.7, "1"):
        with pytest.raises(ConfigError):
            env.step(bad)


def test_the_parallel_env_refuses_a_bad_action_of_an_agent_that_does_not_decide():
    pytest.importorskip("pettingzoo")
    from recigrad.envs.pettingzoo import parallel_env

    env = parallel_env("society-L6", max_interactions=200)
    obs, _ = env.reset(seed=1)
    deciding = next(a for a in env.agents if obs[a][0] != ROLE_NONE)
    other = next(a for a in env.agents if a != deciding)
    with pytest.raises(ConfigError, match="a decision is 0 or 1"):
        env.step({deciding: 1, other: 0.5})
    assert env.core.interactions == env.step({deciding: 1, other: 0})[4][deciding]["interactions"]


def test_the_wrapped_aec_env_refuses_a_float_too():
    pytest.importorskip("pettingzoo")
    from recigrad.envs import pettingzoo as pz

    env = pz.env(max_interactions=200)
    env.reset(seed=0)
    with pytest.raises((AssertionError, ConfigError)):
        env.step(0.9)


def test_stepping_before_reset_is_refused():
    pytest.importorskip("gymnasium")
    pytest.importorskip("pettingzoo")
    from recigrad.envs.gymnasium import ReciprocityEnv
    from recigrad.envs.pettingzoo import parallel_env, raw_env

    for step in (ReciprocityEnv().step, raw_env().step, lambda a: parallel_env().step({"agent_0": a})):
        with pytest.raises(RuntimeError, match=r"^call reset\(\) before step\(\)$"):
            step(1)


def test_the_environments_share_one_observation_space_and_one_record_type():
    pytest.importorskip("pettingzoo")
    from recigrad.dynamics.records import NOTATION, PUBLIC, Record
    from recigrad.envs.core import OBS_HIGH, observation_box
    from recigrad.envs.gymnasium import ReciprocityEnv
    from recigrad.envs.pettingzoo import raw_env

    box = observation_box()
    assert ReciprocityEnv().observation_space == box
    assert raw_env().observation_space("agent_0") == box
    assert box.high.tolist() == list(OBS_HIGH)
    env = ReciprocityEnv(max_interactions=50)
    _, info = env.reset(seed=2)
    while True:
        _, _, _, trunc, info = env.step(1)
        if info["records"] or trunc:
            break
    record = env.core.last
    assert isinstance(record, Record)
    assert info["records"][-1] == {NOTATION[f]: getattr(record, f) for f in PUBLIC}
    assert list(info["records"][-1]) == ["d", "r", "x_d", "x_r", "a", "o", "signals", "x_new"]
