"""The sample-based baselines (docs/model.md §7): REINFORCE and PPO.

- both solve a case with immediate reward (degenerate-allc: defecting saves c
  now and costs nothing later), so a failure elsewhere is the method's;
- the REINFORCE gradient and GAE equal a hand computation on fixed records;
- PPO's pair-summed clipped surrogate equals the event-by-event one;
- the initial tables are the reciprocity gradient's (reproducibility per seed, the
  frozen head and resuming: every method's contract tests, tests/test_methods.py).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from recigrad.dynamics.world import Records
from recigrad.evaluation import evaluate, metrics
from recigrad.evaluation.best_response import best_response
from recigrad.game import Game
from recigrad.game.regime import load_regime
from recigrad.learning import reciprocity_gradient as learner
from recigrad.learning.baselines import common, ppo, reinforce

MODULES = {"reinforce": reinforce, "ppo": ppo}


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def with_train(regime, **changes):
    return dataclasses.replace(regime, train=dataclasses.replace(regime.train, **changes))


# ---------------------------------------------------------------------------
# a case with immediate reward


@pytest.mark.parametrize(
    "method, config",
    [
        ("reinforce", reinforce.ReinforceConfig(lr=0.2, gamma=0.0, interactions=400)),
        ("ppo", ppo.PPOConfig(lr=0.1, gamma=0.0, interactions=400)),
    ],
)
def test_solves_degenerate_allc(method, config):
    regime = with_train(load_regime("degenerate-allc"), interactions=400)  # 150 iterations of 400 below
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
# the estimators against hand computations


def random_records(batch: int, n: int, steps: int, seed: int) -> Records:
    g = torch.Generator().manual_seed(seed)
    donor = torch.randint(n, (batch, steps), generator=g)
    recipient = (donor + 1 + torch.randint(n - 1, (batch, steps), generator=g)) % n
    observer = (donor + 1 + torch.randint(n - 1, (batch, steps), generator=g)) % n
    bits = lambda: torch.randint(2, (batch, steps), generator=g).to(torch.uint8)  # noqa: E731
    x_d, x_r, a, s = bits(), bits(), bits(), bits()
    return Records(donor, recipient, observer.unsqueeze(-1), x_d, x_r, a, s.unsqueeze(-1), a.unsqueeze(-1), s)


def hand_timeline(records: Records, b: int, agent: int, game: Game) -> list[list]:
    """The agent's decision events ``[context, outcome, credited reward]`` in plain Python."""
    events: list[list] = []
    for t in range(len(records)):
        d, r, o = int(records.donor[b, t]), int(records.recipient[b, t]), int(records.observers[b, t, 0])
        xd, xr, a, s = (int(getattr(records, f)[b, t]) for f in ("donor_rep", "recipient_rep", "action", "reputation"))
        if d == agent:
            events.append([2 * xd + xr, a, 0.0])
        elif o == agent:
            events.append([4 + 4 * a + 2 * xd + xr, s, 0.0])
        reward = (-game.c if d == agent else 0.0) * a + (game.b if r == agent else 0.0) * a
        if reward and events:
            events[-1][2] += reward
    return events


def hand_score(z: float, context: int, outcome: int, game: Game) -> float:
    """d/dz of the log-probability of the outcome under the observable table."""
    q = sigmoid(z)
    slope = (1 - game.e) if context < 4 else (1 - 2 * game.mu)
    p = q * (1 - game.e) if context < 4 else game.mu + (1 - 2 * game.mu) * q
    dp = slope * q * (1 - q)
    return dp / p if outcome else -dp / (1 - p)


def test_reinforce_gradient_equals_hand_computation():
    game = Game(b=5.0, c=1.0, e=0.05, mu=0.1)
    batch, n, steps, learners, gamma = 2, 5, 80, [0, 2], 0.8
    records = random_records(batch, n, steps, seed=3)
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(batch, len(learners), 12, generator=g, dtype=torch.float64)
    table = 3 * torch.randn(batch, len(learners), 12, generator=g, dtype=torch.float64)

    events = common.decision_events(records, learners, game)
    returns = common.discounted_sum(events.reward, gamma, events.longest())
    baseline = common.ValueTable(table, torch.ones_like(table, dtype=torch.bool)).at(events)
    z = logits.clone().requires_grad_(True)
    reinforce.policy_loss(z, events, baseline, returns, game).backward()

    for b in range(batch):
        for i, agent in enumerate(learners):
            timeline = hand_timeline(records, b, agent, game)
            assert int(events.count[b, i]) == len(timeline)
            grad = [0.0] * 12
            for k, (context, outcome, _) in enumerate(timeline):
                ret = sum(gamma ** (j - k) * timeline[j][2] for j in range(k, len(timeline)))
                assert float(returns[b, i, k]) == pytest.approx(ret, abs=1e-12)
                advantage = ret - float(table[b, i, context])
                grad[context] -= hand_score(float(logits[b, i, context]), context, outcome, game) * advantage / len(timeline)
            assert z.grad[b, i].tolist() == pytest.approx(grad, abs=1e-12)


