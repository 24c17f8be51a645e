"""The ``recigrad`` command line (docs/model.md §10).

Every command prints a readable table, or with ``--json`` one JSON object of
figures on stdout (standard JSON: no NaN or Infinity).  Bad input gets one line on
stderr (``recigrad: error: ...``) and exit status 2, before any work starts; so do
output folders that are not safe to write (``recigrad.running.outdir``) and requests
larger than ``--max-memory`` (``recigrad.running.budget``).  An error of the system
during the work (a full disk) gets one line and exit status 1; a closed stdout pipe
(``recigrad ... | head``) ends the command quietly with exit status 141 (128 + SIGPIPE).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, replace

import torch

from recigrad.dynamics import kernel
from recigrad.dynamics.exact import MAX_N
from recigrad.dynamics.world import simulate
from recigrad.evaluation import evaluate
from recigrad.game import ConfigError, Game, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import (
    COMPONENTS,
    MODELS,
    Regime,
    TrainConfig,
    load_config,
    load_norms,
    load_regime,
    regime_names,
    require_learner,
)
from recigrad.game.rules import AGGREGATIONS, ASSESSMENTS, SCHEDULES
from recigrad.learning.contract import METHODS
from recigrad.running import budget, outdir
from recigrad.running.suite import QUICK_REGIMES
from recigrad.util import device as devices
from recigrad.util import threads
from recigrad.util.progress import progress_bar
from recigrad.util.text import table


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + line
        raise ConfigError(message)


def _int_at_least(minimum: int, words: str, maximum: int = 10**12):
    """An argparse type: an integer of at least ``minimum`` and at most ``maximum``, in ASCII digits."""

    def parse(text: str) -> int:
        shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
        if not (len(text) <= 40 and re.fullmatch(r"\s*[+-]?[0-9]+\s*", text, re.ASCII)):
            raise argparse.ArgumentTypeError(f"expected a {words} integer, got {shown}")
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {words} integer, got {shown}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected a {words} integer at most {maximum:,}, got {shown}")
        return value

    return parse


_positive_int = _int_at_least(1, "positive")
_nonnegative_int = _int_at_least(0, "non-negative")
_seed = _int_at_least(0, "non-negative", 2**62)
_count = _int_at_least(1, "positive", budget.MAX_BATCH)  # populations: --batch, --seeds


def _finite_float(text: str) -> float:
    """An argparse type: a finite real number written in ASCII."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
        raise argparse.ArgumentTypeError(f"invalid float value: {shown} (expected a finite number)")
    return value


def _boolean(text: str) -> bool:
    """An argparse type: ``true`` or ``false``."""
    if text.strip().lower() not in ("true", "false"):
        shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
        raise argparse.ArgumentTypeError(f"expected true or false, got {shown}")
    return text.strip().lower() == "true"


def _memory(text: str) -> int:
    try:
        return budget.parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_population_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--regime", help=f"a shipped regime: {', '.join(regime_names())}")
    p.add_argument("--config", help="a regime TOML file")
    p.add_argument("--pop", action="append", default=[], metavar="KIND:NORM:COUNT",
                   help="agents, repeatable, in order; NORM: a shipped norm, rule-0..rule-15, bits such as 10111010/1011 "
                        "(assessment/action), a name from --norms; learner:NORM:1 warm-starts at NORM, "
                        "learner:random:1 starts from random logits")
    p.add_argument("--norms", default=None, metavar="FILE", help="a TOML file whose [norms.NAME] tables --pop may name")
    p.add_argument("-b", type=_finite_float, default=None, help="benefit (default 5, or the regime's)")
    p.add_argument("-c", type=_finite_float, default=None, help="cost (default 1, or the regime's)")
    p.add_argument("--e", type=_finite_float, default=None, help="execution error (default 0.01, or the regime's)")
    p.add_argument("--mu", type=_finite_float, default=None, help="assessment error (default 0.01, or the regime's)")
    p.add_argument("--observers", type=_positive_int, default=None, metavar="K",
                   help="observers per observed interaction (default 1, or the regime's)")
    p.add_argument("--aggregation", default=None, choices=AGGREGATIONS,
                   help="how the K signals make the new reputation: single (K = 1), majority (a tie keeps the old one), quorum")
    p.add_argument("--quorum", type=_positive_int, default=None, metavar="Q",
                   help="with --aggregation quorum: good iff >= Q good signals")
    p.add_argument("--observation", type=_finite_float, default=None, metavar="Q",
                   help="probability that an interaction is observed at all (default 1)")
    p.add_argument("--perception-error", type=_finite_float, default=None, metavar="EPS",
                   help="probability that an observer perceives the realised action flipped (default 0)")
    p.add_argument("--recipient-observes", type=_boolean, default=None, metavar="true|false",
                   help="whether the recipient may be drawn as an observer (default true)")
    p.add_argument("--assessment", default=None, choices=ASSESSMENTS,
                   help="public reputations (default) or private views, one per agent pair")
    p.add_argument("--initial-good", type=_finite_float, default=None, metavar="P",
                   help="private: probability that each initial view is good (default 1)")
    p.add_argument("--schedule", default=None, choices=SCHEDULES,
                   help="private: uniform random donor and recipient (default), or permutation rounds")
    p.add_argument("--gossip", type=_finite_float, default=None, metavar="RATE",
                   help="private: gossip events per interaction (default 0)")
    p.add_argument("--gossip-trust", type=_finite_float, default=None, metavar="P",
                   help="private: probability that a listener adopts the view it is told (default 1)")


def _add_output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object of figures on stdout")
    p.add_argument("--max-memory", type=_memory, default=None, metavar="SIZE",
                   help="refuse work estimated to need more memory (e.g. 4G, 512M; default half of the machine's RAM)")


