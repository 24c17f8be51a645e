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

This module knows no method's insides: a method state converts itself to and
from ``(meta, tensors)`` (``state_dict`` / ``load_state_dict`` of the method
contract, ``recigrad.learning.contract``, ``docs/model.md §11``); here are the
files, the atomic writes, the header and the checksums.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from recigrad import __version__
from recigrad.game import ConfigError

FORMAT = "recigrad-checkpoint"
VERSION = 2
META_FILE = "checkpoint.json"
SUITE_FILE = "suite.json"
# what recigrad writes in a work folder: checkpoints, and a report in progress
_OURS = re.compile(r"^(\.tmp-.*|state-\d+\.npz|checkpoint\.json|suite\.json|runs|runs\.csv|bench\.json|summary\.md"
                   r"|curves-.*\.png|percent\.png|cells|results\.csv|sweep\.json)$")  # cells...: a sweep in progress


class CheckpointError(ConfigError):
    """A checkpoint that cannot be resumed (one line, exit status 2 at the command line)."""


def partial_dir(out: str | Path) -> Path:
    """The work folder of a run or report folder ``out``: its sibling ``<out>.partial``."""
    out = Path(out).resolve()
    return out.parent / f"{out.name}.partial"


def regime_dict(regime) -> dict:
    """The regime as plain data (as ``config.json`` of a run folder holds it).

    Each agent is recorded with its kind, its norm's name, ``warmup`` and its tables
    themselves (docs/model.md §10): ``act`` (nested ``[x_own][x_rec]``) and ``sig``
    (``[a][x_donor][x_rec]``) as ``regime.population.tables()`` gives them (a learner's:
    before training), so a population built by hand is recorded as it plays."""
    act, sig = (t.tolist() for t in regime.population.tables())  # one conversion, not one per agent
    agents = [{"kind": a.kind, "norm": str(a.norm), "warmup": a.warmup, "act": act[j], "sig": sig[j]}
              for j, a in enumerate(regime.population.agents)]
    return {"name": regime.name, "description": regime.description, "game": asdict(regime.game),
            "population": regime.population.describe(), "agents": agents, "train": asdict(regime.train)}


def regime_hash(regime) -> str:
    return hashlib.sha256(json.dumps(regime_dict(regime), sort_keys=True).encode()).hexdigest()


def header(kind: str, **fields) -> dict:
    """What a checkpoint or a report in progress is for: format, version, ``kind`` (``train``,
    ``bench``) and ``fields`` (regime, method, seeds, ...); a resume must find the same."""
    return {"format": FORMAT, "version": VERSION, "kind": kind, "recigrad": __version__, **fields}


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
# the checkpoint folder


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def save(folder: Path, header: dict, iteration: int, driver: dict, state) -> None:
    """Write the checkpoint of ``state`` after ``iteration`` into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta, tensors = state.state_dict()
    buffer = io.BytesIO()
    np.savez(buffer, **{k: _numpy(v) for k, v in tensors.items()})
    data = buffer.getvalue()
    name = f"state-{iteration:06d}.npz"
    write_atomic(folder / name, data)
    document = {**header, "iteration": iteration, "driver": driver, "state": meta,
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
    """The checkpoint in ``folder`` as ``{"iteration", "driver", "meta", "tensors"}`` (the fields as
    written: the driver and the method state check them, ``restore``); ``None`` when
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
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"cannot resume: checkpoint {folder} is broken ({err})") from None
    return {"iteration": document.get("iteration"), "driver": document.get("driver"), "meta": document.get("state"),
            "tensors": tensors}


def restore(state, saved: dict, folder: Path) -> None:
    """Load the method state of the checkpoint ``saved`` (from ``load``) into ``state``, a fresh
    ``start(regime, seeds)`` state that checks every field (``load_state_dict`` of the method contract)."""
    meta = saved["meta"]
    if not isinstance(meta, dict):
        raise CheckpointError(f"cannot resume: checkpoint {folder}: state is {type(meta).__name__}; allowed: an object")
    try:
        state.load_state_dict(meta, saved["tensors"])
    except ConfigError as err:
        raise CheckpointError(f"cannot resume: checkpoint {folder}: {err}") from None
