"""Checkpoints of training runs: safe formats only, written atomically.

A checkpoint is a folder (``<run folder>.partial``) holding

- ``checkpoint.json``: what the checkpoint is for (format, version, regime name and
  content hash, method and its settings, seeds, iterations), the iteration reached,
  the driver's bookkeeping (the curve so far, thresholds reached, seconds spent),
  the method state's scalars and random generator states (numpy PCG64 states are
  plain dicts of integers), and the name and SHA-256 of the tensor file;
- ``state-NNNNNN.npz``: the method state's tensors as plain numpy arrays
  (``numpy.savez``; read back with ``allow_pickle=False``).

Nothing is pickled.  Each file is written under a temporary name, flushed to disk
and renamed into place; the tensor file first, then the JSON that names it, so the
JSON always names a complete tensor file.

The method state (``recigrad.learning.reciprocity_gradient.Learners`` or
``recigrad.learning.baselines.common.BaselineState``) is saved by ``state_dict`` as
``(meta, tensors)`` and restored by ``load_state``, which starts the method afresh
(tables, settings, optimizer wiring) and overwrites every piece of state that
changes during training: logits, Adam moments and step counts, the estimator or
the value table, the world's reputations and random streams, the baselines'
sampling streams and their buffer of records not yet used by an update.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

import numpy as np
import torch

from recigrad import __version__
from recigrad.game import ConfigError

FORMAT = "recigrad-checkpoint"
VERSION = 1
META_FILE = "checkpoint.json"
SUITE_FILE = "suite.json"
# what recigrad writes in a work folder: checkpoints, and a report in progress
_OURS = re.compile(r"^(\.tmp-.*|state-\d+\.npz|checkpoint\.json|suite\.json|runs|runs\.csv|bench\.json|summary\.md"
                   r"|curves-.*\.png|percent\.png)$")


class CheckpointError(ConfigError):
    """A checkpoint that cannot be resumed (one line, exit status 2 at the command line)."""


def partial_dir(out: str | Path) -> Path:
    """The work folder of a run or report folder ``out``: its sibling ``<out>.partial``."""
    out = Path(out).resolve()
    return out.parent / f"{out.name}.partial"


def regime_dict(regime) -> dict:
    """The regime as plain data (as ``config.json`` of a run folder holds it)."""
    return {"name": regime.name, "description": regime.description, "game": asdict(regime.game),
            "agents": [asdict(a) for a in regime.population.agents], "train": asdict(regime.train)}


def regime_hash(regime) -> str:
    return hashlib.sha256(json.dumps(regime_dict(regime), sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------
# atomic files


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: a temporary file in the same folder, fsync, rename."""
    tmp = path.parent / f".tmp-{path.name}.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, data) -> None:
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode())