def _add_durable_flags(p: argparse.ArgumentParser, where: str) -> None:
    p.add_argument("--resume", action="store_true", help=f"continue an interrupted run from its checkpoint in {where}")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a previous recigrad folder at OUT (only its own files), or discard its checkpoint")
    p.add_argument("--checkpoint-every", type=_nonnegative_int, default=None,
                   help="iterations between checkpoints (default 25, and every 60 s; 0: only at SIGINT)")


def _add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, metavar="cpu|cuda[:N]",
                   help="where the learners, their models and the baselines compute (default: RECIGRAD_DEVICE, else cpu); "
                        "the world and the evaluation stay on the CPU")


def _add_tensorboard_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write TensorBoard scalars into DIR (a new folder; needs the tensorboard extra)")


@contextmanager
def _scalars(args: argparse.Namespace, out: str):
    """The TensorBoard writer of ``--tensorboard`` (``recigrad.running.tensorboard``), or ``None``;
    its folder is claimed before any work, and nothing of TensorBoard is imported without the flag."""
    if args.tensorboard is None:
        yield None
        return
    from recigrad.running import tensorboard

    tensorboard.check_apart(args.tensorboard, out)
    with tensorboard.open_folder(args.tensorboard, overwrite=args.overwrite, resume=args.resume) as scalars:
        yield scalars


def _interrupted(err: KeyboardInterrupt, command: str, out: str) -> KeyboardInterrupt:
    """The one-line message of an interrupted run, with the command that resumes it."""
    argv = [a for a in sys.argv[1:] if a != "--resume"] if sys.argv[1:2] == [command] else [command, "..."]
    if "--out" not in argv and not any(a.startswith("--out=") for a in argv):
        argv += ["--out", out]
    return KeyboardInterrupt(f"{err}; resume with: recigrad {shlex.join(argv)} --resume")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recigrad", description="Learning in indirect-reciprocity games with communication.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("simulate", help="run the game; per-agent payoff per round and fraction of time good")
    _add_population_flags(p)
    p.add_argument("--interactions", type=_positive_int, default=100_000, help="counted interactions per population")
    p.add_argument("--burn-in", type=_nonnegative_int, default=1_000, help="interactions played before counting")
    p.add_argument("--batch", type=_count, default=1, help="independent populations, seeds SEED..SEED+BATCH-1")
    p.add_argument("--seed", type=_seed, default=0)
    _add_output_flags(p)
    p.set_defaults(run=cmd_simulate)

    p = sub.add_parser("exact", help="exact chain (N <= 12) and mean-field answers for the same population")
    _add_population_flags(p)
    _add_output_flags(p)
    p.set_defaults(run=cmd_exact)

    p = sub.add_parser("reference", help="best tables and payoff of the first learner against the others' fixed tables")
    _add_population_flags(p)
    p.add_argument("--order", type=int, choices=(2, 3), default=3, help="2: tables ignoring own/donor reputation")
    p.add_argument("--model", choices=("auto", "exact", "meanfield"), default="auto", help="auto: exact for N <= 12")
    _add_output_flags(p)
    p.set_defaults(run=cmd_reference)

    p = sub.add_parser("train", help="train one method on one regime, several seeds at once; writes a run folder")
    _add_population_flags(p)
    p.add_argument("--method", choices=sorted(METHODS), default="rg", help="rg: the reciprocity gradient")
    p.add_argument("--seeds", type=_count, default=5, help="number of seeds, trained together")
    p.add_argument("--seed", type=_seed, default=0, help="first seed")
    p.add_argument("--iterations", type=_positive_int, default=None, help="default: the regime's train.iterations")
    p.add_argument("--interactions", type=_positive_int, default=None, help="interactions per iteration")
    p.add_argument("--lr", type=_finite_float, default=None, help="learning rate")
    p.add_argument("--components", choices=COMPONENTS, default=None, help="which tables learn")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="the learner's model of the chain (default auto: exact when several observers vote and N <= 10)")
    p.add_argument("--out", default=None, help="run folder (default runs/REGIME-METHOD-TIME)")
    p.add_argument("--baseline-settings", default=None, metavar="FILE",
                   help="a baseline's settings from a tuning result (recigrad tune --out FILE)")
    _add_durable_flags(p, "OUT.partial")
    _add_tensorboard_flag(p)
    _add_device_flag(p)
    _add_output_flags(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("tune", help="tune a baseline for any population over its recorded grid; writes a tuning result")
    _add_population_flags(p)
    p.add_argument("--method", required=True, help="a baseline with a grid recorded in tuned.json (reinforce, ppo, ...)")
    p.add_argument("--seeds", type=_count, default=3, help="tuning seeds per setting, trained together (default 3)")
    p.add_argument("--seed", type=_seed, default=100, help="first tuning seed (default 100; evaluations use 0-4)")
    p.add_argument("--iterations", type=_positive_int, default=None, help="default: the population's train.iterations")
    p.add_argument("--interactions", type=_positive_int, default=None, help="interactions per iteration")
    p.add_argument("--out", required=True, metavar="FILE", help="the tuning result (JSON; a new file, or one recigrad "
                   "tune wrote, with --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous tuning result at OUT")
    _add_device_flag(p)
    _add_output_flags(p)
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("bench", help="the benchmark suite: methods x regimes x seeds; a table and a report folder")
    p.add_argument("--regimes", default=None, help="comma-separated regime names (default: the whole suite)")
    p.add_argument("--methods", default=None, help="comma-separated methods (default: "
                   f"{','.join(m for m in METHODS if not m.startswith('sb3-'))}; --quick: and sb3-ppo; other sb3-* when named)")
    p.add_argument("--seeds", type=_count, default=5, help="number of seeds per (regime, method)")
    p.add_argument("--seed", type=_seed, default=0, help="first seed")
    p.add_argument("--quick", action="store_true", help="the quick suite: " + ", ".join(QUICK_REGIMES)
                   + "; sb3-ppo (extra sb3) on discriminative-sh only")
    p.add_argument("--iterations", type=_positive_int, default=None, help="default: each regime's train.iterations")
    p.add_argument("--out", default=None, help="report folder (default reports/bench-TIME)")
    _add_durable_flags(p, "OUT.partial")
    _add_tensorboard_flag(p)
    p.add_argument("--backend", choices=("local", "ray", "processes"), default="local",
                   help="local: in this process; ray: (regime, method, seed block) jobs as Ray tasks; "
                        "processes: the same jobs in --workers processes of this machine")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="--backend processes: jobs side by side (default: the machine's cores)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--num-cpus", type=_positive_int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--seed-block", type=_positive_int, default=None,
                   help="seeds per job of --backend ray or processes (default: all seeds of a (regime, method) in one job; "
                        "processes: one seed per job for the sb3 methods)")
    p.add_argument("--suite", choices=("standard", "scaling"), default="standard",
                   help="scaling: the study across N (one learner among N - 1 fixed agents; societies with NashConv)")
    p.add_argument("--ns", type=_sizes, default=None, help="scaling: comma-separated N (default 8,16,32,64,128)")
    p.add_argument("--society-ns", type=_sizes, default=None, help="scaling: N of the societies (default 8,32)")
    _add_device_flag(p)
    _add_output_flags(p)
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("sweep", help="one command over a grid of game and training settings; a results.csv")
    _add_population_flags(p)
    p.add_argument("--command", dest="sweep_command", choices=("train", "exact", "simulate", "reference"), default=None,
                   help="what each cell runs (default train, or the config's [sweep] command)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="values of one key, repeatable: b, c, e, mu (or benefit, cost, execution_error, "
                        "assessment_error), lr, interactions, iterations")
    p.add_argument("--method", choices=sorted(METHODS), default=None, help="train's method (default rg)")
    p.add_argument("--seeds", type=_count, default=None, help="seeds per cell (default 1, or the config's)")
    p.add_argument("--seed", type=_seed, default=None, help="first seed (default 0)")
    p.add_argument("--iterations", type=_positive_int, default=None, help="train: iterations of every cell")
    p.add_argument("--interactions", type=_positive_int, default=None,
                   help="train: interactions per iteration; simulate: counted interactions (default 100000)")
    p.add_argument("--lr", type=_finite_float, default=None, help="train: learning rate")
    p.add_argument("--burn-in", type=_nonnegative_int, default=1_000, help="simulate: interactions before counting")
    p.add_argument("--out", default=None, help="sweep folder (default sweeps/REGIME-COMMAND-TIME)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep: finished cells are kept in OUT.partial")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a previous recigrad sweep folder at OUT (only its own files), or discard its cells")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: on this machine (see --workers); ray: a Ray task per cell")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="local backend: processes running cells side by side (default: the machine's cores; 1: in this process)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--num-cpus", type=_positive_int, default=None, help="CPUs of the local Ray (default: all)")
    _add_output_flags(p)
    p.set_defaults(run=cmd_sweep)
    return parser


