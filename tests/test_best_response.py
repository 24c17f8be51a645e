"""The reference solver (docs/model.md §8) against independent computations:
brute-force loops over deterministic tables, an independently written gradient
ascent, and closed forms derived by hand from the game's rules."""

from __future__ import annotations

import itertools

import pytest
import torch

from recigrad.dynamics import exact, meanfield
from recigrad.evaluation.best_response import STRICT, Reference, best_response, best_response_gap
from recigrad.evaluation.candidates import payoff_of
from recigrad.evaluation.lumped import equal_groups
from recigrad.game import DTYPE, ConfigError, Game, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.util.threads import one_thread

GAME = Game(b=5.0, c=1.0, e=0.01, mu=0.01)
A = (1 - GAME.e) * (1 - GAME.mu) + GAME.e * GAME.mu  # P(assessed good | intended C, C-is-good context)


@pytest.fixture(autouse=True)
def single_thread():
    """Small tensors: one thread is faster, much faster on a busy machine."""
    with one_thread():
        yield


def population(*groups: tuple[str, str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-1 tables; agent 0 is a placeholder learner (disc + stern judging)."""
    acts, sigs = [action_table("disc")], [signal_table("stern-judging")]
    for kind, norm, count in groups:
        acts += [action_table(kind, norm)] * count
        sigs += [signal_table(norm)] * count
    return torch.stack(acts)[None], torch.stack(sigs)[None]


def random_population(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    act = torch.rand(1, n, 2, 2, generator=generator, dtype=DTYPE)
    sig = torch.rand(1, n, 2, 2, 2, generator=generator, dtype=DTYPE)
    return act, sig


def exact_payoff(act, sig, learner, own_act, own_sig, game=GAME) -> float:
    """Learner's payoff with its tables replaced, one exact chain at a time."""
    act, sig = act.clone(), sig.clone()
    act[0, learner], sig[0, learner] = own_act, own_sig
    return float(exact.solve(*observable(act, sig, game), game).payoff[0, learner])


def brute_force(act, sig, learner, order):
    """Every deterministic table of the given order, by a plain loop: (best payoff, act, sig, all payoffs)."""
    results = []
    if order == 3:
        for bits in itertools.product((0.0, 1.0), repeat=12):
            own_act = torch.tensor(bits[:4], dtype=DTYPE).reshape(2, 2)
            own_sig = torch.tensor(bits[4:], dtype=DTYPE).reshape(2, 2, 2)
            results.append((exact_payoff(act, sig, learner, own_act, own_sig), own_act, own_sig))
    else:
        for bits in itertools.product((0.0, 1.0), repeat=6):
            own_act = torch.zeros(2, 2, dtype=DTYPE)
            own_sig = torch.zeros(2, 2, 2, dtype=DTYPE)
            for x_own in (0, 1):
                own_act[x_own, 0], own_act[x_own, 1] = bits[0], bits[1]
            for a, x_donor, x_rec in itertools.product((0, 1), repeat=3):
                own_sig[a, x_donor, x_rec] = bits[2 + 2 * a + x_rec]
            results.append((exact_payoff(act, sig, learner, own_act, own_sig), own_act, own_sig))
    best = max(results, key=lambda r: r[0])
    return best[0], best[1], best[2], sorted(r[0] for r in results)


def sj_closed_form(n: int, game: Game = GAME) -> float:
    """Learner = disc acting, always signalling "bad", among n - 1 disc + stern judging.

    Second order, so the stationary good probabilities solve a linear system
    exactly.  Learner (donates to an other, judged by stern judging):
    ``gL = gO A + (1 - gO)(1 - mu)``.  Other donor: recipient is the learner with
    probability 1/(n-1), ``q = (gL + (n-2) gO)/(n-1)``; observer is the learner with
    probability 1/(n-1) (good w.p. mu), else stern judging:
    ``gO = mu/(n-1) + (n-2)/(n-1) (q A + (1-q)(1-mu))``.
    Payoff: ``b (1-e) gL - c (1-e) gO`` (others cooperate iff the learner is good,
    the learner iff its recipient is)."""
    e, mu, k = game.e, game.mu, n - 1
    # unknowns (gL, gO): rows are  gL - gO (A - (1-mu)) = 1 - mu  and the gO equation
    w = (n - 2) / k
    a11, a12, r1 = 1.0, -(A - (1 - mu)), 1 - mu
    # gO = mu/k + w (1-mu) + w (A - 1 + mu) (gL + (n-2) gO)/k
    slope = w * (A - 1 + mu) / k
    a21, a22, r2 = -slope, 1.0 - slope * (n - 2), mu / k + w * (1 - mu)
    det = a11 * a22 - a12 * a21
    g_l = (r1 * a22 - a12 * r2) / det
    g_o = (a11 * r2 - a21 * r1) / det
    return game.b * (1 - e) * g_l - game.c * (1 - e) * g_o


# ---------------------------------------------------------------------------
# payoff_of


def test_payoff_of_matches_one_chain_at_a_time():
    act, sig = random_population(5, seed=1)
    generator = torch.Generator().manual_seed(2)
    cand_act = torch.rand(1, 3, 2, 2, generator=generator, dtype=DTYPE)
    cand_sig = torch.rand(1, 3, 2, 2, 2, generator=generator, dtype=DTYPE)
    got = payoff_of(act, sig, 2, cand_act, cand_sig, GAME, "exact")
    assert got.shape == (1, 3)
    for k in range(3):
        assert got[0, k].item() == pytest.approx(exact_payoff(act, sig, 2, cand_act[0, k], cand_sig[0, k]), abs=1e-12)
    # the mean-field model, batched over two populations
    act2, sig2 = torch.cat([act, random_population(5, 3)[0]]), torch.cat([sig, random_population(5, 3)[1]])
    got = payoff_of(act2, sig2, 0, cand_act.expand(2, -1, -1, -1), cand_sig.expand(2, -1, -1, -1, -1), GAME, "meanfield")
    for p in range(2):
        a, s = act2[p : p + 1].clone(), sig2[p : p + 1].clone()
        a[0, 0], s[0, 0] = cand_act[0, 1], cand_sig[0, 1]
        expected = meanfield.solve(*observable(a, s, GAME), GAME).payoff[0, 0]
        assert got[p, 1].item() == pytest.approx(expected.item(), abs=1e-12)


# ---------------------------------------------------------------------------
# brute force


@pytest.mark.parametrize("seed", [0, 1])
def test_brute_force_n4_third_order(seed):
    act, sig = random_population(4, seed)
    best, best_act, best_sig, values = brute_force(act, sig, learner=1, order=3)
    assert values[-1] - values[-2] > 1e-9  # a unique deterministic arg-max, so tables compare
    ref = best_response(act, sig, 1, GAME, starts=4, seed=seed)
    assert isinstance(ref, Reference)
    assert ref.model == "exact"
    assert ref.payoff.item() >= best - 1e-12
    if bool(((ref.act == 0) | (ref.act == 1)).all() and ((ref.sig == 0) | (ref.sig == 1)).all()):
        assert ref.payoff.item() == pytest.approx(best, abs=1e-12)
        torch.testing.assert_close(ref.act[0], best_act, rtol=0, atol=0)
        torch.testing.assert_close(ref.sig[0], best_sig, rtol=0, atol=0)
    # the enumeration alone (no ascent) finds the deterministic arg-max
    plain = best_response(act, sig, 1, GAME, starts=0, steps=0)
    assert plain.payoff.item() == pytest.approx(best, abs=1e-12)
    torch.testing.assert_close(plain.act[0], best_act, rtol=0, atol=0)
    torch.testing.assert_close(plain.sig[0], best_sig, rtol=0, atol=0)
    # whatever the solver reports, its payoff is the payoff of its tables
    assert ref.payoff.item() == pytest.approx(exact_payoff(act, sig, 1, ref.act[0], ref.sig[0]), abs=1e-12)


@pytest.mark.parametrize(
    "groups",
    [(("disc", "stern-judging", 4), ("allc", "stern-judging", 3)), (("disc", "shunning", 7),)],
    ids=["hybrid-allc", "discriminative-sh"],
)
def test_brute_force_n8_second_order(groups):
    act, sig = population(*groups)
    best, best_act, best_sig, values = brute_force(act, sig, learner=0, order=2)
    ref = best_response(act, sig, 0, GAME, order=2, starts=4)
    assert ref.payoff.item() == pytest.approx(best, abs=1e-10)
    assert exact_payoff(act, sig, 0, ref.act[0], ref.sig[0]) == pytest.approx(best, abs=1e-10)
    # the arg-max is unique up to entries of contexts that never occur (both pick 0 there)
    torch.testing.assert_close(ref.act[0], best_act, rtol=0, atol=0)
    torch.testing.assert_close(ref.sig[0], best_sig, rtol=0, atol=0)
    # order 2: tables ignore the learner's own / the donor's reputation
    torch.testing.assert_close(ref.act[0, 0], ref.act[0, 1], rtol=0, atol=0)
    torch.testing.assert_close(ref.sig[0, :, 0], ref.sig[0, :, 1], rtol=0, atol=0)


# ---------------------------------------------------------------------------
# an independently written gradient ascent never beats the reference


def test_independent_gradient_ascent_does_not_beat_reference():
    act, sig = random_population(4, seed=5)
    ref = best_response(act, sig, 0, GAME, starts=4, seed=0)
    generator = torch.Generator().manual_seed(123)
    for _ in range(4):
        theta = (3 * torch.randn(12, generator=generator, dtype=DTYPE)).requires_grad_(True)
        optimiser = torch.optim.SGD([theta], lr=20.0)
        best = -float("inf")
        for _ in range(150):
            p = torch.sigmoid(theta)
            pop_act = torch.cat([p[:4].reshape(1, 1, 2, 2), act[:, 1:]], dim=1)
            pop_sig = torch.cat([p[4:].reshape(1, 1, 2, 2, 2), sig[:, 1:]], dim=1)
            value = exact.solve(*observable(pop_act, pop_sig, GAME), GAME).payoff[0, 0]
            best = max(best, value.item())
            optimiser.zero_grad()
            (-value).backward()
            optimiser.step()
        assert best <= ref.payoff.item() + 1e-6


# ---------------------------------------------------------------------------
# known answers


def test_against_allc_defect_always():
    """Others cooperate with everyone whatever the reputations: the learner receives
    b (1-e) per round and pays c (1-e) per cooperation, so the best is to defect
    always, payoff b (1-e); its signals change nothing."""
    act, sig = population(("allc", "stern-judging", 4))
    ref = best_response(act, sig, 0, GAME, starts=4)
    assert ref.payoff.item() == pytest.approx(GAME.b * (1 - GAME.e), abs=1e-12)
    assert torch.equal(ref.act[0], torch.zeros(2, 2, dtype=DTYPE))
    assert ref.strict_act.all()
    assert not ref.strict_sig.any()


def test_against_alld_payoff_zero():
    """Nobody gives: payoff = -c x (learner's cooperation) <= 0, best 0 by defecting;
    once the learner defects its signals change nothing."""
    act, sig = population(("alld", "stern-judging", 4))
    ref = best_response(act, sig, 0, GAME, starts=4)
    assert ref.payoff.item() == pytest.approx(0.0, abs=1e-12)
    assert torch.equal(ref.act[0], torch.zeros(2, 2, dtype=DTYPE))
    assert ref.strict_act.all()
    assert not ref.strict_sig.any()
    generator = torch.Generator().manual_seed(0)
    cand_act = torch.rand(1, 16, 2, 2, generator=generator, dtype=DTYPE)
    cand_sig = torch.rand(1, 16, 2, 2, 2, generator=generator, dtype=DTYPE)
    assert (payoff_of(act, sig, 0, cand_act, cand_sig, GAME) <= 1e-12).all()


@pytest.mark.parametrize("n,model", [(5, "auto"), (100, "meanfield")])
def test_against_image_scoring_cooperate_always(n, model):
    """Image scoring judges the action alone, and discriminators give to the learner
    iff it is good.  Each donation sets the learner's reputation until the next one,
    and it is recipient as often as donor, so per donation cooperating earns
    b (1-e) (1-e) (1-2 mu) - c (1-e) > 0 in every context: allc, payoff
    b (1-e) A - c (1-e), signals irrelevant."""
    act, sig = population(("disc", "image-scoring", n - 1))
    order = 3 if model == "auto" else 2
    ref = best_response(act, sig, 0, GAME, model=model, order=order, starts=4)
    assert ref.model == ("exact" if n <= 12 else "meanfield")
    expected = GAME.b * (1 - GAME.e) * A - GAME.c * (1 - GAME.e)
    assert ref.payoff.item() == pytest.approx(expected, abs=1e-10)
    assert torch.equal(ref.act[0], torch.ones(2, 2, dtype=DTYPE))
    assert ref.strict_act.all()
    assert not ref.strict_sig.any()


@pytest.mark.parametrize("n,model,order", [(5, "exact", 3), (8, "auto", 3), (20, "exact", 3), (100, "meanfield", 2)])
def test_against_stern_judging_discriminate_and_badmouth(n, model, order):
    """Stern judging rewards matching the recipient: cooperate with good, defect
    with bad (strict).  The learner gains when others are bad (defecting on them is
    free and still judged good), so it always signals "bad"; the payoff is the
    closed form of ``sj_closed_form`` (exact for second order)."""
    act, sig = population(("disc", "stern-judging", n - 1))
    ref = best_response(act, sig, 0, GAME, model=model, order=order, starts=4)
    disc = torch.tensor([[0.0, 1.0], [0.0, 1.0]], dtype=DTYPE)
    assert torch.equal(ref.act[0], disc)
    assert torch.equal(ref.sig[0], torch.zeros(2, 2, 2, dtype=DTYPE))
    assert ref.payoff.item() == pytest.approx(sj_closed_form(n), abs=1e-10)
    assert ref.strict_act.all()
    # a realised C to a bad recipient never happens among discriminators: not strict
    assert not ref.strict_sig[0, 1, :, 0].any()


def test_stochastic_optimum_against_staying():
    """Against seven L7 (staying) agents the best signal for "a bad donor defects
    against a bad recipient" is "good" with probability about 0.05: a one-entry scan
    of the full chain (the other entries at the reference's) finds the same maximum,
    about 2e-4 above the best deterministic table."""
    act, sig = population(("norm", "L7", 7))
    ref = best_response(act, sig, 0, GAME)
    p = torch.linspace(0.0, 0.2, 81, dtype=DTYPE)
    scan_act = act.expand(81, -1, -1, -1).clone()
    scan_sig = sig.expand(81, -1, -1, -1, -1).clone()
    scan_act[:, 0], scan_sig[:, 0] = ref.act[0], ref.sig[0]
    scan_sig[:, 0, 0, 0, 0] = p
    values = exact.solve(*observable(scan_act, scan_sig, GAME), GAME).payoff[:, 0]
    assert ref.payoff.item() == pytest.approx(values.max().item(), abs=1e-8)
    assert ref.payoff.item() >= values.max().item() - 1e-12
    assert ref.sig[0, 0, 0, 0].item() == pytest.approx(0.05, abs=2e-3)
    assert ref.payoff.item() > values[0].item() + 1e-4
    best, *_ = brute_force_lumped(act, sig)
    assert ref.payoff.item() > best + 1e-4


def brute_force_lumped(act, sig):
    """All 4096 deterministic tables of agent 0 through ``payoff_of`` (batched), the best."""
    bits = torch.tensor(list(itertools.product((0.0, 1.0), repeat=12)), dtype=DTYPE)
    values = payoff_of(act, sig, 0, bits[None, :, :4].reshape(1, -1, 2, 2), bits[None, :, 4:].reshape(1, -1, 2, 2, 2), GAME)
    return values.max().item(), values


def test_lumped_chain_equals_full_chain():
    """Opponents with equal tables are lumped; the payoff and its gradient in the
    learner's tables equal the full 2^N chain's."""
    generator = torch.Generator().manual_seed(9)
    kinds_act = torch.rand(3, 2, 2, generator=generator, dtype=DTYPE)
    kinds_sig = torch.rand(3, 2, 2, 2, generator=generator, dtype=DTYPE)
    kind = [0, 1, None, 0, 2, 0, 2]  # agent 2 is the learner
    act = torch.stack([kinds_act[k] if k is not None else torch.rand(2, 2, generator=generator, dtype=DTYPE)
                       for k in kind])[None]
    sig = torch.stack([kinds_sig[k] if k is not None else torch.rand(2, 2, 2, generator=generator, dtype=DTYPE)
                       for k in kind])[None]
    assert equal_groups(act[0], sig[0], 2) == ((0, 3, 5), (1,), (4, 6))
    cand_act = torch.rand(1, 4, 2, 2, generator=generator, dtype=DTYPE).requires_grad_(True)
    cand_sig = torch.rand(1, 4, 2, 2, 2, generator=generator, dtype=DTYPE).requires_grad_(True)
    got = payoff_of(act, sig, 2, cand_act, cand_sig, GAME, "exact")
    grad_act, grad_sig = torch.autograd.grad(got.sum(), (cand_act, cand_sig))
    for k in range(4):
        own_act = cand_act[0, k].detach().clone().requires_grad_(True)
        own_sig = cand_sig[0, k].detach().clone().requires_grad_(True)
        full_act = torch.cat([act[:, :2], own_act[None, None], act[:, 3:]], dim=1)
        full_sig = torch.cat([sig[:, :2], own_sig[None, None], sig[:, 3:]], dim=1)
        value = exact.solve(*observable(full_act, full_sig, GAME), GAME).payoff[0, 2]
        expected_act, expected_sig = torch.autograd.grad(value, (own_act, own_sig))
        assert got[0, k].item() == pytest.approx(value.item(), abs=1e-12)
        torch.testing.assert_close(grad_act[0, k], expected_act, rtol=0, atol=1e-10)
        torch.testing.assert_close(grad_sig[0, k], expected_sig, rtol=0, atol=1e-10)


def test_exact_beyond_twelve_needs_equal_opponents():
    act, sig = random_population(13, seed=0)
    with pytest.raises(ConfigError, match="mean-field"):
        best_response(act, sig, 0, GAME, model="exact", starts=0)
    assert best_response(act, sig, 0, GAME, starts=0, steps=5).model == "meanfield"


@pytest.mark.slow
def test_brute_force_n8_third_order_full_chain():
    """All 4096 deterministic tables at N = 8, one full exact chain at a time."""
    act, sig = population(("disc", "stern-judging", 4), ("alld", "shunning", 3))
    best, best_act, best_sig, values = brute_force(act, sig, learner=0, order=3)
    ref = best_response(act, sig, 0, GAME)
    assert ref.payoff.item() >= best - 1e-12
    assert ref.payoff.item() == pytest.approx(exact_payoff(act, sig, 0, ref.act[0], ref.sig[0]), abs=1e-12)


# ---------------------------------------------------------------------------
# strictness, reproducibility, best-response gaps


@pytest.mark.parametrize("case", ["random", "discriminative-sj"])
def test_strict_flags_match_single_flips(case):
    if case == "random":
        act, sig, learner = *random_population(4, seed=7), 2
    else:
        act, sig, learner = *population(("disc", "stern-judging", 5)), 0
    ref = best_response(act, sig, learner, GAME, starts=2)
    base = exact_payoff(act, sig, learner, ref.act[0], ref.sig[0])
    losses = []
    for index in itertools.product((0, 1), repeat=2):
        flipped = ref.act[0].clone()
        flipped[index] = 1 - flipped[index]
        losses.append(base - exact_payoff(act, sig, learner, flipped, ref.sig[0]))
        assert bool(ref.strict_act[(0, *index)]) == (losses[-1] > STRICT)
    for index in itertools.product((0, 1), repeat=3):
        flipped = ref.sig[0].clone()
        flipped[index] = 1 - flipped[index]
        losses.append(base - exact_payoff(act, sig, learner, ref.act[0], flipped))
        assert bool(ref.strict_sig[(0, *index)]) == (losses[-1] > STRICT)
    assert min(losses) >= -1e-12  # the reference is a local optimum against single flips
    if case == "discriminative-sj":
        # a bad donor defecting against a good recipient happens only through errors:
        # flipping that signal costs something, but less than STRICT
        assert 1e-7 < losses[4 + 1] < STRICT
        assert not ref.strict_sig[0, 0, 0, 1]
        # a realised C to a bad recipient never happens: flipping costs nothing
        assert abs(losses[4 + 4]) < 1e-12
        assert abs(losses[4 + 6]) < 1e-12


def test_reproducible_and_batched():
    one = random_population(4, seed=11)
    two = random_population(4, seed=12)
    act, sig = torch.cat([one[0], two[0]]), torch.cat([one[1], two[1]])
    batched = best_response(act, sig, 0, GAME, starts=3, seed=4)
    again = best_response(act, sig, 0, GAME, starts=3, seed=4)
    single = best_response(two[0], two[1], 0, GAME, starts=3, seed=4)
    torch.testing.assert_close(batched.payoff, again.payoff, rtol=0, atol=0)
    torch.testing.assert_close(batched.sig, again.sig, rtol=0, atol=0)
    assert batched.payoff.shape == (2,)
    assert batched.strict_sig.shape == (2, 2, 2, 2)
    assert batched.payoff[1].item() == pytest.approx(single.payoff.item(), abs=1e-9)


def test_best_response_gap():
    n = 5
    act, sig = population(("disc", "stern-judging", n - 1))
    # everyone disc + stern judging: current payoff from the closed form of docs/model.md §3
    g = (1 - GAME.mu) / (2 - GAME.mu - A)
    nashconv, best, current = best_response_gap(act, sig, GAME, [0], starts=2)
    assert current[0, 0].item() == pytest.approx((GAME.b - GAME.c) * (1 - GAME.e) * g, abs=1e-10)
    assert best[0, 0].item() == pytest.approx(sj_closed_form(n), abs=1e-10)
    assert nashconv.item() == pytest.approx(best[0, 0].item() - current[0, 0].item(), abs=1e-12)
    assert nashconv.item() > 0.01
    # the learner already plays its reference tables: no gap
    ref = best_response(act, sig, 0, GAME, starts=2)
    act[0, 0], sig[0, 0] = ref.act[0], ref.sig[0]
    nashconv, best, current = best_response_gap(act, sig, GAME, [0], starts=2)
    assert 0.0 <= nashconv.item() <= 1e-9
    assert current[0, 0].item() == pytest.approx(ref.payoff.item(), abs=1e-12)


def test_one_head_reference_matches_enumeration():
    """Training one head (components action / signal): the reference keeps the other head
    at the learner's warm-up tables; brute force over the free head's deterministic tables."""
    import itertools

    from recigrad.dynamics import exact
    from recigrad.evaluation.best_response import best_response
    from recigrad.evaluation.parameters import OneHead
    from recigrad.game import Game, observable
    from recigrad.game.population import parse_pop
    from recigrad.learning.tables import warmup_logits

    game = Game()
    act, sig = parse_pop(["learner:L6:1", "disc:L3:4", "alld:L6:1"]).batched_tables(1)
    a, s = (torch.sigmoid(t) for t in warmup_logits("learner", "L6"))
    best = {"action": -1e9, "signal": -1e9}
    for bits in itertools.product((0.0, 1.0), repeat=4):
        trial_act, trial_sig = act.clone(), sig.clone()
        trial_act[0, 0], trial_sig[0, 0] = torch.tensor(bits).reshape(2, 2), s
        best["action"] = max(best["action"], exact.solve(*observable(trial_act, trial_sig, game), game).payoff[0, 0].item())
    for bits in itertools.product((0.0, 1.0), repeat=8):
        trial_act, trial_sig = act.clone(), sig.clone()
        trial_act[0, 0], trial_sig[0, 0] = a, torch.tensor(bits).reshape(2, 2, 2)
        best["signal"] = max(best["signal"], exact.solve(*observable(trial_act, trial_sig, game), game).payoff[0, 0].item())
    for head in ("action", "signal"):
        ref = best_response(act, sig, 0, game, order=OneHead(head, a, s))
        assert ref.payoff.item() >= best[head] - 1e-12
        assert ref.payoff.item() <= best[head] + 1e-3  # a stochastic optimum may beat the deterministic ones a little
        frozen = ref.strict_sig if head == "action" else ref.strict_act
        assert not frozen.any()
        fixed = ref.sig if head == "action" else ref.act
        torch.testing.assert_close(fixed[0], s if head == "action" else a, rtol=0, atol=1e-12)