# ---------------------------------------------------------------------------
# method states <-> (meta, tensors)


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _optimizer_dict(optimizer: torch.optim.Optimizer, tensors: dict) -> dict:
    """Adam's per-parameter state (moments, step counts) into ``tensors``; the keys into the returned meta."""
    meta = {}
    for index, entry in optimizer.state_dict()["state"].items():
        meta[str(index)] = sorted(entry)
        for key, value in entry.items():
            tensors[f"optimizer.{index}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    return meta


def _load_optimizer(optimizer: torch.optim.Optimizer, meta: dict, tensors: dict) -> None:
    state = optimizer.state_dict()
    state["state"] = {int(index): {key: tensors[f"optimizer.{index}.{key}"] for key in keys} for index, keys in meta.items()}
    optimizer.load_state_dict(state)


def _settings(state) -> dict | None:
    config = getattr(state, "config", None)
    return asdict(config) if is_dataclass(config) else None


def state_dict(state) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(meta, tensors)`` of a method state: JSON-able scalars and generator states, and tensors."""
    from recigrad.dynamics.world import Records
    from recigrad.learning.baselines.common import BaselineState
    from recigrad.learning.reciprocity_gradient import Learners

    tensors: dict[str, torch.Tensor] = {
        "logits_act": state.logits_act, "logits_sig": state.logits_sig, "reputation": state.reputation}
    meta = {"kind": type(state).__name__, "interactions": state.interactions, "world": state.streams.state(),
            "optimizer": _optimizer_dict(state.optimizer, tensors), "settings": _settings(state)}
    if isinstance(state, Learners):
        tensors.update({f"estimator.{k}": v for k, v in state.estimator.to_dict().items()})
    elif isinstance(state, BaselineState):
        tensors["values.value"], tensors["values.seen"] = state.values.value, state.values.seen
        meta.update(sampler=state.sampler.state(), updates=state.updates, buffered=state.buffered,
                    buffer=bool(state.buffer))
        if state.buffer:
            pending = Records.cat(state.buffer) if len(state.buffer) > 1 else state.buffer[0]
            tensors.update({f"buffer.{f}": getattr(pending, f) for f in Records.FIELDS})
    else:
        raise TypeError(f"no checkpoint support for {type(state).__name__}")
    return meta, tensors


def load_state(module, regime, seeds: list[int], meta: dict, tensors: dict[str, torch.Tensor]):
    """The method state saved as ``(meta, tensors)``: ``module.start(regime, seeds)``, then
    every piece of state that training changes is overwritten."""
    from recigrad.dynamics.world import Records
    from recigrad.learning import estimators
    from recigrad.learning.baselines.common import ValueTable

    state = module.start(regime, seeds)
    if meta.get("kind") != type(state).__name__:
        raise CheckpointError(f"checkpoint holds a {meta.get('kind')} state, method needs {type(state).__name__}")
    if meta.get("settings") != _settings(state):
        raise CheckpointError(f"checkpoint was written with method settings {meta.get('settings')}, "
                              f"now {_settings(state)}")
    with torch.no_grad():
        for name in ("logits_act", "logits_sig"):
            getattr(state, name).copy_(tensors[name])
    state.reputation = tensors["reputation"]
    state.interactions = int(meta["interactions"])
    state.streams.set_state(meta["world"])
    _load_optimizer(state.optimizer, meta["optimizer"], tensors)
    if meta["kind"] == "Learners":
        state.estimator = estimators.EstimatorState.from_dict(
            {f.name: tensors[f"estimator.{f.name}"] for f in fields(estimators.EstimatorState)})
    else:
        state.values = ValueTable(tensors["values.value"], tensors["values.seen"])
        state.sampler.set_state(meta["sampler"])
        state.updates, state.buffered = int(meta["updates"]), int(meta["buffered"])
        state.buffer = [Records(*(tensors[f"buffer.{f}"] for f in Records.FIELDS))] if meta["buffer"] else []
    return state


# ---------------------------------------------------------------------------
# the checkpoint folder


def save(folder: Path, header: dict, iteration: int, driver: dict, state) -> None:
    """Write the checkpoint of ``state`` after ``iteration`` into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta, tensors = state_dict(state)
    buffer = io.BytesIO()
    np.savez(buffer, **{k: _numpy(v) for k, v in tensors.items()})
    data = buffer.getvalue()
    name = f"state-{iteration:06d}.npz"
    write_atomic(folder / name, data)
    document = {**header, "recigrad": __version__, "iteration": iteration, "driver": driver, "state": meta,
                "tensors": name, "tensors_sha256": hashlib.sha256(data).hexdigest()}
    write_json_atomic(folder / META_FILE, document)
    for old in folder.glob("state-*.npz"):
        if old.name != name:
            old.unlink(missing_ok=True)


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but what recigrad writes there."""
    return folder.is_dir() and all(_OURS.match(p.name) for p in folder.iterdir())


def clear(folder: Path) -> None:
    """Remove a work folder of ours; refuse one that holds anything else."""
    if not folder.exists():
        return
    if not is_ours(folder):
        raise CheckpointError(f"{folder} exists and is not a recigrad checkpoint; move it away")
    shutil.rmtree(folder)


def read_header(path: Path, kind: str) -> dict:
    """The JSON document at ``path`` if it is a recigrad checkpoint of ``kind`` and this version."""
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{path} is not a recigrad checkpoint ({type(err).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("kind") != kind:
        raise CheckpointError(f"{path} is not a recigrad {kind} checkpoint")
    if document.get("version") != VERSION or document.get("recigrad") != __version__:
        raise CheckpointError(f"{path} was written by recigrad {document.get('recigrad')!r} (checkpoint version "
                              f"{document.get('version')!r}); this is recigrad {__version__} (version {VERSION})")
    return document


def mismatch(document: dict, expected: dict) -> str | None:
    """The first key whose value in ``document`` differs from ``expected``, as a phrase."""
    for key, value in expected.items():
        if document.get(key) != value:
            shown = lambda v: v if len(json.dumps(v)) <= 80 else json.dumps(v)[:77] + "..."  # noqa: E731
            return f"{key} {shown(document.get(key))!r}, not {shown(value)!r}"
    return None


def load(folder: Path, expected: dict) -> dict | None:
    """The checkpoint in ``folder`` as ``{"iteration", "driver", "meta", "tensors"}``; ``None`` when
    there is none yet (no folder, or one of ours that holds no checkpoint).  Refuses (``CheckpointError``,
    one line) a folder that is not ours, a broken checkpoint, or one written for anything else than
    ``expected`` (format, kind, regime, method, seeds, ...)."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise CheckpointError(f"cannot resume: {folder} is not a recigrad checkpoint folder")
    path = folder / META_FILE
    if not path.exists():
        if is_ours(folder):
            return None
        raise CheckpointError(f"cannot resume: {folder} is not a recigrad checkpoint folder")
    document = read_header(path, expected["kind"])
    wrong = mismatch(document, expected)
    if wrong:
        raise CheckpointError(f"cannot resume: checkpoint {folder} is for {wrong}")
    try:
        data = (folder / document["tensors"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != document["tensors_sha256"]:
            raise ValueError("tensor file does not match its checksum")
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            tensors = {k: torch.from_numpy(arrays[k].copy()) for k in arrays.files}
        iteration, driver, meta = int(document["iteration"]), document["driver"], document["state"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"cannot resume: checkpoint {folder} is broken ({err})") from None
    return {"iteration": iteration, "driver": driver, "meta": meta, "tensors": tensors}
