"""The learner under private assessment (docs/model.md §6, "The learner under private assessment"):
what each learner observes (recigrad.dynamics.private_records), checked against the plain replay
and for containing nothing the learner could not observe."""

import pytest
import torch

from recigrad.dynamics import private, private_kernel, private_plain, private_records
from recigrad.game import Game
from recigrad.game.population import parse_pop

MIXED = ["norm:L1:2", "norm:stern-judging:2", "disc:image-scoring:1", "allc:L3:1"]
GOSSIP = Game(assessment="private", observation=0.6, perception_error=0.1, e=0.05, mu=0.05, gossip=1.5,
              gossip_trust=0.7, initial_good=0.6)


def _play(game, seeds, steps, specs=MIXED):
    act, sig = parse_pop(specs).batched_tables(len(seeds))
    start = private.initial_state(seeds, act.shape[1], game)
    _, _, rec = private.play(act, sig, start, private.private_streams(seeds), steps, game, record=True)
    return act, sig, start, rec


def _expected(plain, learner, slots):
    """The learner's observations read literally from the plain replay's output."""
    rows = []
    for (d, r, _, _, assessments, perceived), views, events in zip(plain["records"], plain["seen_views"], plain["gossip"]):
        heard = [(s, t, told, adopted) for s, listener, t, told, adopted in events if listener == learner]
        heard_slots = [(-1,) * 4] * slots
        for k, (s, listener, t, told, adopted) in enumerate(events):
            if listener == learner:
                heard_slots[k] = (s, t, told, adopted)
        assert len([h for h in heard_slots if h[0] >= 0]) == len(heard)
        if assessments[learner] < 0:
            rows.append(((-1,) * 6, tuple(heard_slots)))
        else:
            rows.append(((d, r, perceived[learner], views[learner][0], views[learner][1], assessments[learner]),
                         tuple(heard_slots)))
    return rows


def _rows(obs, b, li):
    fields = ("donor", "recipient", "perceived", "view_donor", "view_recipient", "assessment")
    return [(tuple(int(getattr(obs, f)[b, li, t]) for f in fields), tuple(tuple(x) for x in obs.heard[b, li, t].tolist()))
            for t in range(len(obs))]


@pytest.mark.parametrize("game", [GOSSIP, Game(assessment="private", observation=0.5, e=0.02, mu=0.02)],
                         ids=["gossip", "no gossip"])
def test_observations_are_what_the_plain_replay_shows_each_learner(game):
    seeds, steps, learners = [4, 8], 500, [0, 3, 5]
    act, sig, start, rec = _play(game, seeds, steps)
    obs = private_records.observations(rec, learners)
    streams = private.private_streams(seeds)
    width = private_kernel.private_uniforms(act.shape[1], game.gossip)
    world, uniforms = streams.world.uniform_numpy(steps, 3), streams.private.uniform_numpy(steps, width)
    slots = private_kernel.gossip_slots(game.gossip) if game.gossip > 0 else 0
    for b in range(len(seeds)):
        plain = private_plain.replay(act[b].tolist(), sig[b].tolist(), game, start.views[b].tolist(),
                                     world[b].tolist(), uniforms[b].tolist())
        for li, learner in enumerate(learners):
            assert _rows(obs, b, li) == _expected(plain, learner, slots)
    assert bool(obs.seen.all(dim=2).logical_not().all())  # every learner missed some interactions
    if game.gossip:
        assert bool((obs.heard[..., 0] >= 0).any())


