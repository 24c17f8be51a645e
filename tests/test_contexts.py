"""Decision contexts and their encodings (docs/model.md §2): round trips, the world's
kernel and the estimators index records by them, and the norms' bit strings give the
tables of docs/model.md §2."""

import itertools

import pytest
import torch

from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import initial_reputation, play
from recigrad.game import ConfigError
from recigrad.game import contexts as C
from recigrad.game.norms import action_table, signal_table
from recigrad.learning import estimators as E
from recigrad.learning.baselines.common import flat_logits

# docs/model.md §2, written out by hand: the cell (a, x_donor, x_rec) of each column GGC .. BBD
EIGHT_CELLS = [(1, 1, 1), (0, 1, 1), (1, 1, 0), (0, 1, 0), (1, 0, 1), (0, 0, 1), (1, 0, 0), (0, 0, 0)]
EIGHT = {
    "L1": (1, 0, 1, 1, 1, 0, 1, 0), "L2": (1, 0, 0, 1, 1, 0, 1, 0), "L3": (1, 0, 1, 1, 1, 0, 1, 1),
    "L4": (1, 0, 1, 1, 1, 0, 0, 1), "L5": (1, 0, 0, 1, 1, 0, 1, 1), "L6": (1, 0, 0, 1, 1, 0, 0, 1),
    "L7": (1, 0, 1, 1, 1, 0, 0, 0), "L8": (1, 0, 0, 1, 1, 0, 0, 0),
}
# (C to good, D to good, C to bad, D to bad): cells (a, x_rec)
SECOND_CELLS = [(1, 1), (0, 1), (1, 0), (0, 0)]
SECOND = {"image-scoring": (1, 0, 1, 0), "simple-standing": (1, 0, 1, 1), "stern-judging": (1, 0, 0, 1), "shunning": (1, 0, 0, 0)}


def test_action_contexts_round_trip():
    numbers = [C.action_context(x_own, x_rec) for x_own, x_rec in itertools.product((0, 1), repeat=2)]
    assert numbers == [0, 1, 2, 3]
    for k in range(4):
        assert C.action_context(*C.action_fields(k)) == k


def test_signal_contexts_round_trip():
    numbers = [C.signal_context(a, xd, xr) for a, xd, xr in itertools.product((0, 1), repeat=3)]
    assert numbers == list(range(8))
    for k in range(8):
        assert C.signal_context(*C.signal_fields(k)) == k


def test_decision_contexts_number_the_twelve_logits():
    act = torch.arange(4.0).reshape(2, 2)
    sig = 4.0 + torch.arange(8.0).reshape(2, 2, 2)
    flat = C.flat_tables(act, sig)
    assert flat.tolist() == list(range(12))
    for k in range(12):
        role, fields = C.decision_fields(k)
        number = C.action_context(*fields) if role == "action" else C.signal_decision(*fields)
        assert number == k
        table = act if role == "action" else sig
        assert table[fields].item() == k


def test_flat_and_split_tables_round_trip_and_match_the_baselines_logits():
    generator = torch.Generator().manual_seed(0)
    act, sig = torch.randn(3, 2, 2, 2, generator=generator), torch.randn(3, 2, 2, 2, 2, generator=generator)
    flat = C.flat_tables(act, sig)
    assert flat.shape == (3, 2, 12)
    back_act, back_sig = C.split_tables(flat)
    torch.testing.assert_close(back_act, act, rtol=0, atol=0)
    torch.testing.assert_close(back_sig, sig, rtol=0, atol=0)
    torch.testing.assert_close(flat_logits(act, sig), flat, rtol=0, atol=0)


@pytest.mark.parametrize("bad", [-1, 12])
def test_decision_fields_refuses_numbers_out_of_range(bad):
    with pytest.raises(ValueError, match="decision context is 0..11"):
        C.decision_fields(bad)


