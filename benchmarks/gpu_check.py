"""The GPU check: one script to run on a machine with CUDA (docs/model.md §10, "Devices").

Within about four minutes (``--budget``, default 230 s) it

1. prints the card (``torch.cuda.get_device_name``), torch and its CUDA;
2. runs the CUDA tests (``pytest -q -p no:xdist -k cuda tests/test_device.py``: CUDA against
   CPU for the models, the estimators and short trainings of rg, reinforce, ppo and ppo-mlp);
3. trains ``rg`` and ``reinforce`` briefly on ``discriminative-sh`` on the CPU and on CUDA
   and prints the largest differences of the evaluated figures and of the tables;
4. times seconds per iteration of ``rg`` (``--method``) on the CPU and on CUDA for the single
   learner at N = 1024 and 10000 (``discriminative-sh`` scaled, ``recigrad.game.scaling``) and
   the society at N = 256 and 1024 (``society-L3`` scaled): the median of a few iterations after
   one warm-up iteration, each case in its own process with a time limit (a case that runs out
   of time or memory is reported as such, and the others go on), and the ratio CPU / CUDA.

It writes a JSON summary to ``--out`` and prints a table.  Run from the repository root:

    PYTHONPATH=src python benchmarks/gpu_check.py --out gpu_check.json

(``--budget 420`` leaves more time to the slow CPU cases; ``--case-seconds`` limits each;
``--dry-run`` runs every part without CUDA, the CPU standing in for it, to try the script.)

Without CUDA it still runs (the CUDA parts say "no CUDA"), so it can be tried anywhere.
Needs torch, numpy and numba; pytest and hypothesis for step 2; no gymnasium, Ray,
TensorBoard or Stable-Baselines3.  If tqdm is missing, a silent stand-in is put on the path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RECIGRAD_PROGRESS", "0")
_TQDM_STUB = '''"""A silent stand-in for tqdm (benchmarks/gpu_check.py), for machines without it."""


class tqdm:
    def __init__(self, *args, **kwargs):
        self.n = 0

    def update(self, k=1):
        self.n += k

    def set_postfix_str(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
'''


def _python_path() -> str:
    """``src`` (and a tqdm stand-in where tqdm is missing) ahead of the inherited PYTHONPATH."""
    parts = [str(ROOT / "src")]
    try:
        import tqdm  # noqa: F401
    except ImportError:
        stub = Path(tempfile.mkdtemp(prefix="gpu-check-")) / "tqdm.py"
        stub.write_text(_TQDM_STUB)
        parts.append(str(stub.parent))
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join(parts + ([inherited] if inherited else []))


os.environ["PYTHONPATH"] = _python_path()
for part in reversed(os.environ["PYTHONPATH"].split(os.pathsep)):
    if part and part not in sys.path:
        sys.path.insert(0, part)

import torch  # noqa: E402

BASES = {"single": "discriminative-sh", "society": "society-L3"}
GPU = "cuda"  # the device timed against the CPU; --dry-run sets "cpu" (tries the script's logic without CUDA)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------
# one timing case, in its own process


def child(kind: str, n: int, device: str, method: str, seeds: int, repeats: int, threads: int, seconds: float) -> None:
    """Time ``method`` on the scaled regime; print one JSON line per measurement (so a killed case
    still reports what it measured)."""
    from recigrad.game.regime import load_regime
    from recigrad.game.scaling import scaled_regime
    from recigrad.learning import contract
    from recigrad.util import device as devices

    torch.set_num_threads(threads)
    regime = scaled_regime(load_regime(BASES[kind]), n)
    module = contract.method(method)
    clock = time.perf_counter()
    with devices.using(device):
        state = module.start(regime, list(range(seeds)))
    _sync(device)
    line = {"kind": kind, "n": n, "device": device, "method": method, "seeds": seeds, "threads": threads,
            "learners": len(regime.population.learners), "interactions": regime.train.interactions,
            "start_s": time.perf_counter() - clock, "steps_s": []}
    for k in range(repeats + 1):
        if k and time.perf_counter() - clock > seconds * 0.6:
            break  # the time left would not fit another step
        _sync(device)
        start = time.perf_counter()
        module.step(state)
        _sync(device)
        took = time.perf_counter() - start
        if k == 0:
            line["first_step_s"] = took
        else:
            line["steps_s"].append(took)
        if device.startswith("cuda"):
            line["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1e9
        print(json.dumps(line), flush=True)


def time_case(kind: str, n: int, device: str, args, seconds: float) -> dict:
    """Run one case in a child process for at most ``seconds``; its last line, or why there is none."""
    actual = GPU if device == "cuda" else "cpu"  # the device the child runs on (the CPU in a dry run)
    command = [sys.executable, __file__, "--child", kind, str(n), actual, "--method", args.method, "--seeds",
               str(args.seeds), "--repeats", str(args.repeats), "--cpu-threads", str(args.cpu_threads),
               "--case-seconds", str(seconds)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds, cwd=ROOT)
        output, status, why = done.stdout, done.returncode, None
    except subprocess.TimeoutExpired as err:
        output = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        status, why = None, f"stopped after {seconds:.0f} s"
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    row = {**(lines[-1] if lines else {"kind": kind, "n": n}), "device": device}
    if status not in (0, None):
        tail = [line for line in (done.stderr or "").splitlines() if line.strip()][-1:] if status is not None else []
        why = f"exit {status}" + (f": {tail[0][:200]}" if tail else "")
    if why and "first_step_s" not in row:
        why += " before its first iteration ended"
    if why:
        row["note"] = why
    times = row.get("steps_s") or ([row["first_step_s"]] if "first_step_s" in row else [])
    row["median_s"] = statistics.median(times) if times else None
    if not row.get("steps_s") and times:
        row["note"] = (row.get("note", "") + "; median of the warm-up step only").lstrip("; ")
    return row


# ---------------------------------------------------------------------------
# the parts of the check


def card() -> dict:
    info = {"torch": torch.__version__, "cuda_build": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
            "python": sys.version.split()[0], "cpu_count": os.cpu_count()}
    if info["cuda_available"]:
        info["device_name"] = torch.cuda.get_device_name(0)
        info["device_count"] = torch.cuda.device_count()
        free, total = torch.cuda.mem_get_info()
        info["gpu_memory_gb"] = total / 1e9
    return info


def run_tests(seconds: float, files: list[str]) -> dict:
    """The CUDA tests in a child pytest; its summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-k", "cuda", *files]
    clock = time.perf_counter()
    try:
        environment = {**os.environ, **({"RECIGRAD_TEST_DEVICE": "cpu"} if GPU == "cpu" else {})}
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds, cwd=ROOT, env=environment)
    except subprocess.TimeoutExpired:
        return {"summary": f"stopped after {seconds:.0f} s", "status": None, "seconds": seconds}
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return {"summary": lines[-1] if lines else done.stderr.strip()[-300:], "status": done.returncode,
            "failures": failures[:20], "seconds": time.perf_counter() - clock}