def several_observer_records(batch: int, n: int, steps: int, k: int, seed: int) -> Records:
    """Records with ``k`` observers (without replacement, never the donor), a third of the rows unobserved
    (observers -1), random signals and perceived actions that often differ from the realised one."""
    g = torch.Generator().manual_seed(seed)
    donor = torch.randint(n, (batch, steps), generator=g)
    recipient = (donor + 1 + torch.randint(n - 1, (batch, steps), generator=g)) % n
    keys = torch.rand(batch, steps, n, generator=g).scatter(-1, donor.unsqueeze(-1), 2.0)
    observers = keys.argsort(-1)[..., :k]
    seen = torch.rand(batch, steps, generator=g) < 2 / 3
    observers = torch.where(seen.unsqueeze(-1), observers, -1).to(torch.int32)
    bits = lambda *shape: torch.randint(2, (batch, steps, *shape), generator=g).to(torch.uint8)  # noqa: E731
    signals, perceived = bits(k) * seen.unsqueeze(-1), bits(k) * seen.unsqueeze(-1)
    x_d, x_r, a = bits(), bits(), bits()
    return Records(donor.to(torch.int32), recipient.to(torch.int32), observers, x_d, x_r, a, signals, perceived, x_d)


def test_decision_events_with_several_observers():
    """k = 3 observers, unobserved rows: a learner's events are its donations and the interactions
    where it holds a seat among the observers, its signal decision in the context of the action it
    perceived (its own entry of ``perceived``, not the realised action), its outcome its own signal;
    rewards credited as with one observer.  Checked against a plain Python timeline."""
    game = Game(e=0.05, mu=0.1, observers=3, aggregation="majority", perception_error=0.2)
    batch, n, steps, k, learners = 2, 6, 120, 3, [0, 4]
    records = several_observer_records(batch, n, steps, k, seed=8)
    events = common.decision_events(records, learners, game)
    for b in range(batch):
        for i, agent in enumerate(learners):
            timeline: list[list] = []
            for t in range(steps):
                d, r, a = int(records.donor[b, t]), int(records.recipient[b, t]), int(records.action[b, t])
                xd, xr = int(records.donor_rep[b, t]), int(records.recipient_rep[b, t])
                seats = [j for j in range(k) if int(records.observers[b, t, j]) == agent]
                if d == agent:
                    timeline.append([2 * xd + xr, a, 0.0])
                elif seats:
                    mine = int(records.perceived[b, t, seats[0]])
                    timeline.append([4 + 4 * mine + 2 * xd + xr, int(records.signals[b, t, seats[0]]), 0.0])
                reward = (-game.c if d == agent else 0.0) * a + (game.b if r == agent else 0.0) * a
                if reward and timeline:
                    timeline[-1][2] += reward
            count = int(events.count[b, i])
            assert count == len(timeline)
            assert events.context[b, i, :count].tolist() == [e[0] for e in timeline]
            assert events.outcome[b, i, :count].tolist() == [float(e[1]) for e in timeline]
            assert events.reward[b, i, :count].tolist() == pytest.approx([e[2] for e in timeline], abs=1e-12)
    # the perceived actions differ from the realised ones in some of the learners' signal events: the test can fail
    seat = records.observers.long().unsqueeze(1) == torch.tensor(learners).view(1, -1, 1, 1)
    assert bool((seat & (records.perceived != records.action.unsqueeze(-1)).unsqueeze(1)).any())