def test_bit_strings_round_trip():
    for bits in map("".join, itertools.product("01", repeat=8)):
        assert C.signal_bits(C.signal_from_bits(bits)) == bits
    for bits in map("".join, itertools.product("01", repeat=4)):
        assert C.action_bits(C.action_from_bits(bits)) == bits


@pytest.mark.parametrize("bits", ["101", "10x1", 1010, "1" * 9])
def test_malformed_bit_strings_are_refused(bits):
    with pytest.raises(ConfigError, match="bits 0/1"):
        C.signal_from_bits(bits)


@pytest.mark.parametrize("norm", list(EIGHT))
def test_leading_eight_tables(norm):
    sig = signal_table(norm)
    assert [sig[cell].item() for cell in EIGHT_CELLS] == list(EIGHT[norm])
    assert C.signal_bits(sig) == "".join(map(str, EIGHT[norm]))


@pytest.mark.parametrize("norm", list(SECOND))
def test_second_order_tables(norm):
    sig = signal_table(norm)
    for x_donor in (0, 1):
        assert [sig[a, x_donor, x_rec].item() for a, x_rec in SECOND_CELLS] == list(SECOND[norm])


def test_action_rule_bit_strings():
    # columns GG GB BG BB (own, recipient)
    assert C.action_bits(action_table("disc")) == "1010"
    assert C.action_bits(action_table("allc")) == "1111"
    assert C.action_bits(action_table("alld")) == "0000"
    assert C.action_bits(action_table("norm", "L1")) == "1011"
    assert C.action_from_bits("1000").tolist() == [[0.0, 0.0], [0.0, 1.0]]  # only GG cooperates: act[1, 1]


def _random_deterministic_world(batch=2, n=5, interactions=4000):
    """Deterministic random tables (every context distinguishable) and the records they play."""
    generator = torch.Generator().manual_seed(3)
    pc = torch.randint(0, 2, (batch, n, 2, 2), generator=generator).double()
    so = torch.randint(0, 2, (batch, n, 2, 2, 2), generator=generator).double()
    so[:, 0] = 0.5  # observer 0 flips coins, so every reputation context occurs
    _, _, records = play(pc, so, initial_reputation(batch, n), Streams([11, 12], "world"), interactions, record=True)
    return pc, so, records


def test_the_kernel_reads_the_tables_at_the_context_numbers():
    pc, so, rec = _random_deterministic_world()
    b = torch.arange(pc.shape[0]).unsqueeze(1).expand_as(rec.donor)
    donor, observer = rec.donor.long(), rec.observers[..., 0].long()
    x_d, x_r, a, s = (getattr(rec, f).long() for f in ("donor_rep", "recipient_rep", "action", "reputation"))
    action_number = C.action_context(x_d, x_r)
    signal_number = C.signal_context(a, x_d, x_r)
    assert set(action_number.flatten().tolist()) == set(range(4))
    assert set(signal_number.flatten().tolist()) == set(range(8))
    expected_action = pc.flatten(2)[b, donor, action_number]
    torch.testing.assert_close(a.double(), expected_action, rtol=0, atol=0)
    deterministic = observer != 0
    expected_signal = so.flatten(2)[b, observer, signal_number]
    torch.testing.assert_close(s[deterministic].double(), expected_signal[deterministic], rtol=0, atol=0)


def test_the_estimators_count_records_at_their_contexts():
    pc, _, rec = _random_deterministic_world()
    state = E.update(E.init_state(*pc.shape[:2]), rec, E.EstimatorConfig(detect_change=False))
    counts = torch.zeros(pc.shape[0], pc.shape[1], 4, dtype=torch.float64)
    for b in range(pc.shape[0]):
        for t in range(len(rec)):
            record = rec.row(b, t)
            counts[b, record.donor, C.action_context(record.donor_rep, record.recipient_rep)] += 1
    torch.testing.assert_close(state.act_n.flatten(2), counts, rtol=0, atol=0)
