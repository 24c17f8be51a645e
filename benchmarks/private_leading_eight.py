"""The leading eight under private assessment (issue 14, README "Private assessment and gossip").

Homogeneous populations of each norm L1..L8 (``norm:LK:N``: the norm's own action rule), every agent
keeping its own views (docs/model.md §1, "Private assessment: one interaction"), against the same
game with public reputations (one observer per interaction, observed with the same probability ``q``
and the same perception error).  Protocol: seeds ``0..S-1`` (one population each), from everyone good,
a burn-in of ``--burn-in`` rounds then ``--rounds`` counted rounds (a round is ``N`` interactions);
each figure is the mean over the seeds of a population's time average, ``± SE`` the standard error
between seeds.  Defaults: ``N = 50``, ``q = 0.9``, perception error 0.05, ``e = mu = 0.01``,
``b = 5``, ``c = 1``, uniform schedule, no gossip, 10 seeds, 200 + 2000 rounds.

Usage: ``python benchmarks/private_leading_eight.py [--n 50] [--seeds 10] [--rounds 2000]
[--burn-in 200] [--schedule uniform|permutation] [--gossip 0] [--markdown]``; prints one row per norm.
"""

from __future__ import annotations

import argparse
import time

from private_protocol import add_protocol_arguments, mean_se
from recigrad.dynamics import private, world
from recigrad.evaluation import private_measures as measures
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    add_protocol_arguments(parser, seeds=10, rounds=2000)
    parser.add_argument("--schedule", default="uniform", choices=("uniform", "permutation"))
    parser.add_argument("--gossip", type=float, default=0.0)
    parser.add_argument("--markdown", action="store_true", help="print the README's table")
    args = parser.parse_args()
    n, seeds = args.n, list(range(args.seeds))
    game = Game(e=args.e, mu=args.mu, observation=args.q, perception_error=args.perception_error, assessment="private",
                schedule=args.schedule, gossip=args.gossip)
    public_game = Game(e=args.e, mu=args.mu, observation=args.q, perception_error=args.perception_error)
    print(f"N = {n}, q = {args.q:g}, perception error {args.perception_error:g}, e = {args.e:g}, mu = {args.mu:g}, "
          f"b = {game.b:g}, c = {game.c:g}, schedule {args.schedule}, gossip {args.gossip:g}; seeds 0..{len(seeds) - 1}, "
          f"burn-in {args.burn_in} rounds, {args.rounds} counted rounds ({args.rounds * n} interactions) per seed")
    if args.markdown:
        print("| norm | cooperation (private) | good views | agreement | cooperation (public) | good (public) |")
        print("| --- | --- | --- | --- | --- | --- |")
    start = time.perf_counter()
    for k in range(1, 9):
        act, sig = parse_pop([f"norm:L{k}:{n}"]).batched_tables(len(seeds))
        tally, _ = private.simulate(act, sig, seeds, args.rounds * n, game, burn_in=args.burn_in * n)
        pc, so = observable(act, sig, public_game)
        public, _ = world.simulate(pc, so, seeds, args.rounds * n, burn_in=args.burn_in * n, game=public_game)
        cells = [mean_se(measures.cooperation(tally)), mean_se(measures.good_views(tally)), mean_se(measures.agreement(tally)),
                 mean_se(public.given.sum(1) / public.interactions), mean_se(public.good_fraction().mean(1))]
        text = [f"{m:.3f} ± {s:.4f}" for m, s in cells]
        print(f"| L{k} | " + " | ".join(text) + " |" if args.markdown else f"L{k}: private cooperation {text[0]}, good views "
              f"{text[1]}, agreement {text[2]}; public cooperation {text[3]}, good {text[4]}", flush=True)
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
