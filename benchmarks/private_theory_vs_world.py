"""The theory of private views against the world itself (issue 14; docs/model.md §3 "Private views:
the mean field", §4 "The exact chain of private views").

Homogeneous populations of each leading-eight norm (``norm:LK:N``: the norm's own action rule; L6 is
stern judging, L3 simple standing), ``q = 0.9``, perception error 0.05, ``e = mu = 0.01``, ``b = 5``,
``c = 1``, uniform schedule (the theory's; ``--schedule permutation`` plays the world under the
permutation schedule against the same uniform-schedule theory), no gossip, everyone good at the start.
The world (``recigrad.dynamics.private``): ``S`` populations of seeds ``100000 N + 1000 k + 0..S-1``
for the ``k``-th norm of ``--norms`` (so no two rows share random numbers), a burn-in of ``--burn-in`` rounds then
``--rounds`` counted rounds (a round is ``N`` interactions); each world figure is the mean over the
populations of a population's time average, ``(se)`` the standard error between them.  Against it:

- ``N = 4``: the exact chain (``recigrad.dynamics.private_exact``) and the mean field with pairs;
- ``N = 8``: the mean field with pairs and without;
- ``N = 16, 32``: the mean field without pairs (``recigrad.dynamics.private_meanfield``, ``pairs=False``).

Per row: cooperation (realised C per donation), the share of good views of others and the agreement
(two agents hold the same view of a third), theory / world (se), and the largest absolute gap of the
three; ``z`` is that gap over the world's standard error of the same measure.

Usage: ``python benchmarks/private_theory_vs_world.py [--n 4 8 16 32] [--norms L1 ...] [--seeds 16]
[--rounds 2000] [--burn-in 200] [--schedule uniform|permutation]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from private_protocol import add_protocol_arguments, mean_se
from recigrad.dynamics import private, private_exact, private_meanfield
from recigrad.evaluation import private_measures as measures
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop

MEASURES = ("cooperation", "good_views", "agreement")



def models(n: int) -> list[tuple[str, object]]:
    """The theories run at ``N``: (label, solver of ``(pc, so, game)``)."""
    out = []
    if n <= private_exact.MAX_N:
        out.append(("exact chain", private_exact.solve))
    if n <= private_meanfield.MAX_N_PAIRS:
        out.append(("mean field, pairs", private_meanfield.solve))
    if n >= 8 and n <= private_meanfield.MAX_N:
        out.append(("mean field, no pairs", lambda pc, so, game: private_meanfield.solve(pc, so, game, pairs=False)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[4, 8, 16, 32])
    parser.add_argument("--norms", nargs="*", default=[f"L{k}" for k in range(1, 9)])
    add_protocol_arguments(parser, seeds=16, rounds=2000)
    parser.add_argument("--schedule", default="uniform", choices=("uniform", "permutation"),
                        help="the world's schedule (the theory's is uniform)")
    args = parser.parse_args()
    game = Game(e=args.e, mu=args.mu, observation=args.q, perception_error=args.perception_error, assessment="private")
    print(f"q = {args.q:g}, perception error {args.perception_error:g}, e = {args.e:g}, mu = {args.mu:g}, b = {game.b:g}, "
          f"c = {game.c:g}, no gossip, everyone good at the start; world: {args.schedule} schedule, {args.seeds} seeds, "
          f"burn-in {args.burn_in} rounds, {args.rounds} counted rounds per seed")
    worst: dict[tuple[int, str], tuple[float, str]] = {}
    start = time.perf_counter()
    for n in args.n:
        print(f"\nN = {n}: theory / world (se)")
        print("| norm | model | cooperation | good views | agreement | largest gap | z | seconds |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for k, norm in enumerate(args.norms, start=1):
            seeds = [100_000 * n + 1000 * k + s for s in range(args.seeds)]
            act, sig = parse_pop([f"norm:{norm}:{n}"]).batched_tables(len(seeds))
            clock = time.perf_counter()
            played = replace(game, schedule=args.schedule)
            tally, _ = private.simulate(act, sig, seeds, args.rounds * n, played, burn_in=args.burn_in * n)
            world = {key: mean_se(getattr(measures, key)(tally)) for key in MEASURES}
            world_seconds = time.perf_counter() - clock
            pc, so = observable(act[:1], sig[:1], game)
            for label, solver in models(n):
                clock = time.perf_counter()
                sol = solver(pc, so, game)
                seconds = time.perf_counter() - clock
                theory = {key: float(getattr(sol, key)[0]) for key in MEASURES}
                gaps = {key: abs(theory[key] - world[key][0]) for key in MEASURES}
                key = max(gaps, key=gaps.get)
                z = gaps[key] / max(world[key][1], 1e-12)
                cells = [f"{theory[k]:.4f} / {world[k][0]:.4f} ({world[k][1]:.4f})" for k in MEASURES]
                print(f"| {norm} | {label} | " + " | ".join(cells) + f" | {gaps[key]:.4f} ({key}) | {z:.1f} | "
                      f"{seconds:.1f} + world {world_seconds:.1f} |", flush=True)
                worst_key = (n, label)
                if gaps[key] > worst.get(worst_key, (-1.0, ""))[0]:
                    worst[worst_key] = (gaps[key], f"{norm} {key}")
    print("\nlargest gap per N and model (norm, measure):")
    for (n, label), (gap, where) in worst.items():
        print(f"N = {n}, {label}: {gap:.4f} ({where})")
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
