"""Estimators of the other agents' observable tables from public records (docs/model.md §5)."""

import math
import random
from dataclasses import replace

import numpy as np
import pytest
import torch

import pairwise_pooling
from recigrad.dynamics.records import Records
from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import initial_reputation, play
from recigrad.game import ConfigError, Game, observable
from recigrad.game.norms import action_table
from recigrad.game.population import parse_pop
from recigrad.learning import estimators as E
from recigrad.learning import pooling, view

NO_DETECT = E.EstimatorConfig(detect_change=False)


def handmade_records(rows):
    """Records from per-population lists of (donor, recipient, observer, x_d, x_r, a, s)."""
    columns = list(zip(*[list(zip(*row)) for row in rows]))  # field -> populations -> values
    dtypes = [torch.int32] * 3 + [torch.uint8] * 4
    d, r, o, x_d, x_r, a, s = (torch.tensor(col, dtype=dt) for col, dt in zip(columns, dtypes))
    return Records(d, r, o.unsqueeze(-1), x_d, x_r, a, s.unsqueeze(-1), a.unsqueeze(-1), s)


def random_rows(rng, batch, n, steps):
    rows = []
    for _ in range(batch):
        row = []
        for _ in range(steps):
            d = rng.randrange(n)
            r = rng.choice([j for j in range(n) if j != d])
            o = rng.choice([j for j in range(n) if j != d])
            row.append((d, r, o, rng.randrange(2), rng.randrange(2), rng.randrange(2), rng.randrange(2)))
        rows.append(row)
    return rows


def plain_counts(rows, n):
    """Independent count: act[b][j][x_d][x_r] = [records, C], sig[b][o][a][x_d][x_r] = [records, good]."""
    act = [[[[[0, 0] for _ in range(2)] for _ in range(2)] for _ in range(n)] for _ in rows]
    sig = [[[[[[0, 0] for _ in range(2)] for _ in range(2)] for _ in range(2)] for _ in range(n)] for _ in rows]
    for b, row in enumerate(rows):
        for d, _r, o, xd, xr, a, s in row:
            act[b][d][xd][xr][0] += 1
            act[b][d][xd][xr][1] += a
            sig[b][o][a][xd][xr][0] += 1
            sig[b][o][a][xd][xr][1] += s
    t = torch.tensor(act, dtype=torch.float64), torch.tensor(sig, dtype=torch.float64)
    return t[0][..., 0], t[0][..., 1], t[1][..., 0], t[1][..., 1]


def context_counts(records, batch, n):
    """Records per (population, agent, context), counted with plain tensor indexing."""
    act = torch.zeros(batch, n, 2, 2, dtype=torch.float64)
    sig = torch.zeros(batch, n, 2, 2, 2, dtype=torch.float64)
    ones = torch.ones(records.donor.shape[1], dtype=torch.float64)
    for b in range(batch):
        d, o = records.donor[b].long(), records.observers[b, :, 0].long()
        xd, xr, a = records.donor_rep[b].long(), records.recipient_rep[b].long(), records.action[b].long()
        act[b].index_put_((d, xd, xr), ones, accumulate=True)
        sig[b].index_put_((o, a, xd, xr), ones, accumulate=True)
    return act, sig


def in_context(records, table, agent, context):
    """``(B, T)`` mask of the records of ``agent`` (donor for "act", observer for "sig") in
    ``context``, and the outcomes (realised action or observed signal)."""
    if table == "act":
        who, fields, outcome = records.donor, (records.donor_rep, records.recipient_rep), records.action
    else:
        who, outcome = records.observers[..., 0], records.signals[..., 0]
        fields = (records.action, records.donor_rep, records.recipient_rep)
    mask = who == agent
    for field, value in zip(fields, context):
        mask = mask & (field == value)
    return mask, outcome


def assert_same(x, y, name):
    """Equal counts (integers exactly; float sums up to the order of summation)."""
    tolerance = 0.0 if x.dtype == torch.int64 else 1e-12
    torch.testing.assert_close(x, y, rtol=tolerance, atol=tolerance, msg=lambda m: f"{name}: {m}")


