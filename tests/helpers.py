"""Helpers shared by the tests: random tables, a finite-difference gradient check,
the leading eight written out independently and Ohtsuki & Iwasa's quadratic."""

import json
import math
import time
from pathlib import Path

import pytest
import torch


def random_tables(batch, n, generator, second_order=False):
    """Random stochastic intended tables; second order ignores the donor's own reputation."""
    act = torch.rand(batch, n, 2, 2, generator=generator, dtype=torch.float64)
    sig = torch.rand(batch, n, 2, 2, 2, generator=generator, dtype=torch.float64)
    if second_order:
        act[:, :, 0] = act[:, :, 1]
        sig[:, :, :, 0] = sig[:, :, :, 1]
    return act, sig


def assert_gradient_matches_finite_differences(objective, tensors, every=1, h=1e-6, tol=1e-7):
    """Autograd of ``objective(*tensors)`` against central differences, every ``every``-th entry."""
    leaves = [t.clone().requires_grad_() for t in tensors]
    objective(*leaves).backward()
    for tensor, leaf in zip(tensors, leaves):
        flat = tensor.view(-1)
        for k in range(0, flat.numel(), every):
            old = flat[k].item()
            flat[k] = old + h
            up = objective(*tensors).item()
            flat[k] = old - h
            down = objective(*tensors).item()
            flat[k] = old
            assert leaf.grad.view(-1)[k].item() == pytest.approx((up - down) / (2 * h), abs=tol)


# docs/model.md §2's leading eight written out again: (GGC GGD GBC GBD BGC BGD BBC BBD)
EIGHT = {
    "L1": (1, 0, 1, 1, 1, 0, 1, 0), "L2": (1, 0, 0, 1, 1, 0, 1, 0), "L3": (1, 0, 1, 1, 1, 0, 1, 1),
    "L4": (1, 0, 1, 1, 1, 0, 0, 1), "L5": (1, 0, 0, 1, 1, 0, 1, 1), "L6": (1, 0, 0, 1, 1, 0, 0, 1),
    "L7": (1, 0, 1, 1, 1, 0, 0, 0), "L8": (1, 0, 0, 1, 1, 0, 0, 0),
}


def quadratic_root(norm, e, mu):
    """Ohtsuki & Iwasa's public-assessment stationary g: root in [0, 1] of
    g = sum_{donor, recipient} P(donor) P(recipient) P(good | donor, recipient)."""
    bits = dict(zip(["GGC", "GGD", "GBC", "GBD", "BGC", "BGD", "BBC", "BBD"], EIGHT[norm]))

    def good(donor, recipient):
        cooperate = recipient == "G" or (norm in ("L1", "L2") and donor == "B")
        p_c = (1 - e) if cooperate else 0.0
        assess = lambda a: (1 - mu) * bits[donor + recipient + a] + mu * (1 - bits[donor + recipient + a])  # noqa: E731
        return p_c * assess("C") + (1 - p_c) * assess("D")

    # g = g (g s_GG + (1-g) s_GB) + (1-g) (g s_BG + (1-g) s_BB): a quadratic a2 g^2 + a1 g + a0 = 0
    sGG, sGB, sBG, sBB = good("G", "G"), good("G", "B"), good("B", "G"), good("B", "B")
    a2 = sGG - sGB - sBG + sBB
    a1 = sGB + sBG - 2 * sBB - 1
    a0 = sBB
    if abs(a2) < 1e-15:
        return -a0 / a1
    roots = [(-a1 + sign * math.sqrt(a1 * a1 - 4 * a2 * a0)) / (2 * a2) for sign in (1, -1)]
    return next(r for r in roots if 0 <= r <= 1)


def wait_for(path: Path, proc, key=None, at_least=1, timeout=90.0):
    """Poll until ``path`` exists (and its JSON ``key`` is at least ``at_least``); fail if ``proc`` ends first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"the run ended before {path} appeared: {proc.communicate()}"
        if path.exists():
            if key is None:
                return
            try:
                if json.loads(path.read_text())[key] >= at_least:
                    return
            except (ValueError, KeyError):
                pass
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"{path} did not appear")


def without_seconds(data):
    """``data`` without wall-clock fields (keys starting with ``seconds``) nor folder names."""
    if isinstance(data, dict):
        return {k: without_seconds(v) for k, v in data.items() if not k.startswith("seconds") and k != "folder"}
    if isinstance(data, list):
        return [without_seconds(v) for v in data]
    return data


def assert_one_line_error(stderr, returncode=None, expected_code=2, prefix="recigrad: error: ", context=None):
    """A refusal as docs/model.md §10 gives it: exit status ``expected_code`` (checked when ``returncode`` is
    given) and one line on stderr that starts with ``prefix``; each fact is its own assert, and every
    failure shows the stderr (and ``context``, e.g. the argv, where given)."""
    shown = f"stderr: {stderr!r}" if context is None else f"{context!r}; stderr: {stderr!r}"
    if returncode is not None:
        assert returncode == expected_code, f"exit status {returncode}, expected {expected_code}; {shown}"
    assert stderr.startswith(prefix), f"stderr does not start with {prefix!r}; {shown}"
    assert stderr.count("\n") == 1, f"stderr is not one line; {shown}"
    assert stderr.endswith("\n"), f"stderr does not end its line; {shown}"