def compare(seconds: float) -> list[dict]:
    """Short trainings on the CPU and on CUDA: the largest differences of the figures and tables."""
    from dataclasses import replace

    from recigrad.game.regime import TrainConfig, load_regime
    from recigrad.running import train
    from recigrad.util import device as devices

    rows = []
    base = load_regime("discriminative-sh")
    reference = train.regime_reference(base)  # the same for every run here (evaluation is on the CPU)
    original, train.regime_reference = train.regime_reference, lambda regime: reference
    try:
        for method, interactions in (("rg", 400), ("reinforce", 1600)):
            clock = time.perf_counter()
            regime = replace(base, train=TrainConfig(**{**base.train.__dict__, "iterations": 5, "interactions": interactions}))
            records = {}
            for device in ("cpu", "cuda"):
                with devices.using(GPU if device == "cuda" else "cpu"):
                    start = time.perf_counter()
                    records[device] = (train.train_seeds(regime, [0, 1, 2, 3], method), time.perf_counter() - start)
            (cpu, cpu_s), (gpu, gpu_s) = records["cpu"], records["cuda"]
            figure = max((abs(a - b) for lc, lg in zip(cpu.curve, gpu.curve) for key, values in lc.items()
                          if key != "seconds" and isinstance(values, list)
                          for a, b in zip(values, lg[key]) if isinstance(a, float) and isinstance(b, float)), default=None)
            table = max(float((torch.tensor(on_cpu[h]) - torch.tensor(on_gpu[h])).abs().max())
                        for on_cpu, on_gpu in zip(cpu.tables["runs"], gpu.tables["runs"]) for h in ("act", "sig"))
            payoffs = [[r["payoff"] for r in record.result["runs"]] for record in (cpu, gpu)]
            rows.append({"method": method, "iterations": 5, "seeds": 4, "max_figure_diff": figure, "max_table_diff": table,
                         "payoff_cpu": payoffs[0], "payoff_cuda": payoffs[1], "cpu_s": cpu_s, "cuda_s": gpu_s})
            if time.perf_counter() - clock > seconds:
                break
    finally:
        train.regime_reference = original
    return rows