def test_a_learner_observes_nothing_of_the_others_private_data():
    """Scramble everything the learner could not observe: the others' private columns, the rows it did not
    observe (public fields included) and gossip it did not hear; its observations do not change."""
    seeds, learner = [1, 2], 2
    _, _, _, rec = _play(GOSSIP, seeds, 800)
    before = private_records.observations(rec, [learner])
    gen = torch.Generator().manual_seed(0)
    unseen = rec.assessment[:, :, learner] < 0  # (B, T)

    def scramble(x, where):
        noise = torch.randint(-1, 2, x.shape, generator=gen, dtype=torch.int64).to(x.dtype)
        return torch.where(where, noise, x)

    other = torch.ones(rec.assessment.shape[2], dtype=torch.bool)
    other[learner] = False
    cols = other.reshape(1, 1, -1)
    changed = private.PrivateRecords(
        donor=scramble(rec.donor, unseen), recipient=scramble(rec.recipient, unseen),
        intended=scramble(rec.intended.to(torch.int64), torch.ones_like(unseen)).to(torch.uint8),
        action=scramble(rec.action.to(torch.int64), torch.ones_like(unseen)).to(torch.uint8),
        assessment=scramble(rec.assessment, cols.expand_as(rec.assessment)),
        perceived=scramble(rec.perceived, cols.expand_as(rec.perceived)),
        views=scramble(rec.views, cols.unsqueeze(-1).expand_as(rec.views)),
        gossip=scramble(rec.gossip, (rec.gossip[..., 1:2] != learner).expand_as(rec.gossip)),
    )
    after = private_records.observations(changed, [learner])
    for name in ("seen", "donor", "recipient", "perceived", "view_donor", "view_recipient", "assessment", "heard"):
        assert torch.equal(getattr(before, name), getattr(after, name)), name
    assert bool(unseen.any()) and bool((rec.gossip[..., 1] == learner).any())


# -- estimators from the learner's own observations (step 3) -----------------------------------------

from recigrad.dynamics import world  # noqa: E402
from recigrad.dynamics.streams import Streams  # noqa: E402
from recigrad.game import observable  # noqa: E402
from recigrad.game.norms import signal_table  # noqa: E402
from recigrad.learning import estimators, private_learner  # noqa: E402

AGREE = ["disc:stern-judging:3", "allc:stern-judging:1", "alld:stern-judging:2"]