def mixed_population(batch, seed=0):
    """3 disc + stern judging, 2 alld + stern judging, 1 allc + shunning, 2 random stochastic agents."""
    pop = parse_pop(["disc:stern-judging:3", "alld:stern-judging:2", "allc:shunning:1", "disc:shunning:2"])
    act, sig = pop.batched_tables(batch)
    g = torch.Generator().manual_seed(seed)
    act[:, 6:] = torch.rand(batch, 2, 2, 2, generator=g, dtype=torch.float64)
    sig[:, 6:] = torch.rand(batch, 2, 2, 2, 2, generator=g, dtype=torch.float64)
    return act, sig


# ---------------------------------------------------------------- counting


@pytest.mark.parametrize("config", [E.EstimatorConfig(), NO_DETECT], ids=["default", "no-detect"])
def test_counts_equal_a_plain_python_count(config):
    rng = random.Random(3)
    n = 4
    rows = random_rows(rng, 3, n, 60)
    state = E.update(E.init_state(3, n), handmade_records(rows), config)
    act_n, act_k, sig_n, sig_k = plain_counts(rows, n)
    assert int(state.act_resets.sum()) == 0
    assert int(state.sig_resets.sum()) == 0
    torch.testing.assert_close(state.act_n, act_n, rtol=0, atol=0)
    torch.testing.assert_close(state.act_k, act_k, rtol=0, atol=0)
    torch.testing.assert_close(state.sig_n, sig_n, rtol=0, atol=0)
    torch.testing.assert_close(state.sig_k, sig_k, rtol=0, atol=0)
    assert torch.equal(state.interactions, torch.tensor([60, 60, 60]))
    ess_act, ess_sig = E.effective_sample_size(state)
    torch.testing.assert_close(ess_act, act_n, rtol=0, atol=0)
    torch.testing.assert_close(ess_sig, sig_n, rtol=0, atol=0)
    # the window holds the last records' outcomes, most recent in bit 0
    b, j = 1, rows[1][-1][0]
    xd, xr = rows[1][-1][3], rows[1][-1][4]
    history = [a for d, _r, _o, x, y, a, _s in rows[1] if (d, x, y) == (j, xd, xr)]
    bits = int(state.act_bits[b, j, xd, xr])
    assert [(bits >> t) & 1 for t in range(len(history))] == history[::-1]
    assert int(state.act_filled[b, j, xd, xr]) == min(len(history), config.window)


def test_window_keeps_the_last_records_across_updates():
    rng = random.Random(9)
    history = [rng.randrange(2) for _ in range(150)]
    state = E.init_state(1, 3)
    done = 0
    for size in (1, 5, 70, 2, 63, 9):  # pieces shorter and longer than the window
        piece = history[done : done + size]
        state = E.update(state, handmade_records([[(2, 0, 1, 0, 1, a, 0) for a in piece]]), NO_DETECT)
        done += size
        last = history[:done][::-1][:62]
        assert int(state.act_bits[0, 2, 0, 1]) == sum(a << t for t, a in enumerate(last))
        assert int(state.act_filled[0, 2, 0, 1]) == len(last)
        fast = sum((1 - 1 / 300) ** t for t in range(done))
        assert float(state.act_fast_n[0, 2, 0, 1]) == pytest.approx(fast, rel=1e-12)