def test_log_prob_is_that_of_the_observable_table():
    for game in (Game(e=0.05, mu=0.1), Game(e=0.0, mu=0.0)):
        logits = torch.linspace(-4, 4, 12, dtype=torch.float64).view(1, 1, 12).requires_grad_(True)
        table = common.outcome_log_probs(logits, game)
        q = torch.sigmoid(logits.detach())[0, 0]
        p_yes = torch.cat([q[:4] * (1 - game.e), game.mu + (1 - 2 * game.mu) * q[4:]])
        torch.testing.assert_close(table[0, 0, :, 1].exp(), p_yes, rtol=0, atol=1e-14)
        torch.testing.assert_close(table[0, 0, :, 0].exp(), 1 - p_yes, rtol=0, atol=1e-14)
        table.sum().backward()
        assert torch.isfinite(logits.grad).all()


def test_gae_equals_hand_computation():
    game = Game()
    gamma, lam = 0.9, 0.7
    records = random_records(1, 4, 60, seed=5)
    events = common.decision_events(records, [1], game)
    table = torch.randn(1, 1, 12, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    values = common.ValueTable(table, torch.ones_like(table, dtype=torch.bool)).at(events)
    advantage, targets = ppo.gae(values, events, gamma, lam)
    timeline = hand_timeline(records, 0, 1, game)
    v = [float(table[0, 0, ctx]) for ctx, _, _ in timeline]
    bootstrap = sum(v) / len(v)
    following = v[1:] + [bootstrap]
    acc, expected = 0.0, []
    for k in reversed(range(len(timeline))):
        acc = timeline[k][2] + gamma * following[k] - v[k] + gamma * lam * acc
        expected.append(acc)
    expected.reverse()
    assert advantage[0, 0, : len(timeline)].tolist() == pytest.approx(expected, abs=1e-12)
    assert targets[0, 0, : len(timeline)].tolist() == pytest.approx([a + x for a, x in zip(expected, v)], abs=1e-12)
    assert not advantage[0, 0, len(timeline):].any()


def test_ppo_pair_sums_equal_event_by_event_surrogate():
    game = Game(e=0.05, mu=0.1)
    records = random_records(2, 5, 100, seed=7)
    events = common.decision_events(records, [0, 3], game)
    g = torch.Generator().manual_seed(8)
    old = torch.randn(2, 2, 12, generator=g, dtype=torch.float64)
    new = (old + 0.6 * torch.randn(2, 2, 12, generator=g, dtype=torch.float64)).requires_grad_(True)  # ratios beyond the clip
    advantage = torch.randn(2, 2, events.slots, generator=g, dtype=torch.float64) * events.valid
    mask = events.valid & (torch.rand(events.valid.shape, generator=g) < 0.5)
    old_logp = common.log_prob(old, events, game)
    by_event = ppo.clipped_loss_events(new, events, old_logp, advantage, mask, 0.2, game)
    (grad_event,) = torch.autograd.grad(by_event, new)
    old_table = common.outcome_log_probs(old, game).flatten(-2)
    by_pair = ppo.clipped_loss(new, old_table, ppo.advantage_sums(events, advantage, mask), 0.2, game)
    (grad_pair,) = torch.autograd.grad(by_pair, new)
    assert by_pair.item() == pytest.approx(by_event.item(), rel=1e-12)
    torch.testing.assert_close(grad_pair, grad_event, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# reproducibility, masks, initial tables, settings


@pytest.mark.parametrize("name", ["discriminative-sj", "society-L6"])
def test_initial_tables_are_those_of_the_reciprocity_gradient(name):
    regime = load_regime(name)
    rg = learner.start(regime, [4, 7])
    for module in MODULES.values():
        act, sig = module.start(regime, [4, 7]).tables()
        torch.testing.assert_close(act, rg.tables()[0], rtol=0, atol=0)
        torch.testing.assert_close(sig, rg.tables()[1], rtol=0, atol=0)


def test_settings_tuned_per_regime_with_defaults_elsewhere():
    tuned = common.tuned_table()
    for name, module, defaults in (("reinforce", reinforce, reinforce.ReinforceConfig()), ("ppo", ppo, ppo.PPOConfig())):
        for regime_name, best in tuned.get(name, {}).items():
            config = module.start(load_regime(regime_name), [0]).config
            assert {k: getattr(config, k) for k in best} == best
        untuned = [r for r in ("warmup-L3-in-L6-joint", "leading-eight-L1") if r not in tuned.get(name, {})]
        for regime_name in untuned:
            assert module.start(load_regime(regime_name), [0]).config == defaults
        explicit = dataclasses.replace(defaults, lr=0.123)
        assert module.start(load_regime("discriminative-sj"), [0], explicit).config is explicit
