"""Search natural single-learner populations (N <= 8) whose reference is measurable in both heads.

Issue 10 item 5: the quick suite needs a regime whose best response (the reference,
``recigrad.evaluation.best_response.best_response``) takes values more than
``recigrad.evaluation.metrics.COLLAPSED`` apart over its strict contexts in BOTH heads
(``collapse_measurable``), so that a collapsed signal head can be seen.

Why the signal reference is usually constant: with one observer the learner's signal
only sets other donors' public reputations, and the reputation of a recipient matters to
the learner mostly through how its own action toward that recipient is judged.  Under
stern judging / simple standing, defecting against a bad recipient is good, so the
learner wants everyone bad; under shunning any action toward a bad recipient is bad, so it
wants everyone good.  Candidates guided by where those pulls could differ by context:

- mixed assessors (two norms among the discriminators: one rewards defecting against the
  bad, the other punishes any action toward the bad);
- agents whose action depends on their own reputation (the L1/L2 action rule, ``norm``
  kind: a bad donor cooperates with a bad recipient) mixed with ``disc``/``alld``/``allc``;
- several observers (majority / quorum), where the learner's vote is pivotal only in some
  contexts; perception errors; the recipient not observing.

Found (this machine, ``--quick`` and the full list): none of these is measurable in the
signal head; the strict signal entries are all 0 (stern judging, simple standing, the leading
eight, their mixes) or all 1 (shunning, image scoring mixed with stern judging); majority and
quorum leave some entries non-strict (the learner's vote is not pivotal there) but never flip
one.  The reason (docs/model.md §9): with second-order norms a donor's next reputation is worth
the same to the learner whoever the donor is.  The regime shipped instead, ``hybrid-standing``,
adds agents whose cooperation depends on their own reputation (``candidates_standing``).

Usage: ``python benchmarks/find_measurable_regimes.py [--quick]``; prints one line per
population (payoff, measurable action/signal, the reference tables' strict entries) and
the qualifying ones at the end.
"""

from __future__ import annotations

import argparse
import itertools
import time

from recigrad.evaluation.best_response import best_response
from recigrad.evaluation.metrics import collapse_measurable
from recigrad.game import Game
from recigrad.game.population import parse_pop

SECOND = ("image-scoring", "simple-standing", "stern-judging", "shunning")
EIGHT = tuple(f"L{i}" for i in range(1, 9))


