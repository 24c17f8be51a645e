"""How far the mean field of private views is from the exact chain (docs/model.md §3, "Private views: the mean field").

For N = 3 and 4, every leading-eight norm (homogeneous, kind ``norm``: each agent acts by its
norm's own rule), q in {1, 0.9, 0.5}, e = mu = 0.01, no perception error, no gossip, all views
initially good, uniform schedule: prints the exact chain's cooperation, share of good views and
agreement (``recigrad.dynamics.private_exact``), and the mean field's errors with pairs and
without (``recigrad.dynamics.private_meanfield``), then the largest errors.

Usage: ``python benchmarks/private_theory_errors.py [--n 3]`` (N = 4 takes a few seconds per
case: 65536 view states).
"""

from __future__ import annotations

import argparse
import time

from recigrad.dynamics import private_exact, private_meanfield
from recigrad.game import Game
from recigrad.game.norms import NORMS
from recigrad.game.population import Agent, Population
from recigrad.game.rules import observable

LEADING_EIGHT = [name for name in NORMS if name.startswith("L")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="*", default=[3, 4])
    parser.add_argument("--q", type=float, nargs="*", default=[1.0, 0.9, 0.5])
    parser.add_argument("--e", type=float, default=0.01)
    parser.add_argument("--mu", type=float, default=0.01)
    parser.add_argument("--perception-error", type=float, default=0.0)
    args = parser.parse_args()
    worst: dict[tuple, float] = {}
    print("N norm q | exact: cooperation good agreement | pairs: errors | no pairs: errors | seconds exact, mf")
    for n in args.n:
        for q in args.q:
            for norm in LEADING_EIGHT:
                game = Game(e=args.e, mu=args.mu, observation=q, perception_error=args.perception_error, assessment="private")
                act, sig = Population(tuple(Agent("norm", norm) for _ in range(n))).batched_tables(1)
                pc, so = observable(act, sig, game)
                start = time.perf_counter()
                ex = private_exact.solve(pc, so, game)
                middle = time.perf_counter()
                line = [f"{n} {norm} {q:g} | {ex.cooperation.item():.5f} {ex.good_views.item():.5f} {ex.agreement.item():.5f}"]
                for pairs in (True, False):
                    mf = private_meanfield.solve(pc, so, game, pairs=pairs)
                    errors = [abs(float(getattr(mf, k)[0]) - float(getattr(ex, k)[0]))
                              for k in ("cooperation", "good_views", "agreement")]
                    errors.append(float((mf.payoff - ex.payoff).abs().max()))
                    for key, value in zip(("cooperation", "good_views", "agreement", "payoff"), errors):
                        worst[(n, q, pairs, key)] = max(worst.get((n, q, pairs, key), 0.0), value)
                    line.append(" ".join(f"{v:.1e}" for v in errors))
                line.append(f"{middle - start:.1f} {time.perf_counter() - middle:.1f}")
                print(" | ".join(line), flush=True)
    print("largest errors (cooperation, good views, agreement, payoff):")
    for n in args.n:
        for q in args.q:
            for pairs in (True, False):
                values = [worst[(n, q, pairs, key)] for key in ("cooperation", "good_views", "agreement", "payoff")]
                print(f"N = {n}, q = {q:g}, {'pairs' if pairs else 'no pairs'}: " + " ".join(f"{v:.2e}" for v in values))


if __name__ == "__main__":
    main()
