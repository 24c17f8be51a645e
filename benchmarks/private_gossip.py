"""Gossip brings private views back together (issue 14, README "Private assessment and gossip").

For each norm and each gossip rate (expected gossip events per interaction, docs/model.md §1 (P3)), a
homogeneous population of ``N`` agents of the norm under private assessment, against the same game
with public reputations (one observer per interaction, observed with probability ``q`` and the same
perception error, where everyone holds the same view: agreement 1).  Protocol as in
``benchmarks/private_leading_eight.py``: seeds ``0..S-1`` (one population each), everyone good at the
start, ``--burn-in`` rounds then ``--rounds`` counted rounds (a round is ``N`` interactions); each figure
is the mean over the seeds of a population's time average, ``± SE`` the standard error between seeds.
Defaults: ``N = 50``, ``q = 0.9``, perception error 0.05, ``e = mu = 0.01``, ``b = 5``, ``c = 1``,
uniform schedule, gossip trust 1, 5 seeds, 200 + 500 rounds; the norms L1, L2, L6 (stern judging) and L8.

Usage: ``python benchmarks/private_gossip.py [--norms L1 L2 L6 L8] [--gossip 0 1 10 100 1000]
[--n 50] [--seeds 5] [--rounds 500] [--burn-in 200] [--trust 1] [--plot PATH] [--markdown]``.
"""

from __future__ import annotations

import argparse
import time

from private_protocol import add_protocol_arguments, mean_se
from recigrad.dynamics import private, world
from recigrad.evaluation import private_measures as measures
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop


def plot(path: str, rows: list[dict], rates: list[float]) -> None:
    """Cooperation and agreement against the gossip rate (symlog axis), one colour per norm; the public
    game's cooperation as a dashed line of the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for k, norm in enumerate(dict.fromkeys(row["norm"] for row in rows)):
        colour = f"C{k}"
        mine = [row for row in rows if row["norm"] == norm]
        x = [row["gossip"] for row in mine]
        left.errorbar(x, [row["cooperation"][0] for row in mine], yerr=[row["cooperation"][1] for row in mine],
                      marker="o", color=colour, label=f"{norm} private")
        left.axhline(mine[0]["public_cooperation"][0], color=colour, linestyle="--", linewidth=1,
                     label=f"{norm} public")
        right.errorbar(x, [row["agreement"][0] for row in mine], yerr=[row["agreement"][1] for row in mine],
                       marker="o", color=colour, label=norm)
    right.axhline(1.0, color="black", linestyle="--", linewidth=1, label="public (1)")
    for axis, title in ((left, "cooperation"), (right, "agreement")):
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_xticks(rates)
        axis.set_xticklabels([f"{r:g}" for r in rates])
        axis.set_xlabel("gossip events per interaction")
        axis.set_title(title)
        axis.set_ylim(0.0, 1.02)
        axis.grid(alpha=0.3)
    left.legend(fontsize=7, ncol=2)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norms", nargs="+", default=["L1", "L2", "L6", "L8"])
    parser.add_argument("--gossip", nargs="+", type=float, default=[0.0, 1.0, 10.0, 100.0, 1000.0])
    parser.add_argument("--n", type=int, default=50)
    add_protocol_arguments(parser, seeds=5, rounds=500)
    parser.add_argument("--trust", type=float, default=1.0, help="gossip trust: probability the listener adopts")
    parser.add_argument("--plot", default=None, help="write the figure here (PNG)")
    parser.add_argument("--markdown", action="store_true", help="print the README's table")
    args = parser.parse_args()
    n, seeds = args.n, list(range(args.seeds))
    print(f"N = {n}, q = {args.q:g}, perception error {args.perception_error:g}, e = {args.e:g}, mu = {args.mu:g}, "
          f"trust {args.trust:g}, uniform schedule; seeds 0..{len(seeds) - 1}, burn-in {args.burn_in} rounds, "
          f"{args.rounds} counted rounds ({args.rounds * n} interactions) per seed")
    if args.markdown:
        print("| norm | gossip | cooperation (private) | agreement | good views | cooperation (public) |")
        print("| --- | --- | --- | --- | --- | --- |")
    start, rows = time.perf_counter(), []
    public_game = Game(e=args.e, mu=args.mu, observation=args.q, perception_error=args.perception_error)
    for norm in args.norms:
        act, sig = parse_pop([f"norm:{norm}:{n}"]).batched_tables(len(seeds))
        pc, so = observable(act, sig, public_game)
        public, _ = world.simulate(pc, so, seeds, args.rounds * n, burn_in=args.burn_in * n, game=public_game)
        public_cooperation = mean_se(public.given.sum(1) / public.interactions)
        for rate in args.gossip:
            game = Game(e=args.e, mu=args.mu, observation=args.q, perception_error=args.perception_error,
                        assessment="private", gossip=rate, gossip_trust=args.trust)
            tally, _ = private.simulate(act, sig, seeds, args.rounds * n, game, burn_in=args.burn_in * n)
            row = {"norm": norm, "gossip": rate, "cooperation": mean_se(measures.cooperation(tally)),
                   "agreement": mean_se(measures.agreement(tally)), "good_views": mean_se(measures.good_views(tally)),
                   "public_cooperation": public_cooperation}
            rows.append(row)
            cells = [row[key] for key in ("cooperation", "agreement", "good_views", "public_cooperation")]
            text = [f"{m:.3f} ± {s:.4f}" for m, s in cells]
            print(f"| {norm} | {rate:g} | " + " | ".join(text) + " |" if args.markdown else
                  f"{norm} gossip {rate:g}: private cooperation {text[0]}, agreement {text[1]}, good views {text[2]}; "
                  f"public cooperation {text[3]}", flush=True)
    if args.plot:
        plot(args.plot, rows, args.gossip)
        print(f"wrote {args.plot}")
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
