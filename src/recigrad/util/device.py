"""Where the learners' tensors live: the CPU (default) or a CUDA device (docs/model.md §10, "Devices").

- ``parse(text, where)``: a device from its name, ``cpu``, ``cuda`` or ``cuda:N``, checked
  against this machine (``ConfigError``, one line, naming what is wrong and what is allowed);
- ``from_environment()``: the device named by ``RECIGRAD_DEVICE`` (``cpu`` when unset or empty);
- ``resolve(flag)``: the command line's choice, ``--device`` first, then ``RECIGRAD_DEVICE``, then ``cpu``;
- ``using(device)``: a context manager under which training states are created on ``device``
  (``recigrad.learning.tables.start_fields`` reads ``current()``); ``current()``: that device,
  else ``RECIGRAD_DEVICE``'s, else the CPU.

Only the learners' state moves: the logits, the optimiser, the estimators, the value tables
and networks of the baselines, and the models they solve (mean field, exact chain).  The world
(``recigrad.dynamics.world``, compiled with numba), the random streams and the evaluation against
exact theory stay on the CPU; the records of an iteration move to the device once.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar

import torch

from recigrad.errors import ConfigError

VARIABLE = "RECIGRAD_DEVICE"
ALLOWED = "cpu, cuda[:N]"
CPU = torch.device("cpu")
_current: ContextVar[torch.device | None] = ContextVar("recigrad_device", default=None)


def _shown(text) -> str:
    text = str(text)
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def parse(text: str | torch.device, where: str = "--device") -> torch.device:
    """The device named ``text`` (a name or a ``torch.device``), available on this machine.

    Args:
        text: ``cpu``, ``cuda`` (the current CUDA device) or ``cuda:N`` (surrounding spaces ignored,
            any case), or a ``torch.device`` of those types.
        where: the flag or variable that gave it, for the message.

    Returns:
        The ``torch.device`` (``cuda`` without an index becomes ``cuda:<current>``).

    Raises:
        ConfigError: ``recigrad: error: --device X: <why>; allowed: cpu, cuda[:N]`` for any other name,
            for ``cuda`` on a machine without CUDA, and for an index beyond the devices there are.
    """
    if isinstance(text, torch.device):
        kind, index = text.type, text.index
        shown = _shown(text)
    else:
        if not isinstance(text, str):
            raise ConfigError(f"{where} {_shown(text)}: not a device name; allowed: {ALLOWED}")
        shown = _shown(text)
        match = re.fullmatch(r"\s*(cpu|cuda)(?::([0-9]{1,3}))?\s*", text, re.ASCII | re.IGNORECASE)
        if match is None or (match.group(1).lower() == "cpu" and match.group(2) is not None):
            raise ConfigError(f"{where} {shown}: unknown device; allowed: {ALLOWED}")
        kind, index = match.group(1).lower(), None if match.group(2) is None else int(match.group(2))
    if kind == "cpu" and index in (None, 0):
        return CPU
    if kind != "cuda":
        raise ConfigError(f"{where} {shown}: unknown device; allowed: {ALLOWED}")
    if not torch.cuda.is_available():
        raise ConfigError(f"{where} {shown}: CUDA is not available on this machine (torch {torch.__version__}, "
                          f"CUDA build {torch.version.cuda or 'none'}); allowed: {ALLOWED}")
    count = torch.cuda.device_count()
    index = torch.cuda.current_device() if index is None else index
    if index >= count:
        raise ConfigError(f"{where} {shown}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}; "
                          f"allowed: {ALLOWED}")
    return torch.device("cuda", index)


def from_environment(environ=None) -> torch.device:
    """The device of ``RECIGRAD_DEVICE`` (``environ``: ``os.environ`` when ``None``); the CPU when unset or empty."""
    text = (os.environ if environ is None else environ).get(VARIABLE, "")
    return CPU if not text.strip() else parse(text, VARIABLE)


def resolve(flag: str | torch.device | None = None, environ=None) -> torch.device:
    """The device a command uses: ``flag`` (``--device``) if given, else ``RECIGRAD_DEVICE``, else the CPU.

    Raises:
        ConfigError: the chosen name is not a device of this machine (one line; see ``parse``).  A bad
            ``RECIGRAD_DEVICE`` is not read when the flag is given.
    """
    return parse(flag) if flag is not None else from_environment(environ)


def current() -> torch.device:
    """Where new training states live: ``using``'s device, else ``RECIGRAD_DEVICE``'s, else the CPU."""
    chosen = _current.get()
    return chosen if chosen is not None else from_environment()


@contextmanager
def using(device: str | torch.device | None):
    """Create training states on ``device`` inside the body (checked with ``parse``); ``None``
    changes nothing.  Restores the previous choice after, also on error."""
    if device is None:
        yield None
        return
    chosen = parse(device)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def is_cpu(device: torch.device) -> bool:
    """Whether ``device`` is the CPU (where every figure is the same bit for bit as without a device)."""
    return torch.device(device).type == "cpu"