def _estimates(game, specs, seeds, steps, learners, chunks=1):
    act, sig = parse_pop(specs).batched_tables(len(seeds))
    n = act.shape[1]
    state = private.initial_state(seeds, n, game)
    streams = private.private_streams(seeds)
    est = private_learner.init_estimates(len(seeds), n, len(learners))
    config = estimators.EstimatorConfig()
    for _ in range(chunks):
        state, _, rec = private.play(act, sig, state, streams, steps // chunks, game, record=True)
        norm = signal_table("L6").to(torch.float64).expand(len(learners), 2, 2, 2)
        est = private_learner.update(est, private_records.observations(rec, learners), config, norm)
    return act, sig, est, config


def test_where_views_agree_the_action_estimates_are_the_public_estimators():
    """q = 1, no assessment or perception error, one norm: every view is the public reputation, so each
    learner's own views are the donors' contexts and its action counts are the public estimator's, bit for bit."""
    game = Game(assessment="private", e=0.05, mu=0.0)
    seeds, steps, learners = [0, 1], 3000, [0, 4]
    act, sig, est, config = _estimates(game, AGREE, seeds, steps, learners, chunks=3)
    pc, so = observable(act, sig, Game(e=0.05, mu=0.0))
    x = world.initial_reputation(len(seeds), act.shape[1])
    streams = Streams(seeds, "world")
    public = estimators.init_state(len(seeds), act.shape[1])
    for _ in range(3):
        x, _, rec = world.play(pc, so, x, streams, steps // 3, record=True)
        public = estimators.update(public, rec, config)
    for name in ("act_n", "act_k", "act_bits", "act_resets"):
        mine = getattr(est.estimator, name).reshape(len(seeds), len(learners), *getattr(public, name).shape[1:])
        for li in range(len(learners)):
            assert torch.equal(mine[:, li], getattr(public, name)), name
    assert float(public.act_n.sum()) == len(seeds) * steps


def test_action_estimates_of_fixed_agents_converge_when_views_agree():
    game = Game(assessment="private", e=0.05, mu=0.0)
    act, sig, est, config = _estimates(game, AGREE, [3], 8000, [1])
    pc_hat, _ = private_learner.estimate(est, config, game, 1, torch.zeros(1, 2, 2, 2, dtype=torch.float64))
    n = est.estimator.act_n.reshape(pc_hat.shape)
    truth = (act * (1 - game.e)).unsqueeze(1)
    enough = n >= 40
    assert int(enough.sum()) >= 12  # disc and allc at good and bad recipients, alld alike
    se = (truth * (1 - truth) / n.clamp(min=1)).sqrt() + 1e-3
    assert bool((((pc_hat - truth).abs() / se)[enough] < 5).all())
    # the discriminators (agents 0-2) tell good recipients from bad ones
    assert bool((pc_hat[0, 0, :3, :, 1] > 0.9).all()) and bool((pc_hat[0, 0, :3, 1, 0] < 0.1).all())


def test_signal_estimates_from_gossip_converge_when_views_agree():
    """With gossip, a told view paired with the learner's last observation of its subject is one sample of the
    speaker's signal table; with q = 1, no errors but the execution error and one norm it is exact."""
    game = Game(assessment="private", e=0.05, mu=0.0, gossip=1.0)
    act, sig, est, config = _estimates(game, AGREE, [5], 6000, [2], chunks=2)
    _, so_hat = private_learner.estimate(est, config, game, 1)
    n = est.estimator.sig_n.reshape(so_hat.shape)
    truth = sig.unsqueeze(1)  # mu = 0: the observable table is the norm itself
    enough = n >= 30
    assert int(enough.sum()) >= 12  # 6 agents, the contexts a population of SJ with errors visits
    assert float((so_hat - truth).abs()[enough].max()) < 0.1


def _regime(agents, game='assessment = "private"\nobservation = 0.9', train=""):
    from recigrad.game.regime import regime_from_text
    return regime_from_text(f'name = "t"\ndescription = "t"\n[game]\n{game}\n{agents}\n[train]\n{train}\n')


def test_without_gossip_the_others_are_assumed_to_judge_by_the_learners_norm():
    regime = _regime('[[agents]]\nkind = "learner"\nnorm = "L6"\n[[agents]]\nkind = "norm"\nnorm = "L6"\ncount = 4')
    assumed = private_learner.assumed_signal(regime)
    expected = observable(torch.zeros(2, 2), signal_table("L6"), regime.game)[1]
    assert torch.equal(assumed[0], expected.to(assumed.dtype))
    random = _regime('[[agents]]\nkind = "learner"\nnorm = "random"\n[[agents]]\nkind = "norm"\nnorm = "L6"\ncount = 4')
    with pytest.raises(Exception, match="learner:random"):
        private_learner.assumed_signal(random)


# -- the learner's step (step 4) ------------------------------------------------------------------------

from recigrad.dynamics import meanfield, private_exact  # noqa: E402
from recigrad.game.norms import action_table  # noqa: E402
from recigrad.learning import view  # noqa: E402
from recigrad.util import numerics  # noqa: E402


@pytest.mark.parametrize("norm", ["L6", "L1"])
def test_where_views_agree_the_private_gradient_is_the_public_learners(norm):
    """q = 1, no assessment or perception error, all views good, one shared deterministic norm: the private mean
    field is the public one, so the gradient of the learner's payoff in its model through its action logits is the
    public learner's (the signal head stays at the shared norm: a stochastic signal would split the views)."""
    n, learner = 4, 1
    private_game, public_game = Game(assessment="private", e=0.05, mu=0.0), Game(e=0.05, mu=0.0)
    act = action_table("norm", norm).to(torch.float64).expand(1, n, 2, 2).clone()
    sig = signal_table(norm).to(torch.float64).expand(1, n, 2, 2, 2).clone()
    pc, so = observable(act, sig, public_game)
    logits = torch.tensor([[[[-0.4, 1.3], [0.2, 0.9]]]], dtype=torch.float64, requires_grad=True)
    so_own = so[:, [learner]]

    def own_pc():
        return numerics.sigmoid(logits) * (1.0 - public_game.e)

    mine = private_learner.own_payoffs(own_pc(), so_own, pc.unsqueeze(1), so.unsqueeze(1), [learner], private_game)
    (g_private,) = torch.autograd.grad(mine.sum(), logits)
    pc_view, so_view = view.substitute(pc, so, [learner], own_pc(), so_own)
    public = meanfield.solve(pc_view.flatten(0, 1), so_view.flatten(0, 1), public_game).payoff[:, learner]
    (g_public,) = torch.autograd.grad(public.sum(), logits)
    torch.testing.assert_close(mine.detach().reshape(-1), public.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(g_private, g_public, rtol=0, atol=1e-9)
    assert float(g_public.abs().max()) > 1e-2


@pytest.mark.slow
def test_a_learner_among_stern_judges_improves_its_exact_payoff():
    """A learner from random tables among three stern-judging discriminators, private assessment with q = 1 and no
    assessment error (the views of the others agree, so its shadow views are theirs): 30 iterations of 100
    interactions raise its exact payoff (the exact chain of private views) by more than 1 per round."""
    regime = _regime('[[agents]]\nkind = "learner"\nnorm = "L6"\nwarmup = false\n'
                     '[[agents]]\nkind = "norm"\nnorm = "L6"\ncount = 3',
                     game='assessment = "private"\nassessment_error = 0.0')
    state = private_learner.start(regime, [1])

    def exact_payoff():
        act, sig = state.tables()
        return float(private_exact.solve(*observable(act, sig, regime.game), regime.game).payoff[0, 0])

    before = exact_payoff()
    model = [float(private_learner.step(state)[0, 0]) for _ in range(30)]
    after = exact_payoff()
    assert after > before + 1.0, (before, after)
    assert model[-1] > model[0]
    assert state.interactions == 3000


# -- the regimes (step 5) ---------------------------------------------------------------------------------


def test_the_private_regimes_are_shipped_last_in_the_full_suite_and_not_in_the_quick_one():
    from recigrad.game.regime import load_regime
    from recigrad.running.suite import QUICK_REGIMES, private_regimes, suite_regimes

    names = set(private_regimes())
    assert names == {"private-sj", "private-society-L3"} | {f"private-L{k}" for k in range(1, 9)}
    assert suite_regimes()[-len(names):] == sorted(names) and not names & set(QUICK_REGIMES)
    for name in names:
        regime = load_regime(name)
        assert regime.game.private and regime.population.n == 4 and regime.game.gossip == 0
        assert private_learner.assumed_norm(regime).shape == (len(regime.population.learners), 2, 2, 2)


def test_a_society_of_private_learners_steps():
    """Every learner of a society has its own observations, estimates and model; two steps move every learner."""
    from recigrad.game.regime import load_regime

    state = private_learner.start(load_regime("private-society-L3"), [0, 1])
    before = state.logits_act.detach().clone()
    for _ in range(2):
        payoff = private_learner.step(state)
    assert payoff.shape == (2, 4) and bool(torch.isfinite(payoff).all())
    assert bool((state.logits_act.detach() != before).flatten(2).any(2).all())
    assert state.estimates.estimator.batch == 8


def test_the_reference_is_the_best_candidate_in_the_exact_chain(monkeypatch):
    from recigrad.evaluation import private_reference

    monkeypatch.setattr(private_reference, "ASCENT_STEPS", 3)
    regime = _regime('[[agents]]\nkind = "learner"\nnorm = "L3"\nwarmup = false\n'
                     '[[agents]]\nkind = "norm"\nnorm = "L3"\ncount = 2')
    act, sig = regime.population.batched_tables(1)
    ref = private_reference.reference(act[0], sig[0], 0, "L3", regime.game)
    assert ref.model == "exact" and len(ref.candidates) == 9
    assert ref.payoff == max(ref.candidates.values()) >= ref.candidates["norm"]
    scored = act.clone(), sig.clone()
    scored[0][0, 0], scored[1][0, 0] = ref.act, ref.sig
    assert float(private_reference.payoff(*scored, regime.game)[0, 0]) == pytest.approx(ref.payoff, abs=1e-12)
    assert float(private_reference.percent_of_reference(torch.tensor(ref.payoff), ref.payoff, 1.0)) == 100.0


def test_with_gossip_the_learner_estimates_the_others_signals_and_steps():
    """With gossip the others' signal tables come from the views the learner was told, not from the assumed norm."""
    regime = _regime('[[agents]]\nkind = "learner"\nnorm = "L3"\nwarmup = false\n'
                     '[[agents]]\nkind = "norm"\nnorm = "L6"\ncount = 3',
                     game='assessment = "private"\nobservation = 0.9\ngossip = 2.0')
    state = private_learner.start(regime, [0])
    assert state.assumed is None
    for _ in range(3):
        payoff = private_learner.step(state)
    assert bool(torch.isfinite(payoff).all())
    assert float(state.estimates.estimator.sig_n.sum()) > 0  # told views were counted
    _, so_hat = private_learner.estimate(state.estimates, state.estimator_config, regime.game, 1)
    assumed = private_learner.assumed_signal(regime)[0]
    assert not torch.allclose(so_hat[0, 0, 1:], assumed.expand(3, 2, 2, 2), atol=0.05)  # estimated, not assumed


def test_pooling_the_self_view_gives_the_count_weighted_mean_of_the_two_rows():
    game = Game(assessment="private", observation=0.9)
    _, _, est, config = _estimates(game, AGREE, [2], 1500, [0])
    pc, _ = private_learner.estimate(est, config, game, 1, torch.zeros(1, 2, 2, 2, dtype=torch.float64))
    pooled, _ = private_learner.estimate(est, config, game, 1, torch.zeros(1, 2, 2, 2, dtype=torch.float64), pool_self=True)
    n = est.estimator.act_n.reshape(pc.shape)
    torch.testing.assert_close(pooled[..., 0, :], pooled[..., 1, :], rtol=0, atol=0)
    expected = (n * pc).sum(-2) / n.sum(-2)
    seen = n.sum(-2) > 0
    torch.testing.assert_close(pooled[..., 0, :][seen], expected[seen], rtol=1e-12, atol=1e-12)


def test_the_public_learner_refuses_a_private_regime_with_a_pointer():
    from recigrad.game import ConfigError
    from recigrad.game.regime import load_regime
    from recigrad.learning import reciprocity_gradient

    with pytest.raises(ConfigError, match="recigrad.learning.private_learner"):
        reciprocity_gradient.start(load_regime("private-sj"), [0])


@pytest.mark.parametrize("game", [GOSSIP, Game(assessment="private", observation=0.7, e=0.02, mu=0.05)],
                         ids=["gossip", "no gossip"])
def test_the_compiled_walk_is_the_tensor_walk(game):
    """``walk``'s loop over time steps compiled with numba gives the tensor loop's samples, shadow views, proxy
    self-views and last donations, integer for integer, over two chunks (the second from the first's state),
    with two learners of different assumed norms."""
    if private_learner._walk_jit is None:
        pytest.skip("numba is not installed")
    seeds, learners = [3, 9], [1, 4]
    act, sig = parse_pop(MIXED).batched_tables(len(seeds))
    state, streams = private.initial_state(seeds, act.shape[1], game), private.private_streams(seeds)
    norm = torch.stack([signal_table("L1"), signal_table("stern-judging")]).to(torch.float64)
    est = {key: private_learner.init_estimates(len(seeds), act.shape[1], len(learners)) for key in ("jit", "tensors")}
    for _ in range(2):
        state, _, rec = private.play(act, sig, state, streams, 300, game, record=True)
        obs = private_records.observations(rec, learners)
        judge = (norm > 0.5).to(torch.int64)
        jit = private_learner._walk_compiled(obs, est["jit"], judge)
        tensors = private_learner._walk_tensors(obs, est["tensors"], judge)
        seen = obs.seen.unsqueeze(0).expand(2, *obs.seen.shape)
        assert torch.equal(jit[0][seen], tensors[0][seen])  # contexts of the action samples
        for a, b in zip(jit[1:], tensors[1:]):
            assert torch.equal(a, b)
        samples = {key: private_learner.walk(obs, est[key], norm) for key in est}
        private_learner.WALK_COMPILED = False
        try:
            samples["tensors"] = private_learner.walk(obs, est["tensors"], norm)
        finally:
            private_learner.WALK_COMPILED = True
        for key in est:
            est[key] = samples[key][3]
        for part in (0, 2):
            for field in ("donor", "observers", "donor_rep", "recipient_rep", "action", "signals"):
                assert torch.equal(getattr(samples["jit"][part], field), getattr(samples["tensors"][part], field))
        assert bool((est["jit"].shadow >= 0).any()) and bool((est["jit"].last[..., 0] >= 0).any())
    if game.gossip:
        assert bool((jit[1] >= 0).any())  # gossip samples were taken