def candidates(quick: bool):
    """(label, --pop specs, Game) triples, N = 8 (one learner + 7 fixed agents)."""
    plain = Game()
    # one group of 7
    for norm in SECOND + EIGHT:
        yield f"disc:{norm}", ["learner:stern-judging:1", f"disc:{norm}:7"], plain
    for norm in ("L1", "L2"):
        yield f"norm:{norm}", ["learner:stern-judging:1", f"norm:{norm}:7"], plain
    # two groups: discriminators + unconditional agents / own-reputation-dependent agents
    for norm in SECOND + (() if quick else EIGHT):
        for other, (n1, n2) in itertools.product(("alld", "allc"), ((5, 2), (4, 3))):
            yield f"disc:{norm}x{n1}+{other}x{n2}", ["learner:stern-judging:1", f"disc:{norm}:{n1}", f"{other}:{norm}:{n2}"], plain
    for norm in ("L1", "L2"):
        for other in ("disc", "alld", "allc"):
            yield f"norm:{norm}x4+{other}:{norm}x3", ["learner:stern-judging:1", f"norm:{norm}:4", f"{other}:{norm}:3"], plain
    # own-reputation-dependent agents (L1/L2 action rule) among discriminators of each norm
    for norm in SECOND + (() if quick else EIGHT):
        for rule, n1 in itertools.product(("L1", "L2"), (5, 4, 3)):
            specs = ["learner:stern-judging:1", f"disc:{norm}:{n1}", f"norm:{rule}:{7 - n1}"]
            yield f"disc:{norm}x{n1}+norm:{rule}x{7 - n1}", specs, plain
    # assessors that pull opposite ways (want recipients bad / good), every ratio through the tipping point,
    # with and without agents whose action depends on their own reputation or who never condition
    for a in ("stern-judging", "simple-standing", "L1"):
        for n in range(1, 7):
            yield f"disc:{a}x{n}+disc:shunningx{7 - n}", ["learner:stern-judging:1", f"disc:{a}:{n}", f"disc:shunning:{7 - n}"], plain
    for n, third in itertools.product((3, 4), ("norm:L1", "alld:shunning", "allc:shunning")):
        kind = third.split(":")[0]
        yield (f"disc:stern-judgingx{n}+disc:shunningx{5 - n}+{kind}x2",
               ["learner:stern-judging:1", f"disc:stern-judging:{n}", f"disc:shunning:{5 - n}", f"{third}:2"], plain)
    # mixed assessors
    for a, b in itertools.combinations(SECOND + (() if quick else EIGHT), 2):
        for n1 in (4, 3) if not quick else (4,):
            yield f"disc:{a}x{n1}+disc:{b}x{7 - n1}", ["learner:stern-judging:1", f"disc:{a}:{n1}", f"disc:{b}:{7 - n1}"], plain
    # formation rules on single-norm discriminators
    games = {
        "k3-majority": Game(observers=3, aggregation="majority"),
        "k3-quorum1": Game(observers=3, aggregation="quorum", quorum=1),
        "k3-quorum2": Game(observers=3, aggregation="quorum", quorum=2),
        "k3-quorum3": Game(observers=3, aggregation="quorum", quorum=3),
        "k2-quorum2": Game(observers=2, aggregation="quorum", quorum=2),
        "perception0.05": Game(perception_error=0.05),
        "no-recipient": Game(recipient_observes=False),
    }
    for (gname, game), norm in itertools.product(games.items(), SECOND + ("L1", "L2")):
        yield f"disc:{norm} {gname}", ["learner:stern-judging:1", f"disc:{norm}:7"], game
        for other in ("alld", "allc"):
            yield f"disc:{norm}x5+{other}x2 {gname}", ["learner:stern-judging:1", f"disc:{norm}:5", f"{other}:{norm}:2"], game


def candidates_standing():
    """Stern-judging discriminators mixed with stern judges who cooperate only while themselves good
    (``hybrid-standing`` is the 4 + 3 one)."""
    for n1 in (5, 4, 3):
        yield (f"disc:stern-judgingx{n1}+sj-good-standingx{7 - n1}",
               ["learner:stern-judging:1", f"disc:stern-judging:{n1}", f"norm:1001/1000:{7 - n1}"], Game())


def strict_entries(head, strict) -> str:
    return "".join(("1" if v > 0.5 else "0") if s else "." for v, s in zip(head.flatten().tolist(), strict.flatten().tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller candidate list")
    args = parser.parse_args()
    found, start = [], time.perf_counter()
    for label, specs, game in itertools.chain(candidates(args.quick), candidates_standing()):
        population = parse_pop(specs)
        act, sig = population.batched_tables(1)
        ref = best_response(act, sig, 0, game)
        m_act, m_sig = (bool(x[0]) for x in collapse_measurable(ref))
        line = (f"{label:48s} payoff {float(ref.payoff[0]):7.4f}  measurable act {m_act!s:5} sig {m_sig!s:5}"
                f"  act {strict_entries(ref.act[0], ref.strict_act[0])}  sig {strict_entries(ref.sig[0], ref.strict_sig[0])}")
        print(line, flush=True)
        if m_act and m_sig:
            found.append(line)
    print(f"\n{len(found)} populations measurable in both heads ({time.perf_counter() - start:.0f} s):")
    for line in found:
        print(line)


if __name__ == "__main__":
    main()