def test_update_in_pieces_equals_update_at_once_and_does_not_mutate():
    rng = random.Random(5)
    rows = random_rows(rng, 2, 5, 90)
    whole = handmade_records(rows)
    first = handmade_records([row[:37] for row in rows])
    second = handmade_records([row[37:] for row in rows])
    state0 = E.init_state(2, 5)
    once = E.update(state0, whole, NO_DETECT)
    before = {k: v.clone() for k, v in once.to_dict().items()}
    pieces = E.update(E.update(state0, first, NO_DETECT), second, NO_DETECT)
    for name, value in once.to_dict().items():
        assert_same(value, getattr(pieces, name), name)
    E.update(once, whole, E.EstimatorConfig())
    E.estimate(once)
    for name, value in once.to_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0, msg=lambda m, name=name: f"{name}: {m}")
    for name, value in state0.to_dict().items():
        assert value.abs().sum() == 0, name
    restored = E.EstimatorState.from_dict(once.to_dict())
    for got, expected in zip(E.estimate(restored), E.estimate(once), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


# ---------------------------------------------------------------- prior and pooling


def test_unseen_contexts_return_the_prior():
    config = E.EstimatorConfig(prior_mean=0.3)
    pc, so = E.estimate(E.init_state(2, 3), config)
    torch.testing.assert_close(pc, torch.full((2, 3, 2, 2), 0.3), rtol=0, atol=0)
    torch.testing.assert_close(so, torch.full((2, 3, 2, 2, 2), 0.3), rtol=0, atol=0)

    # population 0: agent 0 donates 4 times in context (1, 1), cooperating 3 times; observer 1 judges all good
    rows = [[(0, 1, 1, 1, 1, a, 1) for a in (1, 1, 0, 1)], [(2, 0, 0, 0, 1, 0, 0)] * 4]
    state = E.update(E.init_state(2, 3), handmade_records(rows), config)
    pc, so = E.estimate(state, config)
    seen_act = torch.zeros(2, 3, 2, 2, dtype=torch.bool)
    seen_act[0, 0, 1, 1] = seen_act[1, 2, 0, 1] = True
    # contexts nobody in the population has seen: exactly the prior
    for b, (x_d, x_r) in [(0, (0, 0)), (0, (0, 1)), (0, (1, 0)), (1, (0, 0)), (1, (1, 1))]:
        assert torch.equal(pc[b, :, x_d, x_r], torch.full((3,), 0.3))
    # the agent itself: posterior mean with the base prior (no other agent has records of the context)
    assert pc[0, 0, 1, 1] == pytest.approx((3 + 0.3) / (4 + 1))
    # an alike agent that has not seen it borrows the pooled estimate as its prior mean
    pooled = (3 + 0.3) / (4 + 1)
    assert pc[0, 1, 1, 1] == pytest.approx(pooled)
    assert pc[0, 2, 1, 1] == pytest.approx(pooled)
    assert so[0, 1, 1, 1, 1] == pytest.approx(3.3 / 4)
    assert so[0, 1, 0, 1, 1] == pytest.approx(1.3 / 2)
    assert so[0, 0, 1, 1, 1] == pytest.approx(3.3 / 4)  # borrowed from observer 1: (3 + 0.3) / (3 + 1)
    assert pc[1, 2, 0, 1] == pytest.approx(0.3 / 5)
    assert pc[1, 0, 0, 1] == pytest.approx(0.3 / 5)
    # without pooling every agent's unseen context is the prior
    plain = E.EstimatorConfig(prior_mean=0.3, pool=False)
    pc, so = E.estimate(state, plain)
    assert torch.equal(pc[~seen_act], torch.full((int((~seen_act).sum()),), 0.3))
    assert pc[0, 0, 1, 1] == pytest.approx(3.3 / 5)
    assert so[0, 1, 1, 1, 1] == pytest.approx(3.3 / 4)


def test_pooling_only_across_alike_agents():
    # agents 0 and 1 cooperate in context (1, 1) (40 records each), agent 2 defects (40 records); in context
    # (0, 1) only agent 0 has records (all C) and only agent 2 has records of context (1, 0) (all D)
    rows = [
        [(0, 1, 2, 1, 1, 1, 1)] * 40
        + [(1, 0, 2, 1, 1, 1, 1)] * 40
        + [(2, 0, 1, 1, 1, 0, 0)] * 40
        + [(0, 1, 2, 0, 1, 1, 1)] * 5
        + [(2, 0, 1, 1, 0, 0, 1)] * 5
    ]
    state = E.update(E.init_state(1, 3), handmade_records(rows), E.EstimatorConfig())
    alike = pairwise_pooling.alike(state.act_n.reshape(1, 3, 4), state.act_k.reshape(1, 3, 4), state.act_sq.reshape(1, 3, 4), 12.0)
    assert alike[0].tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    group = pooling.leader_groups(*(getattr(state, f"act_{s}").reshape(1, 3, 4) for s in ("n", "k", "sq")), 12.0)
    assert group[0].tolist() == [0, 0, 1]  # agents 0 and 1 in one group, agent 2 alone
    pc, _ = E.estimate(state)
    assert pc[0, 1, 0, 1] == pytest.approx((5 + 0.5) / (5 + 1))  # borrowed from agent 0
    assert pc[0, 2, 0, 1] == pytest.approx(0.5)  # agent 2 is like nobody: base prior
    assert pc[0, 0, 1, 0] == pytest.approx(0.5)
    assert pc[0, 2, 1, 0] == pytest.approx(0.5 / 6)


# ---------------------------------------------------------------- against fixed agents


def test_converges_to_the_true_tables_against_fixed_agents():
    game = Game()
    batch, n, steps = 2, 8, 30000
    act, sig = mixed_population(batch)
    pc, so = observable(act, sig, game)
    streams = Streams([11, 12])
    x = initial_reputation(batch, n)
    config = E.EstimatorConfig()
    state = E.init_state(batch, n)
    parts = []
    for _ in range(steps // 500):
        x, _, records = play(pc, so, x, streams, 500, record=True)
        state = E.update(state, records, config)
        parts.append(records)
    count_act, count_sig = context_counts(Records.cat(parts), batch, n)
    torch.testing.assert_close(state.act_n, count_act, rtol=0, atol=0)
    torch.testing.assert_close(state.sig_n, count_sig, rtol=0, atol=0)
    assert int(state.act_resets.sum()) == 0  # no false alarm
    assert int(state.sig_resets.sum()) == 0
    pc_hat, so_hat = E.estimate(state, config)
    checked = 0
    chi2 = []
    for hat, true, count in ((pc_hat, pc, count_act), (so_hat, so, count_sig)):
        often = count >= 50
        sd = (true * (1 - true) / count.clamp_min(1)).sqrt()
        # 5 binomial standard errors plus the prior's pull (worth pool_strength = 2 records)
        bound = 5 * sd + 2.0 / (count + 2.0)
        error = (hat - true).abs()
        assert (error[often] <= bound[often]).all(), (error - bound)[often].max()
        stochastic = often & (true > 0.05) & (true < 0.95)
        chi2.append(((hat - true)[stochastic] / sd[stochastic]).square())
        checked += int(often.sum())
    chi2 = torch.cat(chi2)
    assert checked >= 150
    assert chi2.numel() >= 40
    assert chi2.mean() < 1.7  # standardised errors behave like N(0, 1) draws: mean square about 1


def test_rare_contexts_borrow_from_alike_agents():
    """Among discriminators with shunning, observers see a defection against a good recipient only
    through execution errors; pooling the observers makes those few records count."""
    game = Game()
    batch, n = 2, 8
    pc, so = observable(*parse_pop(["disc:shunning:8"]).batched_tables(batch), game)
    streams = Streams([21, 22])
    x = initial_reputation(batch, n)
    pooled, plain = E.init_state(batch, n), E.init_state(batch, n)
    config_plain = E.EstimatorConfig(pool=False)
    for _ in range(40):
        x, _, records = play(pc, so, x, streams, 500, record=True)
        pooled, plain = E.update(pooled, records), E.update(plain, records, config_plain)
    rare = (pooled.sig_n >= 1) & (pooled.sig_n <= 10)
    assert int(rare.sum()) >= 8
    error_pooled = (E.estimate(pooled)[1] - so).abs()[rare].mean()
    error_plain = (E.estimate(plain, config_plain)[1] - so).abs()[rare].mean()
    assert error_pooled < 0.05
    assert error_plain > 2 * error_pooled


# ---------------------------------------------------------------- following a change


def test_follows_an_agent_who_changes_and_keeps_the_others_long_memory():
    """Agent 0 switches from disc + stern judging to alld that also judges cooperation with a good
    recipient as bad.  Once a context has 30 records of the new behaviour, its estimate is within 0.05
    of their mean (the thousands of records from before are forgotten); the agents who did not change
    never lose a record of long memory."""
    game = Game()
    batch, n = 4, 8
    act, sig = parse_pop(["disc:stern-judging:8"]).batched_tables(batch)
    pc, so = observable(act, sig, game)
    streams = Streams([31, 32, 33, 34])
    x = initial_reputation(batch, n)
    config = E.EstimatorConfig()
    state = stale = E.init_state(batch, n)
    for _ in range(48):
        x, _, records = play(pc, so, x, streams, 500, record=True)
        state, stale = E.update(state, records, config), E.update(stale, records, NO_DETECT)
    act[:, 0] = action_table("alld")
    sig[:, 0, 1, :, 1] = 0.0  # cooperation with a good recipient is judged bad
    pc_new, so_new = observable(act, sig, game)
    # agent 0's common contexts after the switch: as a bad donor to a good recipient, and as the
    # observer of a good donor cooperating with a good recipient
    watched = {"act": (0, 0, 1), "sig": (0, 1, 1, 1)}
    records_since = {name: torch.zeros(batch) for name in watched}
    outcomes_since = {name: torch.zeros(batch) for name in watched}
    ess_before = E.effective_sample_size(state)
    for _ in range(20):
        x, _, records = play(pc_new, so_new, x, streams, 100, record=True)
        state, stale = E.update(state, records, config), E.update(stale, records, NO_DETECT)
        pc_hat, so_hat = E.estimate(state, config)
        for name, (j, *context) in watched.items():
            mask, outcome = in_context(records, name, j, context)
            records_since[name] += mask.sum(1)
            outcomes_since[name] += (mask & (outcome == 1)).sum(1)
            hat = (pc_hat if name == "act" else so_hat)[(slice(None), j, *context)]
            mean_since = outcomes_since[name] / records_since[name].clamp_min(1)
            followed = records_since[name] >= 30
            assert ((hat - mean_since).abs()[followed] < 0.05).all(), (name, records_since[name], hat, mean_since)
        ess_after = E.effective_sample_size(state)
        for before, after in zip(ess_before, ess_after):
            assert (after[:, 1:] >= before[:, 1:]).all()  # the others' memories only grow
        ess_before = ess_after
    for name, count in records_since.items():
        assert (count >= 100).all(), (name, count)
    assert int(state.act_resets[:, 1:].sum()) == 0
    assert int(state.sig_resets[:, 1:].sum()) == 0
    assert (state.act_resets[:, 0, 0, 1] >= 1).all()
    assert (state.sig_resets[:, 0, 1, 1, 1] >= 1).all()
    # against the new truth, within binomial noise of the records since the change
    pc_hat, so_hat = E.estimate(state, config)
    for name, hat, true in (("act", pc_hat, pc_new), ("sig", so_hat, so_new)):
        index = (slice(None), *watched[name])
        sd = (true[index] * (1 - true[index]) / records_since[name]).sqrt()
        assert ((hat[index] - true[index]).abs() < 5 * sd + 2 / records_since[name]).all()
    # the others are still estimated from all their records, and well
    assert torch.equal(state.act_n[:, 1:], stale.act_n[:, 1:])
    common = state.act_n[:, 1:] >= 200
    assert ((pc_hat[:, 1:] - pc[:, 1:]).abs()[common] < 0.02).all()
    # without change detection the stale estimate would still be far from the new behaviour
    _, so_stale = E.estimate(stale, NO_DETECT)
    assert (so_stale[:, 0, 1, 1, 1] > 0.5).all()


def test_restart_keeps_only_records_after_the_change():
    # one context: 100 C, then 8 D.  In one update, the shortest split significant against all the
    # records before it is the last 6 (G = 37.4; the last 5: 29.9); record by record, the change is
    # detected at the 4th D (G = 33.9, the 3rd: 27.1) and the later D are added to the restarted memory
    history = [1] * 100 + [0] * 8
    rows = [[(0, 1, 2, 1, 1, a, 1) for a in history]]
    state = E.update(E.init_state(1, 3), handmade_records(rows))
    assert int(state.act_resets[0, 0, 1, 1]) == 1
    assert state.act_n[0, 0, 1, 1] == 6
    assert state.act_k[0, 0, 1, 1] == 0
    assert state.sig_n[0, 2, 1, 1, 1] == 100  # the observer: no change
    assert state.sig_n[0, 2, 0, 1, 1] == 8
    assert int(state.sig_resets.sum()) == 0
    step = E.init_state(1, 3)
    for a in history:
        step = E.update(step, handmade_records([[(0, 1, 2, 1, 1, a, 1)]]))
    assert int(step.act_resets[0, 0, 1, 1]) == 1
    assert step.act_n[0, 0, 1, 1] == 8
    assert step.act_k[0, 0, 1, 1] == 0
    # two rare D just before the change are not taken for the new regime's
    history = [1] * 100 + [0, 1, 1, 0, 1, 1] + [0] * 5
    state = E.update(E.init_state(1, 3), handmade_records([[(0, 1, 2, 1, 1, a, 1) for a in history]]))
    assert int(state.act_resets[0, 0, 1, 1]) == 1
    assert state.act_k[0, 0, 1, 1] == 0


def test_slow_drift_is_tracked():
    """A context drifts from 0.99 to 0.5 over 3000 records: the estimate ends within 0.1 of the truth."""
    g = torch.Generator().manual_seed(7)
    batch, per = 8, 50
    state = E.init_state(batch, 3)
    z8 = torch.zeros(batch, per, dtype=torch.uint8)
    donor, recipient, observer = (torch.full((batch, per), j, dtype=torch.int32) for j in range(3))
    for t in range(0, 6000, per):
        p = 0.99 - 0.49 * min(max(t - 2000, 0) / 3000, 1.0)
        a = (torch.rand(batch, per, generator=g, dtype=torch.float64) < p).to(torch.uint8)
        rows = Records(donor, recipient, observer.unsqueeze(-1), z8 + 1, z8 + 1, a, z8.unsqueeze(-1), a.unsqueeze(-1), z8)
        state = E.update(state, rows)
    pc_hat, _ = E.estimate(state)
    assert ((pc_hat[:, 0, 1, 1] - 0.5).abs() < 0.1).all()
    assert (state.act_resets[:, 0, 1, 1] >= 1).all()


# ---------------------------------------------------------------- batches, API


def test_populations_are_independent_in_a_batch():
    game = Game()
    batch, n = 3, 6
    act, sig = (table[:, :n].clone() for table in mixed_population(batch))
    streams = Streams([41, 42, 43])
    x = initial_reputation(batch, n)
    together = E.init_state(batch, n)
    alone = [E.init_state(1, n) for _ in range(batch)]
    for steps in (700, 300, 900):
        pc, so = observable(act, sig, game)
        sig[1, 0] = 1.0 - sig[1, 0]  # population 1's agent 0 inverts its signals after every piece
        x, _, records = play(pc, so, x, streams, steps, record=True)
        together = E.update(together, records)
        for b in range(batch):
            rows = Records(*(getattr(records, f)[b : b + 1] for f in Records.FIELDS))
            alone[b] = E.update(alone[b], rows)
    assert int(together.sig_resets[1, 0].sum()) >= 2
    assert int(together.act_resets[[0, 2]].sum()) == 0
    assert int(together.sig_resets[[0, 2]].sum()) == 0
    pc_hat, so_hat = E.estimate(together)
    for b in range(batch):  # bit for bit
        for name, value in alone[b].to_dict().items():
            assert torch.equal(value[0], getattr(together, name)[b]), name
        pc_b, so_b = E.estimate(alone[b])
        torch.testing.assert_close(pc_b[0], pc_hat[b], rtol=0, atol=0)
        torch.testing.assert_close(so_b[0], so_hat[b], rtol=0, atol=0)
    # changing another population's records changes nothing in population 0
    x, _, records = play(pc, so, x, streams, 400, record=True)
    shuffled = Records(*(getattr(records, f).clone() for f in Records.FIELDS))
    shuffled.action[1:] = 1 - shuffled.action[1:]
    shuffled.donor[1:] = shuffled.donor[1:].flip(1)
    a, b = E.update(together, records), E.update(together, shuffled)
    for name in a.to_dict():
        torch.testing.assert_close(getattr(a, name)[0], getattr(b, name)[0], rtol=0, atol=0, msg=lambda m, name=name: f"{name}: {m}")
    assert not torch.equal(a.act_k[1], b.act_k[1])


def test_substitute_puts_each_learners_live_tables_in_its_own_row():
    pc_hat = torch.rand(2, 4, 2, 2, dtype=torch.float64)
    so_hat = torch.rand(2, 4, 2, 2, 2, dtype=torch.float64)
    pc_own = torch.rand(2, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    so_own = torch.rand(2, 2, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    pc_view, so_view = view.substitute(pc_hat, so_hat, [0, 2], pc_own, so_own)
    assert pc_view.shape == (2, 2, 4, 2, 2)
    assert so_view.shape == (2, 2, 4, 2, 2, 2)
    torch.testing.assert_close(pc_view[:, 0, 0], pc_own[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(pc_view[:, 1, 2], pc_own[:, 1], rtol=0, atol=0)
    torch.testing.assert_close(pc_view[:, 0, 2], pc_hat[:, 2], rtol=0, atol=0)
    torch.testing.assert_close(so_view[:, 1, 0], so_hat[:, 0], rtol=0, atol=0)
    pc_view[:, 0].sum().backward()
    torch.testing.assert_close(pc_own.grad[:, 0], torch.ones(2, 2, 2), rtol=0, atol=0)
    torch.testing.assert_close(pc_own.grad[:, 1], torch.zeros(2, 2, 2), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prior_mean": 1.0},
        {"pool_strength": 0.0},
        {"window": 63},
        {"window": 0},
        {"fast_horizon": 1.0},
        {"change_threshold": math.nan},
        {"forget": 0.9},
        {"forget": 1.5, "detect_change": False},
        {"pool": 1},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ConfigError, match="estimator"):
        E.EstimatorConfig(**kwargs)


def test_plain_forgetting_ablation():
    """``forget`` discounts the long memory per interaction, as the prototype of docs/model.md §5 did."""
    config = E.EstimatorConfig(detect_change=False, forget=0.5)
    rows = [[(0, 1, 2, 1, 1, 1, 1), (1, 0, 2, 1, 1, 1, 1), (0, 1, 2, 1, 1, 0, 1)]]
    state = E.update(E.init_state(1, 3), handmade_records(rows), config)
    assert state.act_n[0, 0, 1, 1] == pytest.approx(0.25 + 1.0)
    assert state.act_k[0, 0, 1, 1] == pytest.approx(0.25)
    state = E.update(state, handmade_records([[(1, 0, 2, 1, 1, 1, 1)]]), config)
    assert state.act_n[0, 0, 1, 1] == pytest.approx(0.625)
    ess, _ = E.effective_sample_size(state)
    assert ess[0, 0, 1, 1] == pytest.approx(0.625**2 / (0.125**2 + 0.5**2))


# ---------------------------------------------------------------- several observers (issue 13)


def observed_records(pc, so, k, q, steps, seed, recipient_observes=True):
    """Records drawn by hand (numpy, independent of the world) from known observable tables: donor and
    recipient uniform, reputations uniform bits (any contexts will do), a realised C with probability
    ``pc``; with probability ``q`` the interaction is observed by ``k`` observers drawn without
    replacement from everyone but the donor (and the recipient unless it may observe), each reporting
    good with probability ``so`` at (a, x_d, x_r); ``perceived`` is noise (estimators must not read it)."""
    rng = np.random.default_rng(seed)
    batch, n = pc.shape[:2]
    donor = rng.integers(n, size=(batch, steps))
    recipient = (donor + 1 + rng.integers(n - 1, size=(batch, steps))) % n
    x_d, x_r = rng.integers(2, size=(batch, steps)), rng.integers(2, size=(batch, steps))
    rows = np.arange(batch)[:, None]
    action = (rng.random((batch, steps)) < pc.numpy()[rows, donor, x_d, x_r]).astype(np.int64)
    keys = rng.random((batch, steps, n))
    np.put_along_axis(keys, donor[..., None], np.inf, -1)
    if not recipient_observes:
        np.put_along_axis(keys, recipient[..., None], np.inf, -1)
    observers = np.argsort(keys, -1, kind="stable")[..., :k]
    p_good = so.numpy()[rows[..., None], observers, action[..., None], x_d[..., None], x_r[..., None]]
    signals = (rng.random((batch, steps, k)) < p_good).astype(np.int64)
    seen = rng.random((batch, steps)) < q
    observers = np.where(seen[..., None], observers, -1)
    signals = np.where(seen[..., None], signals, 0)
    perceived = rng.integers(2, size=(batch, steps, k))
    as_tensor = lambda x, dtype: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)  # noqa: E731
    u8, i32 = torch.uint8, torch.int32
    return Records(as_tensor(donor, i32), as_tensor(recipient, i32), as_tensor(observers, i32), as_tensor(x_d, u8),
                   as_tensor(x_r, u8), as_tensor(action, u8), as_tensor(signals, u8), as_tensor(perceived, u8),
                   as_tensor(x_d, u8))


@pytest.mark.parametrize(("k", "q", "recipient_observes"), [(3, 0.7, True), (5, 0.4, False)])
def test_every_observer_is_one_sample_of_its_observable_table(k, q, recipient_observes):
    """With k observers per observed interaction, the estimates converge to the known observable
    tables: every context within 5 standard errors ``sqrt(p (1 - p) / n)`` (plus the prior's pull,
    ``1/n``), and the standardised errors' sum of squares within chi-square's mean + 5 sd.  Each
    observer's signal counts once (the records per observer are ``k`` times those of the first
    observer alone), unobserved interactions give action samples only, and ``perceived`` is never read."""
    batch, n, steps = 2, 8, 8000
    g = torch.Generator().manual_seed(11)
    pc = 0.05 + 0.9 * torch.rand(batch, n, 2, 2, generator=g, dtype=torch.float64)
    so = 0.05 + 0.9 * torch.rand(batch, n, 2, 2, 2, generator=g, dtype=torch.float64)
    records = observed_records(pc, so, k, q, steps, seed=k, recipient_observes=recipient_observes)
    config = E.EstimatorConfig(pool=False, detect_change=False)
    state = E.update(E.init_state(batch, n), records, config)
    pc_hat, so_hat = E.estimate(state, config)
    observed = int(records.observed.sum())
    assert float(state.act_n.sum()) == batch * steps
    assert float(state.sig_n.sum()) == k * observed
    assert abs(observed / (batch * steps) - q) < 5 * math.sqrt(q * (1 - q) / (batch * steps))
    squares = 0.0
    for hat, true, count in ((pc_hat, pc, state.act_n), (so_hat, so, state.sig_n)):
        assert int(count.min()) >= 100
        se = (true * (1 - true) / count).sqrt()
        assert bool(((hat - true).abs() <= 5 * se + 1 / count).all())
        squares += float(((hat - true) / se).square().sum())
    cells = batch * n * 12
    assert squares < cells + 5 * math.sqrt(2 * cells)
    # the perceived actions are private: other noise there gives the same state, bit for bit
    other = replace(records, perceived=1 - records.perceived)
    for name, value in E.update(E.init_state(batch, n), other, config).to_dict().items():
        torch.testing.assert_close(value, getattr(state, name), rtol=0, atol=0, msg=lambda m, name=name: f"{name}: {m}")


def test_observers_count_in_draw_order_and_a_population_alone_equals_it_in_a_batch():
    """The window of an observer's context holds its signals in time order (several observers of one
    interaction in draw order), with change detection on; population 1 alone gives its state in the
    batch bit for bit."""
    batch, n, k = 3, 6, 3
    g = torch.Generator().manual_seed(5)
    pc = torch.rand(batch, n, 2, 2, generator=g, dtype=torch.float64)
    so = torch.rand(batch, n, 2, 2, 2, generator=g, dtype=torch.float64)
    records = observed_records(pc, so, k, 0.6, 700, seed=1)
    state = E.update(E.init_state(batch, n), records)
    alone = E.update(E.init_state(1, n), Records(*(getattr(records, f)[1:2] for f in Records.FIELDS)))
    for name, value in alone.to_dict().items():
        torch.testing.assert_close(value, getattr(state, name)[1:2], rtol=0, atol=0, msg=lambda m, name=name: f"{name}: {m}")
    # observer 2 in context (a, x_d, x_r) = (1, 0, 1) of population 0: its signals, by hand
    history = [int(records.signals[0, t, j]) for t in range(len(records)) for j in range(k)
               if int(records.observers[0, t, j]) == 2 and (int(records.action[0, t]), int(records.donor_rep[0, t]),
                                                            int(records.recipient_rep[0, t])) == (1, 0, 1)]
    assert len(history) >= 5
    bits = int(state.sig_bits[0, 2, 1, 0, 1])
    last = history[::-1][: int(state.sig_filled[0, 2, 1, 0, 1])]
    assert [(bits >> t) & 1 for t in range(len(last))] == last
    assert float(state.sig_n[0, 2, 1, 0, 1]) <= len(history)  # all of them, or those since a detected change
