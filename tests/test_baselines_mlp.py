"""The neural-policy baselines (docs/model.md §7, "Neural-policy baselines"): reinforce-mlp,
a2c-mlp, ppo-mlp.

- each solves the case with immediate reward (degenerate-allc: defecting saves c now and
  costs nothing later), so a failure elsewhere is the method's;
- the tables read off the network equal a hand computation from given weights, and a head
  that does not learn reads the start tables exactly;
- the network starts at every method's initial tables (the residual's heads are 0);
- a saved state with a network tensor that does not fit is refused in one line
  (reproducibility per seed, the frozen head and resuming: tests/test_methods.py).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recigrad.evaluation import evaluate, metrics
from recigrad.evaluation.best_response import best_response
from recigrad.game.regime import load_regime
from recigrad.learning import contract
from recigrad.learning import reciprocity_gradient as learner
from recigrad.learning.baselines import a2c_mlp, common, mlp, ppo_mlp, reinforce_mlp

MODULES = {"reinforce-mlp": reinforce_mlp, "a2c-mlp": a2c_mlp, "ppo-mlp": ppo_mlp}


# ---------------------------------------------------------------------------
# a case with immediate reward


@pytest.mark.parametrize(
    "method, config",
    [
        ("reinforce-mlp", reinforce_mlp.ReinforceMLPConfig(lr=0.01, gamma=0.0, interactions=400)),
        ("a2c-mlp", a2c_mlp.A2CMLPConfig(lr=0.01, gamma=0.0, interactions=400)),
        ("ppo-mlp", ppo_mlp.PPOMLPConfig(lr=0.003, gamma=0.0, interactions=1600)),
    ],
)
def test_solves_degenerate_allc(method, config):
    regime = load_regime("degenerate-allc")
    regime = dataclasses.replace(regime, train=dataclasses.replace(regime.train, interactions=400))  # 150 iterations of 400 below
    act0, sig0 = regime.population.batched_tables(1)
    ref = best_response(act0, sig0, 0, regime.game)
    module = MODULES[method]
    state = module.start(regime, [0, 1, 2], config)
    for _ in range(150):  # 60 000 interactions per population
        module.step(state)
    act, sig = state.tables()
    solution, _ = evaluate(act, sig, regime.game)
    act_w, _ = metrics.context_weights(act, sig, solution.good, 0, regime.game)
    occurs = act_w >= metrics.OCCURS * act_w.flatten(1).sum(1).view(-1, 1, 1)
    assert occurs.flatten(1).sum(1).min() >= 2
    # the action head defects in every context that occurs
    assert torch.where(occurs, act[:, 0], 0.0).max() < 0.1
    # and the exact payoff is within a few percent of the reference (b (1 - e) = 4.95)
    assert float(ref.payoff[0]) == pytest.approx(regime.game.b * (1 - regime.game.e))
    assert (solution.payoff[:, 0] / ref.payoff[0]).min() > 0.98


# ---------------------------------------------------------------------------
# the read-off against a hand computation


def hand_network() -> dict[str, torch.Tensor]:
    """One population, one learner, one hidden layer of 2 units, given weights."""
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    w0 = t([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [1.0, 0.5]])
    return {
        "actor.w0": w0.view(1, 1, 4, 2), "actor.b0": t([[[0.1, -0.2]]]),
        "actor.action.w": t([[[2.0, -1.0]]]), "actor.action.b": t([[0.3]]),
        "actor.signal.w": t([[[-0.5, 1.5]]]), "actor.signal.b": t([[-0.4]]),
        "critic.w0": (-w0).view(1, 1, 4, 2), "critic.b0": t([[[0.0, 0.5]]]),
        "critic.value.w": t([[[1.0, 3.0]]]), "critic.value.b": t([[2.0]]),
    }


def hand_output(params: dict, network: str, head: str, features: tuple[float, ...]) -> float:
    w0, b0 = params[f"{network}.w0"][0, 0], params[f"{network}.b0"][0, 0]
    h = [math.tanh(sum(features[f] * float(w0[f, j]) for f in range(4)) + float(b0[j])) for j in range(2)]
    w, b = params[f"{network}.{head}.w"][0, 0], params[f"{network}.{head}.b"][0, 0]
    return sum(h[j] * float(w[j]) for j in range(2)) + float(b)


def test_tables_read_off_equal_hand_computation():
    params = hand_network()
    start = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).view(1, 1, 12)
    logits = mlp.policy_logits(params, start, 1, ("action", "signal"))
    values = mlp.critic_values(params, 1)
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    act, sig = torch.sigmoid(logits[0, 0, :4]).view(2, 2), torch.sigmoid(logits[0, 0, 4:]).view(2, 2, 2)
    for x_own in (0, 1):
        for x_rec in (0, 1):
            features = (1.0, 2 * x_own - 1, 2 * x_rec - 1, 0.0)
            z = float(start[0, 0, 2 * x_own + x_rec]) + hand_output(params, "actor", "action", features)
            assert float(act[x_own, x_rec]) == pytest.approx(sigmoid(z), abs=1e-14)
    for a in (0, 1):
        for x_d in (0, 1):
            for x_r in (0, 1):
                features = (-1.0, 2 * x_d - 1, 2 * x_r - 1, 2 * a - 1)
                c = 4 + 4 * a + 2 * x_d + x_r
                z = float(start[0, 0, c]) + hand_output(params, "actor", "signal", features)
                assert float(sig[a, x_d, x_r]) == pytest.approx(sigmoid(z), abs=1e-14)
                assert float(values[0, 0, c]) == pytest.approx(hand_output(params, "critic", "value", features), abs=1e-14)
    assert float(values[0, 0, 1]) == pytest.approx(hand_output(params, "critic", "value", (1.0, -1.0, 1.0, 0.0)), abs=1e-14)


@pytest.mark.parametrize("heads, frozen", [(("action",), slice(4, 12)), (("signal",), slice(0, 4))])
def test_a_head_that_does_not_learn_reads_the_start_tables(heads, frozen):
    params = hand_network()
    start = torch.linspace(-2.0, 2.0, 12, dtype=torch.float64).view(1, 1, 12)
    logits = mlp.policy_logits(params, start, 1, heads)
    torch.testing.assert_close(logits[..., frozen], start[..., frozen], rtol=0, atol=0)
    assert not torch.equal(logits, start)  # the learning head's output is there


def test_entropy_of_the_intended_choice():
    z = torch.tensor([[[0.0, 2.0, -3.0] + [0.0] * 9]], dtype=torch.float64)
    q = 1 / (1 + math.exp(-2.0))
    expected = [math.log(2.0), -(q * math.log(q) + (1 - q) * math.log(1 - q))]
    assert mlp.entropy(z)[0, 0, :2].tolist() == pytest.approx(expected, abs=1e-14)
    assert float(mlp.entropy(z)[0, 0, 2]) == pytest.approx(float(mlp.entropy(-z)[0, 0, 2]), abs=1e-15)


# ---------------------------------------------------------------------------
# the start, settings and saved states


@pytest.mark.parametrize("name", ["warmup-L3-in-L3-action", "discriminative-sj"])
def test_initial_tables_are_those_of_the_reciprocity_gradient(name):
    regime = load_regime(name)
    rg_act, rg_sig = learner.start(regime, [4, 7]).tables()
    for module in MODULES.values():
        act, sig = module.start(regime, [4, 7]).tables()
        torch.testing.assert_close(act, rg_act, rtol=0, atol=0)
        torch.testing.assert_close(sig, rg_sig, rtol=0, atol=0)


def test_settings_tuned_per_regime_with_defaults_elsewhere():
    tuned = common.tuned_table()
    for name, module in MODULES.items():
        defaults = module.start(load_regime("leading-eight-L1"), [0]).config  # not tuned
        assert defaults == type(defaults)()
        for regime_name, best in tuned.get(name, {}).items():
            config = module.start(load_regime(regime_name), [0]).config
            assert {k: getattr(config, k) for k in best} == best
        explicit = dataclasses.replace(defaults, lr=0.123)
        assert module.start(load_regime("discriminative-sj"), [0], explicit).config is explicit


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_network_tensor_that_does_not_fit_is_refused(name):
    regime = load_regime("discriminative-ss")
    module = contract.method(name)
    meta, tensors = module.start(regime, [0, 1]).state_dict()
    fresh = module.start(regime, [0, 1])
    wrong = dict(tensors, **{"net.actor.w1": tensors["net.actor.w1"][:, :, :3]})
    shape = r"^tensor net.actor.w1 has shape \(2, 1, 3, 32\); allowed: exactly \(2, 1, 32, 32\)$"
    with pytest.raises(contract.StateError, match=shape):
        fresh.load_state_dict(meta, wrong)
    nan = dict(tensors, **{"net.actor.b0": torch.full_like(tensors["net.actor.b0"], math.nan)})
    with pytest.raises(contract.StateError, match="^tensor net.actor.b0 holds a value that is not finite"):
        fresh.load_state_dict(meta, nan)
    extra = dict(tensors, **{"net.actor.w9": tensors["net.actor.w1"]})
    with pytest.raises(contract.StateError, match="^tensor net.actor.w9 is not part of this network"):
        fresh.load_state_dict(meta, extra)
    missing = {k: v for k, v in tensors.items() if k != "net.actor.action.w"}
    with pytest.raises(contract.StateError, match="^tensor net.actor.action.w is missing"):
        fresh.load_state_dict(meta, missing)
    fresh.load_state_dict(meta, tensors)  # and the state as saved loads


_FRESH = {}


def _saved(name: str):
    if name not in _FRESH:
        regime = load_regime("discriminative-ss")
        _FRESH[name] = regime, contract.method(name).start(regime, [0, 1]).state_dict()
    return _FRESH[name]


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(MODULES)), data=st.data())
def test_any_broken_network_tensor_is_refused_in_one_line(name, data):
    """Hypothesis: a network tensor of the saved state cut, grown, cast or poisoned is refused with one
    line naming it; the fresh state's network is left as it started (nothing half-loaded there)."""
    regime, (meta, tensors) = _saved(name)
    key = data.draw(st.sampled_from(sorted(k for k in tensors if k.startswith("net."))))
    original = tensors[key]
    how = data.draw(st.sampled_from(["cut", "grow", "cast", "poison"]))
    if how == "cut":
        broken = original[..., :-1]
    elif how == "grow":
        broken = torch.cat([original, original[..., :1]], -1)
    elif how == "cast":
        broken = original.to(torch.float32)
    else:
        broken = original.clone().flatten()
        broken[data.draw(st.integers(0, broken.numel() - 1))] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        broken = broken.view_as(original)
    fresh = contract.method(name).start(regime, [0, 1])
    before = {k: p.detach().clone() for k, p in fresh.params.items()}
    with pytest.raises(contract.StateError) as err:
        fresh.load_state_dict(meta, dict(tensors, **{key: broken}))
    assert str(err.value).startswith(f"tensor {key} ") and "allowed:" in str(err.value) and "\n" not in str(err.value)
    for k, p in fresh.params.items():
        torch.testing.assert_close(p.detach(), before[k], rtol=0, atol=0)