def timings(args, deadline: float) -> list[dict]:
    rows = []
    devices = ["cuda", "cpu"] if torch.cuda.is_available() or GPU == "cpu" else ["cpu"]
    # the smallest single learner first, then the societies, then the larger single learners
    sizes = [("single", n) for n in args.single_ns[:1]] + [("society", n) for n in args.society_ns] + \
        [("single", n) for n in args.single_ns[1:]]
    for kind, n in sizes:
        for device in devices:
            left = deadline - time.perf_counter()
            if left < 15:
                rows.append({"kind": kind, "n": n, "device": device, "median_s": None, "note": "skipped: out of budget"})
                continue
            row = time_case(kind, n, device, args, min(args.case_seconds, left))
            rows.append(row)
            shown = "-" if row["median_s"] is None else f"{row['median_s']:.3f} s"
            print(f"  {kind:>7} N={n:<6} {device:>4}: {shown} {row.get('note', '')}", flush=True)
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    table = []
    for kind, n in dict.fromkeys((r["kind"], r["n"]) for r in rows):
        by = {r["device"]: r for r in rows if (r["kind"], r["n"]) == (kind, n)}
        cpu, gpu = by.get("cpu", {}).get("median_s"), by.get("cuda", {}).get("median_s")
        table.append({"kind": kind, "n": n, "learners": (by.get("cpu") or by.get("cuda") or {}).get("learners"),
                      "cpu_s": cpu, "cuda_s": gpu, "cpu_over_cuda": cpu / gpu if cpu and gpu else None,
                      "notes": "; ".join(f"{d}: {r['note']}" for d, r in by.items() if r.get("note"))})
    return table


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gpu_check.json", help="the JSON summary (default gpu_check.json)")
    parser.add_argument("--budget", type=float, default=230.0, help="seconds for the whole check (default 230)")
    parser.add_argument("--method", default="rg", help="the method timed (default rg)")
    parser.add_argument("--seeds", type=int, default=2, help="populations per timed batch (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed iterations after the warm-up (default 3)")
    parser.add_argument("--cpu-threads", type=int, default=min(16, os.cpu_count() or 1),
                        help="torch threads of the CPU timings (default: the cores, at most 16)")
    parser.add_argument("--case-seconds", type=float, default=45.0, help="time limit of one timing case (default 45)")
    parser.add_argument("--single-ns", type=_ints, default=[1024, 10_000], help="single-learner N (default 1024,10000)")
    parser.add_argument("--society-ns", type=_ints, default=[256, 1024], help="society N (default 256,1024)")
    parser.add_argument("--tests", default="tests/test_device.py", help="comma-separated test files for -k cuda")
    parser.add_argument("--test-seconds", type=float, default=110.0, help="time limit of the CUDA tests (default 110)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the CUDA tests")
    parser.add_argument("--dry-run", action="store_true",
                        help="without CUDA: run every part with the CPU standing in for CUDA (tries the script, measures nothing)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "N", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, device = args.child
        child(kind, int(n), device, args.method, args.seeds, args.repeats, args.cpu_threads, args.case_seconds)
        return 0

    global GPU
    if args.dry_run:
        GPU = "cpu"
    clock = time.perf_counter()
    deadline = clock + args.budget
    summary: dict = {"card": card()}
    info = summary["card"]
    print(f"card: {info.get('device_name', 'no CUDA')} | torch {info['torch']} (CUDA {info['cuda_build']}) | "
          f"python {info['python']} | {info['cpu_count']} CPUs", flush=True)
    cuda = info["cuda_available"] or args.dry_run
    if args.dry_run:
        print("dry run: the CPU stands in for CUDA; nothing here measures CUDA", flush=True)
        summary["dry_run"] = True
    if cuda and not args.skip_tests:
        print("CUDA tests ...", flush=True)
        summary["tests"] = run_tests(min(args.test_seconds, args.budget * 0.5), args.tests.split(","))
        print(f"  {summary['tests']['summary']}", flush=True)
        for line in summary["tests"].get("failures", []):
            print(f"  {line}", flush=True)
    else:
        summary["tests"] = {"summary": "skipped: " + ("no CUDA" if not cuda else "--skip-tests")}
    if cuda:
        print("CPU against CUDA, 5 iterations ...", flush=True)
        try:
            summary["compare"] = compare(30.0)
        except Exception as err:  # a failure here is a finding: report it and go on to the timings
            summary["compare"] = [{"error": f"{type(err).__name__}: {err}"[:500]}]
        for row in summary["compare"]:
            if "error" in row:
                print(f"  error: {row['error']}")
            else:
                print(f"  {row['method']:>9}: max |figure diff| {row['max_figure_diff']}, max |table diff| "
                      f"{row['max_table_diff']} (cpu {row['cpu_s']:.1f} s, cuda {row['cuda_s']:.1f} s)", flush=True)
    print(f"seconds per iteration of {args.method} ({args.seeds} seeds; CPU on {args.cpu_threads} threads) ...", flush=True)
    summary["timings"] = timings(args, deadline - 5)
    summary["ratios"] = ratios(summary["timings"])
    summary["seconds"] = time.perf_counter() - clock
    fmt = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    print(f"\n{'kind':>7} {'N':>6} {'learners':>8} {'cpu s/it':>9} {'cuda s/it':>9} {'cpu/cuda':>8}  notes")
    for r in summary["ratios"]:
        print(f"{r['kind']:>7} {r['n']:>6} {r['learners'] or '-':>8} {fmt(r['cpu_s']):>9} {fmt(r['cuda_s']):>9} "
              f"{fmt(r['cpu_over_cuda'], 1):>8}  {r['notes']}")
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"\n{summary['seconds']:.0f} s; summary in {args.out}")
    return 0 if summary["tests"].get("status") in (0, None) else 1


if __name__ == "__main__":
    sys.exit(main())
