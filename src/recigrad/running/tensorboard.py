"""Optional TensorBoard scalars of training runs (docs/model.md §10, "TensorBoard scalars").

One job: turning the evaluation lines of ``recigrad.running.train`` (the lines of
``metrics.jsonl``) into TensorBoard scalars as the run trains, through
``torch.utils.tensorboard``, which needs the ``tensorboard`` package (the extra
``recigrad[tensorboard]``).  Nothing here imports it until a folder is opened, so a run
without ``--tensorboard`` never loads it.

- ``require()`` refuses (one line) when the package is missing: call it before any work.
- ``open_folder(folder, overwrite, resume, beside)`` claims the event folder with the
  rules of every output folder (``recigrad.running.outdir``: a new or empty folder, or a
  ``tensorboard`` folder recigrad wrote, marked ``.recigrad-run``; the lock), and yields a
  ``Scalars`` writer, closed at the end (also on error or Ctrl-C).  A previous folder of ours
  is appended to with ``resume`` and emptied (only its event files) with ``overwrite``.
- ``Scalars.for_run(regime, method, seeds)`` gives the ``RunScalars`` of one run; the training
  loop calls its ``on_evaluation(line)`` at each evaluation.

Tags are ``REGIME/METHOD/seed-K/KEY`` with ``KEY`` the line's key (``payoff``,
``percent_of_reference``, ``adherence``; for societies ``mean_payoff``, ``cooperation`` and
``nashconv`` where computed); the step (x axis) is the line's ``interactions`` (per population).
Values are stored in double precision: they are the numbers of ``metrics.jsonl``.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path

from recigrad.errors import ConfigError
from recigrad.running import outdir

KIND = "tensorboard"
LEARNER_KEYS = ("payoff", "percent_of_reference", "adherence")
SOCIETY_KEYS = ("mean_payoff", "cooperation", "nashconv")

outdir.register(KIND, r"events\.out\.tfevents\.[^/]*")


def require() -> None:
    """Refuse (one line) when the ``tensorboard`` package is not installed."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package; install the extra: "
                          "pip install 'recigrad[tensorboard]'") from None


def check_apart(folder: str | Path, out: str | Path) -> None:
    """Refuse (one line) an event folder that is ``out``, inside it, or holds it."""
    a, b = outdir.resolve(folder), outdir.resolve(out)
    if a == b or b in a.parents or a in b.parents:
        raise ConfigError(f"--tensorboard {str(folder)!r}: must be apart from --out {str(out)!r} "
                          "(not the same folder, nor one inside the other)")


class RunScalars:
    """The scalars of one run: ``on_evaluation(line)`` writes one evaluation line's per-seed values."""

    def __init__(self, writer, prefix: str, seeds: list[int]):
        self._writer, self._prefix, self._seeds = writer, prefix, [int(s) for s in seeds]

    def on_evaluation(self, line: dict) -> None:
        step = int(line["interactions"])
        for key in LEARNER_KEYS + SOCIETY_KEYS:
            values = line.get(key)
            if values is None:
                continue
            for seed, value in zip(self._seeds, values):
                if value is not None:  # NaN is written as null in metrics.jsonl
                    self._writer.add_scalar(f"{self._prefix}/seed-{seed}/{key}", float(value), step,
                                            new_style=True, double_precision=True)


class Scalars:
    """A TensorBoard event writer for one folder; one for a ``train`` run or a whole ``bench`` suite."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(folder)
        self._writer = SummaryWriter(log_dir=str(self.folder))

    def for_run(self, regime: str, method: str, seeds: list[int]) -> RunScalars:
        return RunScalars(self._writer, f"{regime}/{method}", seeds)

    def close(self) -> None:
        self._writer.close()


@contextmanager
def open_folder(folder: str | Path, overwrite: bool = False, resume: bool = False):
    """Claim ``folder`` (``recigrad.running.outdir``), mark it ours, yield a ``Scalars`` and close it at
    the end (also on error or Ctrl-C).  ``resume`` appends to a previous folder of ours; ``overwrite``
    (without ``resume``) first removes its event files; neither: the folder must be new or empty."""
    require()
    with ExitStack() as stack:
        try:  # outdir's one-line refusals name the flag --out: here it is --tensorboard
            path = stack.enter_context(outdir.claim(folder, KIND, overwrite=overwrite or resume))
            if overwrite and not resume:
                outdir.remove_ours(path)  # only our event files; anything else is refused by the claim
        except ConfigError as err:
            raise ConfigError(str(err).replace("--out", "--tensorboard")) from None
        path.mkdir(parents=True, exist_ok=True)
        outdir.write_marker(path, KIND)
        scalars = Scalars(path)
        try:
            yield scalars
        finally:
            scalars.close()
