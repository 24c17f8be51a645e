"""Time and peak memory of the solvers, one population (batch 1):

- ``recigrad.dynamics.meanfield.solve`` (mean field, docs/model.md §3) for N = 8, 100, 1000,
  10000, on second-order tables (disc + stern-judging: the linear case) and
  third-order tables (the leading-eight norm L1, and uniform random tables:
  Newton's method on the fixed point);
- ``recigrad.dynamics.exact.solve`` (the exact chain on 2^N states, docs/model.md §4) for
  N = 4, 8, 10, 12 on disc + stern-judging;

each forward only (no graph) and forward + backward (the gradient of agent 0's
payoff with respect to all observable tables, as a learner takes it).

Time: median over repeats of wall-clock seconds per call, after one untimed
call that measures the peak memory: the rise of the process's peak resident set size
during that call, read from ``/proc/self/status`` (``VmHWM`` minus ``VmRSS``
before the call, the peak reset through ``/proc/self/clear_refs`` and freed heap
returned with ``malloc_trim`` first): what the call needs beyond its inputs,
tensors and everything else.  Where ``/proc`` is missing it falls back on
``resource.getrusage`` (the rise of the process's all-time maximum, which can
read 0 after a bigger earlier call).

    python benchmarks/model_solve.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import platform
import resource
import statistics
import time

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop

MODEL_N = (8, 100, 1000, 10000)
EXACT_N = (4, 8, 10, 12)
TABLES = ("second-order disc+SJ", "third-order L1", "third-order random")


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover
        return None


LIBC = _libc()


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:  # pragma: no cover
        return None
    return None


def peak_mib(run) -> float:
    """MiB by which one call of ``run`` raises the peak resident set size above the resident size before it."""
    if LIBC is not None and hasattr(LIBC, "malloc_trim"):
        LIBC.malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset VmHWM to the current resident size
        before = _status_kb("VmRSS")
        run()
        return max(0, _status_kb("VmHWM") - before) / 1024
    except (OSError, TypeError):  # pragma: no cover - no /proc: all-time maximum, in KiB on Linux
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tables(kind: str, n: int, game: Game) -> tuple[torch.Tensor, torch.Tensor]:
    """Observable tables ``(1, N, ...)`` of one population."""
    if kind == "third-order random":
        generator = torch.Generator().manual_seed(n)
        act = torch.rand(1, n, 2, 2, generator=generator, dtype=torch.float64)
        sig = torch.rand(1, n, 2, 2, 2, generator=generator, dtype=torch.float64)
    else:
        pop = "norm:L1" if kind == "third-order L1" else "disc:stern-judging"
        act, sig = parse_pop([f"{pop}:{n}"]).batched_tables(1)
    return observable(act, sig, game)


def measure(solve, pc: torch.Tensor, so: torch.Tensor, game: Game, repeats: int) -> dict:
    def forward():
        with torch.no_grad():
            solve(pc, so, game)

    def forward_backward():
        pc_live, so_live = pc.detach().requires_grad_(), so.detach().requires_grad_()
        solution = solve(pc_live, so_live, game)
        solution.payoff[:, 0].sum().backward()

    result = {}
    for name, run in (("forward", forward), ("backward", forward_backward)):
        result[f"{name}_peak_mib"] = peak_mib(run)  # also the warm-up call of the timing
        result[f"{name}_s"] = median_seconds(run, repeats)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~10 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads; default: leave as configured")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    game = Game()
    repeats = 3 if args.quick else 9
    # a warm-up of both solvers, so that loading libraries counts in no measurement
    for solve, n in ((meanfield.solve, 4), (exact.solve, 4)):
        measure(solve, *tables("third-order random", n, game), game, 1)

    rows = []
    for kind in TABLES:
        for n in MODEL_N:
            pc, so = tables(kind, n, game)
            rows.append({"solver": "model", "tables": kind, "n": n, **measure(meanfield.solve, pc, so, game, repeats)})
    for n in EXACT_N:
        exact_repeats = 1 if n >= 12 else (3 if args.quick or n >= 10 else repeats)
        if args.quick and n >= 12:
            continue
        pc, so = tables(TABLES[0], n, game)
        rows.append({"solver": "exact", "tables": TABLES[0], "n": n, **measure(exact.solve, pc, so, game, exact_repeats)})

    meta = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "peak_memory": "rise of VmHWM over VmRSS during one call (/proc/self/status, peak reset via clear_refs)",
    }
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}))
        return
    print(
        f"batch 1; median wall time per call over {repeats} repeats (exact N >= 10: 3, N = 12: 1); "
        f"peak = rise of peak RSS during one call; torch {torch.__version__}, {meta['threads']} threads"
    )
    print(f"{'solver':<6} {'tables':<21} {'N':>6} {'forward':>10} {'peak MiB':>9} {'fwd+bwd':>10} {'peak MiB':>9}")
    for r in rows:
        print(
            f"{r['solver']:<6} {r['tables']:<21} {r['n']:>6} {_seconds(r['forward_s']):>10} "
            f"{r['forward_peak_mib']:>9.1f} {_seconds(r['backward_s']):>10} {r['backward_peak_mib']:>9.1f}"
        )


def _seconds(value: float) -> str:
    if value < 0.9995e-3:
        return f"{value * 1e6:.0f} us"
    if value < 0.9995:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


if __name__ == "__main__":
    main()
