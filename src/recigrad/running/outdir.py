"""Output folders that cannot destroy anything (docs/model.md §10).

One job: deciding whether an output path (``--out`` of ``train``, ``bench`` and any
later command that writes a folder) may be used, and claiming it.

- ``--out`` may be a new path, an empty folder, or a folder recigrad wrote before,
  recognised by its marker file ``.recigrad-run`` (JSON ``{"kind": ..., "recigrad": version}``),
  which recigrad writes into every folder it creates.
- Refused with one line (``ConfigError``): an existing non-empty folder without the marker,
  ``.`` or any ancestor of the current directory, a regular file, a path whose parent cannot
  be created.  Symlinks are resolved first, so a link into the user's files is refused too.
- Replacing a previous folder of ours needs ``overwrite``; it removes only the names recigrad
  writes there, and refuses a folder of ours that holds anything else (the user's files are
  never deleted: move them away first).
- A work folder ``OUT.partial`` holding a checkpoint is continued with ``resume`` or discarded
  with ``overwrite``; without either it is refused with one line saying so.
- One run at a time per ``--out``: a lock file ``.OUT.lock`` next to ``OUT`` (created with
  ``O_CREAT | O_EXCL``, holding the holder's pid).  A second run is refused with one line
  naming the pid; a lock whose pid is no longer alive is taken over.
- Hidden temporary folders ``.OUT.XXXXXXXX`` left by a run killed while it replaced ``OUT``
  are removed by the next run (only ours: by name pattern and marker).

``claim(out, kind, overwrite=..., resume=...)`` does all of it before any work and holds the
lock until the ``with`` block ends (also on error or Ctrl-C).  A new kind of folder (e.g. a
sweep) registers the names it writes with ``register``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from recigrad import __version__
from recigrad.errors import ConfigError
from recigrad.running import checkpoint

MARKER = ".recigrad-run"
PARTIAL_SUFFIX = ".partial"
_NAME_MAX = 255  # bytes in one file name on Linux and macOS file systems
_CHECKPOINT_FILES = ("checkpoint.json", "suite.json")

# names recigrad writes in a folder of each kind; a subfolder name maps to the kind of the folders it holds
_NAMES: dict[str, re.Pattern] = {}
_SUBFOLDERS: dict[str, dict[str, str]] = {}


def register(kind: str, names: str, subfolders: dict[str, str] | None = None) -> None:
    """Declare a kind of output folder: ``names`` a regular expression of the file names recigrad
    writes there (the marker is always ours); ``subfolders`` maps a subfolder name to the kind of the
    run folders it holds (e.g. a report's ``runs/`` holds train run folders)."""
    _NAMES[kind] = re.compile(rf"^(?:{names}|{re.escape(MARKER)})$")
    _SUBFOLDERS[kind] = dict(subfolders or {})


register("train", r"config\.json|metrics\.jsonl|tables\.json|result\.json|curve\.png")
register("bench", r"runs\.csv|bench\.json|summary\.md|curves-[^/]*\.png|percent\.png", {"runs": "train"})
register("sweep", r"results\.csv|sweep\.json|summary\.md|runs\.csv|[^/]*\.png", {"runs": "train"})


def _refuse(out, message: str) -> ConfigError:
    return ConfigError(f"--out {str(out)!r}: {message}")


# ---------------------------------------------------------------------------
# markers and our own files


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as a recigrad folder of ``kind``."""
    (Path(folder) / MARKER).write_text(json.dumps({"kind": kind, "recigrad": __version__}) + "\n")


def marker_kind(folder: Path) -> str | None:
    """The kind named by ``folder``'s marker, or ``None`` (no marker, or not one of ours)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if kind in _NAMES else None


def foreign(folder: Path, kind: str) -> list[str]:
    """Paths under ``folder`` (a folder of ``kind``) that recigrad did not write there."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.iterdir()):
        sub = _SUBFOLDERS[kind].get(path.name)
        if sub is not None and path.is_dir() and not path.is_symlink():
            for run in sorted(path.iterdir()):
                if run.is_symlink() or not run.is_dir() or marker_kind(run) != sub:
                    found.append(f"{path.name}/{run.name}")
                else:
                    found += [f"{path.name}/{run.name}/{x}" for x in foreign(run, sub)]
        elif not _NAMES[kind].match(path.name) or path.is_symlink() or (path.is_dir() and sub is None):
            found.append(path.name)
    return found


def remove_ours(folder: Path) -> None:
    """Remove a folder recigrad wrote (recognised by its marker); refuse (one line) a folder
    without the marker or one holding anything recigrad did not write, and touch nothing."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    is_folder = folder.is_dir() and not folder.is_symlink()
    if is_folder and not any(folder.iterdir()):
        folder.rmdir()
        return
    kind = marker_kind(folder) if is_folder else None
    if kind is None:
        raise _refuse(folder, "exists and is not a folder recigrad wrote; nothing was changed")
    others = foreign(folder, kind)
    if others:
        raise _refuse(folder, f"holds files recigrad did not write ({', '.join(others[:3])}); move them away first")
    shutil.rmtree(folder)


def umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace(tmp: Path, out: Path) -> None:
    """Put the complete folder ``tmp`` in place of ``out`` (a previous folder of ours, or nothing),
    readable as the user's umask allows (``tempfile.mkdtemp`` creates it ``0700``; with umask 022
    it becomes ``0755``, like a folder made by ``mkdir``)."""
    os.chmod(tmp, 0o777 & ~umask())
    remove_ours(out)
    os.replace(tmp, out)


# ---------------------------------------------------------------------------
# checks


def _ancestor_or_self_of_cwd(path: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return path == cwd or path in cwd.parents


def resolve(out: str | Path) -> Path:
    """``out`` with ``~`` expanded, symlinks resolved, made absolute; one line if it cannot be."""
    text = str(out)
    if not text or "\0" in text:
        raise _refuse(out, "not a usable path")
    try:
        return Path(text).expanduser().resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop, an unreadable folder on the way
        raise _refuse(out, f"cannot be resolved ({type(err).__name__}: {getattr(err, 'strerror', None) or err})") from None


def check(out: str | Path, kind: str, overwrite: bool = False, resume: bool = False) -> Path:
    """Decide whether ``out`` may be written as a folder of ``kind``; returns the resolved path.
    Changes nothing on disk."""
    path = _check_location(out)
    try:
        _check_contents(path, out, kind, overwrite, resume)
    except OSError as err:
        raise _refuse(out, f"cannot be used ({err.strerror or type(err).__name__})") from None
    return path


def _check_location(out) -> Path:
    """Where ``out`` is: not the current folder nor an ancestor, not a file, not under a file."""
    try:
        return _location(out)
    except OSError as err:  # a name too long, a folder that cannot be searched
        raise _refuse(out, f"cannot be used ({err.strerror or type(err).__name__})") from None


def _location(out) -> Path:
    path = resolve(out)
    if len(os.fsencode(path.name)) > _NAME_MAX - 10:  # room for ".NAME.XXXXXXXX" and "NAME.partial"
        raise _refuse(out, f"the folder's name is longer than {_NAME_MAX - 10} bytes")
    if _ancestor_or_self_of_cwd(path):
        raise _refuse(out, "is the current folder or one of its ancestors; give a new folder")
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise _refuse(out, "is a file, not a folder; give a new folder")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise _refuse(out, f"cannot be created: {str(parent)!r} is a file")
    return path


def _check_contents(path: Path, out, kind: str, overwrite: bool, resume: bool) -> None:
    """What ``out`` holds: nothing, or a folder of ours (replaced only with ``overwrite``); its
    work folder: nothing, or a checkpoint of ours (continued with ``resume``, discarded with ``overwrite``)."""
    if path.is_dir():
        try:
            entries = os.listdir(path)
        except OSError as err:
            raise _refuse(out, f"cannot be read ({err.strerror})") from None
        if entries:
            found = marker_kind(path)
            if found is None:
                raise _refuse(out, "is a folder recigrad did not create and it is not empty; give a new folder")
            if found != kind:
                raise _refuse(out, f"holds a recigrad {found} folder, not a {kind} folder; give another --out")
            if not overwrite:
                raise _refuse(out, f"holds a previous recigrad {kind} folder; add --overwrite to replace it, "
                                   "or pick another --out")
            others = foreign(path, kind)
            if others:
                raise _refuse(out, f"holds files recigrad did not write ({', '.join(others[:3])}); "
                                   "move them away before --overwrite")
    _check_partial(path, out, overwrite, resume)


def partial_dir(path: Path) -> Path:
    return path.parent / f"{path.name}{PARTIAL_SUFFIX}"


def _has_checkpoint(work: Path) -> bool:
    return any((work / name).exists() for name in _CHECKPOINT_FILES)


def _check_partial(path: Path, out, overwrite: bool, resume: bool) -> None:
    work = partial_dir(path)
    if not (work.exists() or work.is_symlink()):
        return
    if work.is_symlink() or not checkpoint.is_ours(work):
        raise checkpoint.CheckpointError(f"{work} exists and is not a recigrad checkpoint; move it away")
    if _has_checkpoint(work) and not (resume or overwrite):
        raise _refuse(out, f"{work.name} holds the checkpoint of an interrupted run; add --resume to continue it, "
                           "or --overwrite to start over")


def refuse_checkpoint(work: Path) -> None:
    """Before starting afresh in ``work``: refuse (one line) to discard a checkpoint in it."""
    work = Path(work)
    if work.is_dir() and _has_checkpoint(work):
        raise ConfigError(f"{work} holds the checkpoint of an interrupted run; resume it (--resume), "
                          "or start over (--overwrite)")


# ---------------------------------------------------------------------------
# leftovers and the lock


def _leftover_pattern(path: Path) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}$")


def clean_leftovers(path: Path) -> list[Path]:
    """Remove hidden temporary folders ``.OUT.XXXXXXXX`` of ours next to ``path`` (left by a run
    killed while it replaced ``path``): the name pattern and either our marker with only our files
    in it, or an empty folder.  Returns what was removed."""
    pattern, removed = _leftover_pattern(path), []
    try:
        candidates = [p for p in path.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        return removed
    for tmp in candidates:
        if tmp.is_symlink() or not tmp.is_dir():
            continue
        kind = marker_kind(tmp)
        if (kind is not None and not foreign(tmp, kind)) or not any(tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _holder(lock: Path) -> int | None:
    try:
        text = lock.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def acquire(path: Path, out=None) -> Path:
    """Create the lock of ``path``; refuse (one line, naming the holder's pid) while another live
    process holds it; take over a stale one."""
    lock, out = lock_path(path), out if out is not None else path
    for _ in range(20):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _holder(lock)
            if pid is None:  # being written this instant, or garbage: look again shortly
                import time

                time.sleep(0.05)
                pid = _holder(lock)
            if pid is not None and pid != os.getpid() and _alive(pid):
                raise _refuse(out, f"is in use by another recigrad run (pid {pid}, lock {lock}); wait for it to "
                                   "finish or pick another --out") from None
            try:
                lock.unlink()  # stale: its holder is gone
            except FileNotFoundError:
                pass
            except OSError as err:
                raise _refuse(out, f"cannot take over the stale lock {lock} ({err.strerror})") from None
            continue
        except OSError as err:
            raise _refuse(out, f"cannot be written: {err.strerror} ({lock.parent})") from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        return lock
    raise _refuse(out, f"could not take the lock {lock}")


def release(lock: Path) -> None:
    """Remove ``lock`` if this process holds it."""
    if _holder(lock) == os.getpid():
        try:
            lock.unlink()
        except OSError:
            pass


@contextmanager
def claim(out: str | Path, kind: str, overwrite: bool = False, resume: bool = False):
    """Check ``out`` (``check``), create its parent, take its lock, clean our leftovers, discard a
    checkpoint when ``overwrite`` and not ``resume``; yields the resolved path and releases the lock
    at the end (also on error or Ctrl-C).  All of it happens before any work."""
    path = _check_location(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if err.errno == errno.ENOTDIR:
            reason = "a part of the path is a file"
        raise _refuse(out, f"cannot be created ({reason})") from None
    lock = acquire(path, out)
    try:
        path = check(out, kind, overwrite, resume)  # now that no other recigrad run can change it
        clean_leftovers(path)
        work = partial_dir(path)
        if overwrite and not resume and work.exists():
            checkpoint.clear(work)
        yield path
    finally:
        release(lock)


def open_work(work: Path, header: dict, resume: bool, what: str, subfolder: str) -> bool:
    """Prepare the work folder ``work`` of a report or sweep in progress (``what``: how messages
    name it) whose manifest holds ``header``: kept when resuming the same work (returns True), else
    started afresh with an empty ``subfolder`` (returns False); refuses a folder not ours, one for
    other work, and discarding work in progress without ``--resume`` or ``--overwrite``."""
    manifest = work / checkpoint.SUITE_FILE
    if resume and manifest.exists():
        wrong = checkpoint.mismatch(checkpoint.read_header(manifest, header["kind"]), header)
        if wrong:
            raise checkpoint.CheckpointError(f"cannot resume: {what} {work} is for {wrong}")
        return True
    if resume and work.exists() and not checkpoint.is_ours(work):
        raise checkpoint.CheckpointError(f"cannot resume: {work} is not a recigrad {what}")
    if not resume:
        refuse_checkpoint(work)  # never discard work in progress silently
    checkpoint.clear(work)
    (work / subfolder).mkdir(parents=True)
    checkpoint.write_json_atomic(manifest, {**header, "recigrad": __version__})
    return False


# ---------------------------------------------------------------------------
# output files (a tuning result): one JSON file, never one the program did not write


def file_is_ours(path: Path, kind: str) -> bool:
    """Whether ``path`` is a JSON file recigrad wrote as ``kind`` (its ``format`` field)."""
    try:
        return json.loads(path.read_text()).get("format") == kind
    except (OSError, ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return False


@contextmanager
def claim_file(out: str | Path, kind: str, overwrite: bool = False):
    """Check and lock the output file ``out`` before any work (one-line ``ConfigError``): not a
    folder, its parent creatable; an existing file only if recigrad wrote it as ``kind``
    (``file_is_ours``) and ``overwrite`` is given.  Yields the resolved path; write it with
    ``checkpoint.write_json_atomic``.  The lock ``.NAME.lock`` is released at the end."""
    path = resolve(out)
    if len(os.fsencode(path.name)) > _NAME_MAX - 20:
        raise _refuse(out, f"the file's name is longer than {_NAME_MAX - 20} bytes")
    if path.is_dir():
        raise _refuse(out, "is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = "a part of the path is a file" if err.errno in (errno.ENOTDIR, errno.EEXIST) else err.strerror
        raise _refuse(out, f"cannot be created ({reason or type(err).__name__})") from None
    lock = acquire(path, out)
    try:
        if path.exists() or path.is_symlink():
            if not file_is_ours(path, kind):
                raise _refuse(out, f"exists and is not a {kind} file recigrad wrote; give a new file name")
            if not overwrite:
                raise _refuse(out, "exists (a previous result); give --overwrite to replace it, or a new file name")
        yield path
    finally:
        release(lock)