def resolve(args: argparse.Namespace) -> Regime:
    """The regime named by ``--regime``/``--config``, or built from ``--pop``;
    game flags override the regime's game."""
    given = [flag for flag, value in (("--regime", args.regime), ("--config", args.config), ("--pop", args.pop)) if value]
    if len(given) > 1:
        raise ConfigError(f"give one of --regime, --config or --pop, not {' and '.join(given)}")
    if args.norms and not args.pop:
        raise ConfigError("--norms FILE names norms for --pop; a --config file gives its own [norms.NAME] tables")
    if args.regime:
        regime = load_regime(args.regime)
    elif args.config:
        regime = load_config(args.config)
    else:
        regime = Regime("custom", "", Game(), parse_pop(args.pop, load_norms(args.norms) if args.norms else None))
    flags = (("b", args.b), ("c", args.c), ("e", args.e), ("mu", args.mu), ("observers", args.observers),
             ("aggregation", args.aggregation), ("quorum", args.quorum), ("observation", args.observation),
             ("perception_error", args.perception_error), ("recipient_observes", args.recipient_observes),
             ("assessment", args.assessment), ("initial_good", args.initial_good), ("schedule", args.schedule),
             ("gossip", args.gossip), ("gossip_trust", args.gossip_trust))
    overrides = {k: v for k, v in flags if v is not None}
    if overrides:
        regime = replace(regime, game=Game(**{**regime.game.__dict__, **overrides}))
    return regime


def _tables(regime: Regime, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    act, sig = regime.population.batched_tables(batch)
    return observable(act, sig, regime.game)


def _agents(regime: Regime) -> list[dict]:
    """Each agent's kind, norm name, warm-up and tables ``act``/``sig`` (as ``config.json`` records them)."""
    from recigrad.running.checkpoint import regime_dict

    return regime_dict(regime)["agents"]


def _floats(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.tolist()]


def _spans(indices: list[int]) -> str:
    """Agent numbers as ranges: ``0-6,9``."""
    spans: list[list[int]] = []
    for j in indices:
        if spans and spans[-1][1] == j - 1:
            spans[-1][1] = j
        else:
            spans.append([j, j])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _strategy_rows(agents, columns: list[list[float]]) -> tuple[list[str], list[list]]:
    """The per-agent table: one row per agent, or, where agents repeat, one row per distinct
    strategy (kind, norm) with its agents, their count and the mean of each column over them."""
    groups: dict[tuple[str, str], list[int]] = {}
    for j, a in enumerate(agents):
        groups.setdefault((a.kind, str(a.norm)), []).append(j)
    if len(groups) == len(agents):
        return ["agent", "kind", "norm"], [[j, a.kind, a.norm] + [col[j] for col in columns] for j, a in enumerate(agents)]
    rows = [[_spans(members), len(members), kind, norm] + [sum(col[j] for j in members) / len(members) for col in columns]
            for (kind, norm), members in groups.items()]
    return ["agents", "count", "kind", "norm"], rows


def _summary_line(figures: dict, model: str = "") -> str:
    label = f"{model}: " if model else ""
    return f"{label}cooperation {figures['cooperation']:.6g}, welfare {figures['welfare']:.6g} per round (mean payoff of all agents)"


def cmd_simulate(args: argparse.Namespace) -> dict:
    regime = resolve(args)
    game, n = regime.game, regime.population.n
    if game.private:
        return _simulate_private(args, regime)
    budget.require("simulate", budget.simulate_bytes(n, args.batch, game), args.max_memory)
    pc, so = _tables(regime, args.batch)
    seeds = list(range(args.seed, args.seed + args.batch))
    # "seconds" times the simulation, not compilation
    kernel.warm_up(parallel=args.batch >= kernel.PARALLEL_BATCH, formed=not game.plain_formation)
    start = time.perf_counter()
    with progress_bar(total=args.burn_in + args.interactions, desc="simulate", unit="int") as bar:
        tally, _ = simulate(pc, so, seeds, args.interactions, args.burn_in, progress=bar.update,
                            game=game)
    seconds = time.perf_counter() - start
    payoff = tally.payoff_per_round(game.b, game.c)
    good = tally.good_fraction()
    result = {
        "payoff": _floats(payoff.mean(0)),
        "good": _floats(good.mean(0)),
        "interactions": args.interactions * args.batch,
        "seconds": seconds,
        "seeds": seeds,
        "n": n,
        "agents": _agents(regime),
        "game": asdict(game),  # the parameters and how reputations formed (docs/model.md §1)
    }
    # docs/model.md §10: the share of donations realised as C, and the mean payoff of all agents, per population
    cooperation = tally.given.sum(1) / max(tally.interactions, 1)
    welfare = payoff.mean(1)
    result["cooperation"] = float(cooperation.mean())
    result["welfare"] = float(welfare.mean())
    if args.batch > 1:
        result["payoff_se"] = _floats(payoff.std(0) / args.batch**0.5)
        result["good_se"] = _floats(good.std(0) / args.batch**0.5)
        result["cooperation_se"] = float(cooperation.std() / args.batch**0.5)
        result["welfare_se"] = float(welfare.std() / args.batch**0.5)
    if not args.json:
        header, rows = _strategy_rows(regime.population.agents, [result["payoff"], result["good"]])
        print(table(header + ["payoff/round", "good"], rows))
        print(_summary_line(result))
        rate = result["interactions"] / max(seconds, 1e-9)
        print(f"{result['interactions']} interactions in {seconds:.2f} s ({rate:,.0f}/s); b - c = {game.b - game.c:g}")
        if not game.plain_formation:
            print(_formation_line(game))
    return result


def _simulate_private(args: argparse.Namespace, regime: Regime) -> dict:
    """``simulate`` under private assessment (``recigrad.dynamics.private``): payoffs, each agent's
    standing, and the measures of ``recigrad.evaluation.private_measures`` (docs/model.md §10)."""
    from recigrad.dynamics import private
    from recigrad.evaluation import private_measures as measures

    game, n = regime.game, regime.population.n
    budget.require("simulate", budget.BASE_BYTES + private.private_bytes(n, args.batch, game), args.max_memory)
    act, sig = regime.population.batched_tables(args.batch)
    seeds = list(range(args.seed, args.seed + args.batch))
    private.simulate(act, sig, seeds, 1, game)  # compile (or load from numba's cache) before timing
    start = time.perf_counter()
    with progress_bar(total=args.burn_in + args.interactions, desc="simulate", unit="int") as bar:
        tally, _ = private.simulate(act, sig, seeds, args.interactions, game, args.burn_in, progress=bar.update)
    seconds = time.perf_counter() - start
    payoff = tally.payoff_per_round(game.b, game.c)
    good = measures.standing(tally)
    labels = [f"{a.kind}:{a.norm}" for a in regime.population.agents]
    figures = {"cooperation": measures.cooperation(tally), "welfare": payoff.mean(1), "good_views": measures.good_views(tally),
               "agreement": measures.agreement(tally)}
    per_norm = measures.class_cooperation(tally, labels)
    result = {"payoff": _floats(payoff.mean(0)), "good": _floats(good.mean(0)), "interactions": args.interactions * args.batch,
              "seconds": seconds, "seeds": seeds, "n": n, "agents": _agents(regime), "game": asdict(game)}
    result.update({key: float(value.mean()) for key, value in figures.items()})
    result["per_norm"] = {label: {"cooperation": _finite_or_none(value.mean())} for label, value in per_norm.items()}
    if args.batch > 1:
        se = args.batch**0.5
        result["payoff_se"] = _floats(payoff.std(0) / se)
        result["good_se"] = _floats(good.std(0) / se)
        result.update({f"{key}_se": float(value.std() / se) for key, value in figures.items()})
        for label, value in per_norm.items():
            result["per_norm"][label]["cooperation_se"] = _finite_or_none(value.std() / se)
    if not args.json:
        header, rows = _strategy_rows(regime.population.agents, [result["payoff"], result["good"]])
        print(table(header + ["payoff/round", "viewed good"], rows))
        print(_summary_line(result))
        print(f"private views: good {result['good_views']:.6g} (views of others), agreement {result['agreement']:.6g}; "
              f"observed with probability {game.observation:g}, perception error {game.perception_error:g}, "
              f"schedule {game.schedule}, gossip {game.gossip:g} (trust {game.gossip_trust:g})")
        if len(per_norm) > 1:
            print("cooperation by donors of each strategy: "
                  + ", ".join(f"{label} {result['per_norm'][label]['cooperation']:.6g}" for label in per_norm))
        rate = result["interactions"] / max(seconds, 1e-9)
        print(f"{result['interactions']} interactions in {seconds:.2f} s ({rate:,.0f}/s); b - c = {game.b - game.c:g}")
    return result


def _finite_or_none(value: torch.Tensor) -> float | None:
    """A float, or None (JSON null) where it is NaN (a strategy that never donated)."""
    number = float(value)
    return number if math.isfinite(number) else None


def _formation_line(game: Game) -> str:
    """How reputations formed, in one line (``simulate`` in text mode, when not the default)."""
    rule = f"quorum {game.quorum} of {game.observers}" if game.aggregation == "quorum" else game.aggregation
    pool = "everyone but the donor" if game.recipient_observes else "everyone but the donor and the recipient"
    return (f"reputations: {game.observers} observer(s) from {pool}, {rule}; observed with probability "
            f"{game.observation:g}; perception error {game.perception_error:g}")


def cmd_exact(args: argparse.Namespace) -> dict:
    regime = resolve(args)
    game, n = regime.game, regime.population.n
    if game.private:
        return _exact_private(args, regime)
    budget.require("exact", budget.exact_bytes(n), args.max_memory)
    act, sig = regime.population.batched_tables(1)
    result: dict = {"n": n, "agents": _agents(regime)}
    ex, model = evaluate(act, sig, game)  # the exact chain when N <= 12, mean field above
    mf = ex if model == "meanfield" else evaluate(act, sig, game, "meanfield")[0]
    if model == "exact":
        result["exact"] = {"payoff": _floats(ex.payoff[0]), "good": _floats(ex.good[0]),
                           "cooperation": float(ex.cooperation[0]), "welfare": float(ex.payoff[0].mean())}
    result["meanfield"] = {"payoff": _floats(mf.payoff[0]), "good": _floats(mf.good[0]),
                           "cooperation": float(mf.cooperation[0]), "welfare": float(mf.payoff[0].mean())}
    if "exact" in result:
        result["meanfield_error"] = {
            "payoff": float((mf.payoff - ex.payoff).abs().max()),
            "good": float((mf.good - ex.good).abs().max()),
        }
    if not args.json:
        header = []
        columns = []
        if "exact" in result:
            header += ["exact payoff", "exact good"]
            columns += [result["exact"]["payoff"], result["exact"]["good"]]
        header += ["mf payoff", "mf good"]
        columns += [result["meanfield"]["payoff"], result["meanfield"]["good"]]
        first, rows = _strategy_rows(regime.population.agents, columns)
        print(table(first + header, rows))
        for name in ("exact", "meanfield"):
            if name in result:
                print(_summary_line(result[name], name))
        if "exact" not in result:
            print(f"N = {n} > {MAX_N}: exact chain skipped")
    return result


def _exact_private(args: argparse.Namespace, regime: Regime) -> dict:
    """``exact --assessment private`` (docs/model.md §3, §4, private views): the exact chain of views
    for N <= 4 and the mean field (with pairs for N <= 8, without up to 32), with their measures."""
    from recigrad.dynamics import private_exact, private_meanfield

    game, n = regime.game, regime.population.n
    private_exact.check_private(game, n, "exact --assessment private")
    if n > private_meanfield.MAX_N:
        raise ConfigError(f"exact --assessment private needs N <= {private_meanfield.MAX_N} (the exact chain N <= "
                          f"{private_exact.MAX_N}, the mean field above), got N = {n}")
    act, sig = regime.population.batched_tables(1)
    pc, so = observable(act, sig, game)
    agents = regime.population.agents
    result: dict = {"n": n, "agents": _agents(regime), "game": asdict(game)}
    solutions = {}
    if n <= private_exact.MAX_N:
        solutions["exact"] = private_exact.solve(pc, so, game)
    pairs = n <= private_meanfield.MAX_N_PAIRS
    solutions["meanfield"] = private_meanfield.solve(pc, so, game, pairs=pairs)
    for name, sol in solutions.items():
        groups: dict[str, list[int]] = {}
        for j, agent in enumerate(agents):
            groups.setdefault(f"{agent.kind}:{agent.norm}", []).append(j)
        result[name] = {"payoff": _floats(sol.payoff[0]), "good": _floats(sol.good[0]), "given": _floats(sol.given[0]),
                        "cooperation": float(sol.cooperation[0]), "welfare": float(sol.payoff[0].mean()),
                        "good_views": float(sol.good_views[0]), "agreement": float(sol.agreement[0]),
                        "per_norm": {key: float(sol.given[0, members].mean()) for key, members in groups.items()}}
    result["meanfield"]["pairs"] = pairs
    if "exact" in solutions:
        ex, mf = solutions["exact"], solutions["meanfield"]
        result["meanfield_error"] = {"payoff": float((mf.payoff - ex.payoff).abs().max()),
                                     "cooperation": float((mf.cooperation - ex.cooperation).abs().max()),
                                     "good_views": float((mf.good_views - ex.good_views).abs().max()),
                                     "agreement": float((mf.agreement - ex.agreement).abs().max())}
    if not args.json:
        header, columns = [], []
        for name, short in (("exact", "exact"), ("meanfield", "mf")):
            if name in result:
                header += [f"{short} payoff", f"{short} good", f"{short} coop"]
                columns += [result[name]["payoff"], result[name]["good"], result[name]["given"]]
        first, rows = _strategy_rows(agents, columns)
        print(table(first + header, rows))
        for name in ("exact", "meanfield"):
            if name in result:
                figures = result[name]
                per_norm = ", ".join(f"{key} {value:.6g}" for key, value in figures["per_norm"].items())
                print(f"{_summary_line(figures, name)}; good views {figures['good_views']:.6g}, "
                      f"agreement {figures['agreement']:.6g}; cooperation by strategy: {per_norm}")
        if "exact" not in result:
            print(f"N = {n} > {private_exact.MAX_N}: exact chain of private views skipped")
        print(f"private views: observed with probability {game.observation:g}, perception error {game.perception_error:g}, "
              f"initial views good with probability {game.initial_good:g}, gossip {game.gossip:g} (trust {game.gossip_trust:g}); "
              f"mean field {'with' if pairs else 'without'} pairs")
    return result


def cmd_reference(args: argparse.Namespace) -> dict:
    from recigrad.evaluation.best_response import best_response

    regime = resolve(args)
    learner = require_learner(regime.population, "reference")
    budget.require("reference", budget.exact_bytes(regime.population.n), args.max_memory)
    act, sig = regime.population.batched_tables(1)
    start = time.perf_counter()
    ref = best_response(act, sig, learner, regime.game, model=args.model, order=args.order)
    result = {**ref.row(0), "learner": learner, "seconds": time.perf_counter() - start}
    if not args.json:
        print(f"reference of agent {learner} ({ref.model} model, order {args.order}): {result['payoff']:.6f} per round")
        print("action act[x_own][x_rec]   (* strict)")
        for xo in (1, 0):
            cells = [f"{'G' if xo else 'B'}->{'G' if xr else 'B'}: {ref.act[0, xo, xr]:.3g}{'*' if ref.strict_act[0, xo, xr] else ''}"
                     for xr in (1, 0)]
            print("  " + "   ".join(cells))
        print("signal sig[a][x_donor][x_rec]   (* strict)")
        for a in (1, 0):
            cells = [f"{'C' if a else 'D'} {'G' if xd else 'B'}->{'G' if xr else 'B'}: {ref.sig[0, a, xd, xr]:.3g}"
                     f"{'*' if ref.strict_sig[0, a, xd, xr] else ''}" for xd in (1, 0) for xr in (1, 0)]
            print("  " + "   ".join(cells))
    return result


def _check_single_learner(methods: list[str], regimes: list) -> None:
    """Refuse before any work what the sb3 methods' ``start`` would refuse: Stable-Baselines3 missing,
    or a regime without exactly one learner."""
    if any(m.startswith("sb3-") for m in methods):
        from recigrad.learning.baselines import sb3

        for regime in regimes:
            sb3.check(regime)


def cmd_train(args: argparse.Namespace) -> dict:
    from recigrad.running import train

    regime = resolve(args)
    require_learner(regime.population, "train")
    changes = {k: getattr(args, k) for k in ("interactions", "lr", "components", "model", "iterations")}
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        regime = replace(regime, train=TrainConfig(**{**regime.train.__dict__, **changes}))
        if regime.train.model == "exact" and regime.population.n > MAX_N:
            raise ConfigError(f"--model exact needs N <= {MAX_N}, got N = {regime.population.n}; use meanfield")
    out = args.out or f"runs/{regime.name}-{args.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    seeds = list(range(args.seed, args.seed + args.seeds))
    budget.require("train", budget.train_bytes(regime, args.seeds), args.max_memory)
    _check_single_learner([args.method], [regime])
    if regime.game.private:  # before any work: rg only, no --resume (recigrad.running.private_train)
        from recigrad.running import private_train

        private_train.check(regime, args.method, args.resume)
    every = train.CHECKPOINT_EVERY if args.checkpoint_every is None else args.checkpoint_every
    if args.tensorboard is not None:
        from recigrad.running import tensorboard

        tensorboard.require()
    tuning = None
    if args.baseline_settings is not None:
        from recigrad.learning.baselines import settings

        tuning = settings.read_result(args.baseline_settings, args.method)
    with outdir.claim(out, "train", overwrite=args.overwrite, resume=args.resume), _scalars(args, out) as scalars:
        try:
            result = train.run(regime, seeds, method=args.method, out=out, resume=args.resume, checkpoint_every=every,
                               scalars=scalars, tuning=tuning)
        except train.Interrupted as err:
            raise _interrupted(err, "train", out) from None
    result["folder"] = str(out)
    if args.tensorboard is not None:
        result["tensorboard"] = args.tensorboard
    if not args.json:
        print(train.summary_table(result))
        print(f"run folder: {out}")
    return result


def _tunable() -> list[str]:
    from recigrad.running import tune

    return tune.recorded_methods()


def cmd_tune(args: argparse.Namespace) -> dict:
    from recigrad.running import tune

    regime = resolve(args)
    require_learner(regime.population, "tune")
    allowed = _tunable()
    if args.method not in allowed:
        raise ConfigError(f"--method {args.method!r} cannot be tuned; allowed: {', '.join(allowed)}")
    changes = {k: getattr(args, k) for k in ("interactions", "iterations") if getattr(args, k) is not None}
    if changes:
        regime = replace(regime, train=TrainConfig(**{**regime.train.__dict__, **changes}))
    seeds = list(range(args.seed, args.seed + args.seeds))
    budget.require("tune", budget.train_bytes(regime, args.seeds), args.max_memory)
    axes = tune.recorded_grid(args.method)
    with outdir.claim_file(args.out, "recigrad-tuning", overwrite=args.overwrite) as path:
        with progress_bar(len(tune.grid(axes)), f"tune {regime.name} {args.method}", "setting") as bar:
            result = tune.tune(regime, args.method, seeds, axes, progress=lambda row: bar.update(1))
        tune.write(path, result)
    result = {**result, "file": str(args.out)}
    if not args.json:
        keys = list(axes)
        print(table(keys + ["score", "score min", "payoff", "seconds"],
                    [[r[k] for k in keys] + [r["score"], r["score_min"], r["payoff_mean"], r["seconds"]]
                     for r in result["results"]], digits=4))
        kind = result["score_kind"].replace("_", " ")
        print(f"best for {regime.name} ({regime.population.describe()}): "
              f"{', '.join(f'{k}={v}' for k, v in result['best'].items())}, {kind} {result['score']:.4f}; "
              f"written to {args.out} (use: recigrad train ... --method {args.method} --baseline-settings {args.out})")
    return result


def _names(text: str | None, allowed: list[str], flag: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in allowed:
            raise ConfigError(f"{flag}: unknown name {name!r}; allowed: {', '.join(allowed)}")
    if not names:
        raise ConfigError(f"{flag}: give at least one name")
    return names


def _sizes(text: str) -> list[int]:
    """An argparse type: comma-separated population sizes ``N`` (3 to 10000), e.g. ``8,16,32``."""
    parts = [part.strip() for part in text.split(",")] if len(text) <= 200 else []
    if not parts or not all(re.fullmatch(r"[0-9]{1,5}", part, re.ASCII) and 3 <= int(part) <= 10_000 for part in parts):
        shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
        raise argparse.ArgumentTypeError(f"expected comma-separated integers N with 3 <= N <= 10000, got {shown}")
    return sorted({int(part) for part in parts})


def _bench_runs(args: argparse.Namespace, prefix: str) -> tuple[list[str], list[int], str, int]:
    """A bench's methods, seeds, output folder (default ``reports/PREFIX-TIME``) and seeds per Ray task;
    refuses Ray's flags without ``--backend ray`` and TensorBoard with it."""
    from recigrad.running import suite

    default = suite.quick_methods() if args.quick and prefix == "bench" else [m for m in suite.METHOD_ORDER if m in METHODS]
    methods = _names(args.methods, sorted(METHODS), "--methods") or default
    out = args.out or f"reports/{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    seeds = list(range(args.seed, args.seed + args.seeds))
    if args.backend == "local" and (args.address or args.num_cpus or args.seed_block):
        raise ConfigError("--address, --num-cpus and --seed-block need --backend ray (--seed-block: or processes)")
    if args.backend == "processes" and (args.address or args.num_cpus):
        raise ConfigError("--address and --num-cpus need --backend ray")
    if args.workers is not None and args.backend != "processes":
        raise ConfigError("--workers needs --backend processes")
    if args.backend != "local" and not devices.is_cpu(devices.current()):
        raise ConfigError(f"--device {devices.current()} needs --backend local ({args.backend} jobs train on the CPU); "
                          f"allowed with {args.backend}: cpu")
    if args.tensorboard is not None:
        if args.backend != "local":
            raise ConfigError(f"--tensorboard needs --backend local ({args.backend} jobs write no TensorBoard scalars)")
        from recigrad.running import tensorboard

        tensorboard.require()
    block = args.seeds if args.backend == "local" else min(args.seeds, args.seed_block or args.seeds)
    return methods, seeds, out, block


def cmd_bench_scaling(args: argparse.Namespace) -> dict:
    """``bench --suite scaling``: the study across N (``recigrad.running.scaling``)."""
    from recigrad.running import scaling

    study = scaling.QUICK if args.quick else {"ns": scaling.NS, "society_ns": scaling.SOCIETY_NS, "iterations": None}
    bases = _names(args.regimes, regime_names(), "--regimes") or list(scaling.REGIMES + scaling.SOCIETIES)
    methods, seeds, out, block = _bench_runs(args, "scaling")
    ns, society_ns = args.ns or study["ns"], args.society_ns or study["society_ns"]
    iterations = args.iterations or study["iterations"]
    entries = scaling.study(bases, ns, society_ns, iterations)
    budget.require("bench", max(budget.train_bytes(regime, block) for _, _, regime in entries), args.max_memory)
    with outdir.claim(out, "bench", overwrite=args.overwrite, resume=args.resume), _scalars(args, out) as scalars:
        try:
            summary = scaling.run_scaling(bases, methods, seeds, out, ns, society_ns, iterations, resume=args.resume,
                                          checkpoint_every=args.checkpoint_every, backend=args.backend, address=args.address,
                                          num_cpus=args.num_cpus, seed_block=args.seed_block, scalars=scalars,
                                          workers=args.workers)
        except KeyboardInterrupt as err:
            message = str(err) or "interrupted; finished runs are kept"
            raise _interrupted(KeyboardInterrupt(f"{message}; report folder in progress: {out}.partial"), "bench", out) from None
    summary["folder"] = str(out)
    if not args.json:
        print(scaling.summary_table(summary))
        print(f"report folder: {out} (scaling.md, scaling.csv, scaling.png, summary.md, runs.csv)")
    return summary


def cmd_bench(args: argparse.Namespace) -> dict:
    from recigrad.running import report, suite

    if args.suite == "scaling":
        return cmd_bench_scaling(args)
    if args.ns is not None or args.society_ns is not None:
        raise ConfigError("--ns and --society-ns need --suite scaling")
    if args.quick and args.regimes:
        raise ConfigError("give --quick or --regimes, not both")
    regimes = _names(args.regimes, regime_names(), "--regimes") or (
        list(QUICK_REGIMES) if args.quick else suite.suite_regimes())
    methods, seeds, out, block = _bench_runs(args, "bench")
    loaded = [load_regime(name) for name in regimes]
    if args.iterations is not None:  # the same bound as train.iterations in a regime (TrainConfig checks it)
        loaded = [replace(r, train=TrainConfig(**{**r.train.__dict__, "iterations": args.iterations})) for r in loaded]
    pairs = suite.quick_pairs(regimes, methods) if args.quick else None  # sb3 methods on QUICK_ONLY's regimes
    side_by_side = min(args.workers or os.cpu_count() or 1, len(pairs or regimes) * len(methods)) if args.backend == "processes" else 1
    budget.require("bench", side_by_side * max(budget.train_bytes(r, block) for r in loaded), args.max_memory)
    by_name = dict(zip(regimes, loaded))
    for method in methods:
        _check_single_learner([method], [by_name[n] for n in regimes if pairs is None or (n, method) in pairs])
    with outdir.claim(out, "bench", overwrite=args.overwrite, resume=args.resume), _scalars(args, out) as scalars:
        try:
            summary = suite.run_suite(regimes, methods, seeds, out, iterations=args.iterations, resume=args.resume,
                                      checkpoint_every=args.checkpoint_every, backend=args.backend, address=args.address,
                                      num_cpus=args.num_cpus, seed_block=args.seed_block, scalars=scalars,
                                      workers=args.workers, pairs=pairs)
        except KeyboardInterrupt as err:
            message = str(err) or "interrupted; finished runs are kept"
            raise _interrupted(KeyboardInterrupt(f"{message}; report folder in progress: {out}.partial"), "bench", out) from None
    summary["folder"] = str(out)
    if args.tensorboard is not None:
        summary["tensorboard"] = args.tensorboard
    if not args.json:
        print(report.summary_table(summary))
        print(f"report folder: {out} (summary.md, runs.csv, PNGs)")
    return summary


def cmd_sweep(args: argparse.Namespace) -> dict:
    from recigrad.running import sweep as sweeps

    regime = resolve(args)
    table = sweeps.sweep_table(args.config) if args.config else {}
    command = args.sweep_command or table.get("command", "train")
    grid = {sweeps.canonical_key(k, command): v for k, v in table.get("grid", {}).items()}
    grid.update(sweeps.parse_grid(args.grid, command))  # flags override the config's keys
    if args.backend == "local" and (args.address or args.num_cpus):
        raise ConfigError("--address and --num-cpus need --backend ray")
    used = {"train": ("method", "iterations", "lr", "interactions"), "simulate": ("interactions",)}.get(command, ())
    for flag in ("method", "iterations", "lr", "interactions"):
        if getattr(args, flag) is not None and flag not in used:
            raise ConfigError(f"--{flag} is not a setting of sweep --command {command}")
    if command == "train":
        changes = {k: getattr(args, k) for k in ("interactions", "lr", "iterations") if getattr(args, k) is not None}
        if changes:
            regime = replace(regime, train=TrainConfig(**{**regime.train.__dict__, **changes}))
    count = args.seeds or table.get("seeds", 1)
    first = args.seed if args.seed is not None else table.get("seed", 0)
    spec = sweeps.Sweep(regime, command, grid, tuple(range(first, first + count)), args.method or table.get("method", "rg"),
                        interactions=(args.interactions or sweeps.SIMULATE_INTERACTIONS) if command == "simulate"
                        else sweeps.SIMULATE_INTERACTIONS, burn_in=args.burn_in)
    cells = sweeps.check(spec)  # every refusal before any work
    if spec.method not in METHODS:
        raise ConfigError(f"sweep.method = {spec.method!r} is not allowed; allowed: {', '.join(sorted(METHODS))}")
    if args.workers is not None and args.backend != "local":
        raise ConfigError("--workers is for --backend local; Ray places the cells itself")
    workers = min(args.workers or os.cpu_count() or 1, len(cells))  # cells side by side, each needing its own memory
    if command == "train":
        need = max(budget.train_bytes(sweeps.cell_regime(spec, c), count) for c in cells)
    elif command == "simulate":
        need = budget.simulate_bytes(regime.population.n, count, regime.game)
    else:
        need = budget.exact_bytes(regime.population.n)
    budget.require("sweep", workers * need, args.max_memory)
    out = args.out or f"sweeps/{regime.name}-{command}-{time.strftime('%Y%m%d-%H%M%S')}"
    with outdir.claim(out, "sweep", overwrite=args.overwrite, resume=args.resume):  # checked and locked before any work
        try:
            summary = sweeps.run_sweep(spec, out, resume=args.resume, backend=args.backend, address=args.address,
                                       num_cpus=args.num_cpus, workers=workers)
        except KeyboardInterrupt as err:
            message = str(err) or "interrupted; finished cells are kept"
            raise _interrupted(KeyboardInterrupt(f"{message}; sweep in progress: {out}.partial"), "sweep", out) from None
    if not args.json:
        print(sweeps.summary_table(summary["rows"]))
        print(f"{len(cells)} cells x {count} seeds in {summary['seconds']:.1f} s; sweep folder: {out} (results.csv, sweep.json)")
    return {"folder": str(out), "cells": len(cells), "rows": summary["rows"], "seconds": summary["seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        torch.set_num_threads(threads.from_environment())  # RECIGRAD_THREADS, validated; default 1
        args = parser.parse_args(argv)
        device = devices.resolve(args.device) if "device" in args else None  # --device > RECIGRAD_DEVICE > cpu
        with devices.using(device):
            result = args.run(args)
        if args.json:
            try:
                text = json.dumps(result, allow_nan=False)  # standard JSON only
            except ValueError:
                return _error("the result holds a number that is not finite (NaN or infinity); "
                              "not printed as non-standard JSON", 1)
            print(text)
            sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (recigrad ... | head): no traceback, no more output
        _quiet_stdout()
        return 141
    except ConfigError as err:
        return _error(err, 2)
    except KeyboardInterrupt as err:
        print(f"recigrad: {_one_line(str(err)) or 'interrupted'}", file=sys.stderr)
        return 130
    except (OverflowError, RecursionError, MemoryError) as err:  # a number or a structure beyond what the work can hold
        return _error(f"the input is too large ({type(err).__name__}: {_one_line(str(err))})", 2)
    except OSError as err:  # the system refused a file: permission, a full disk, ...
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        return _error(f"{err.strerror or type(err).__name__}{where}", 1)
    return 0


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " ".join(lines)


def _error(err, status: int) -> int:
    """Print one line on stderr; returns ``status``."""
    try:
        print(f"recigrad: error: {_one_line(str(err))}", file=sys.stderr)
    except OSError:
        pass
    return status


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
