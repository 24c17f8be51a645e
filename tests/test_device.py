"""The device path (docs/model.md §10, "Devices"; recigrad.util.device).

On any machine: the refusals of ``--device`` and ``RECIGRAD_DEVICE`` (by hand and with
Hypothesis), the order flag > variable > cpu, identical figures with ``--device cpu``, a
``torch.device("cpu")`` object, the string ``"cpu"`` or nothing, and an audit that every
tensor the learners, their models and the baselines create follows its inputs' device.

With CUDA (skipped cleanly without; every such test has ``cuda`` in its name, so that
``pytest -k cuda`` runs them): CUDA against CPU for the models, the estimators, the
exact chain and a short training of ``rg``, ``reinforce``, ``ppo`` and an MLP baseline.
The CPU is the reference; on CUDA the reductions may differ in the last bits
(``CUDA_TOL``, measured on the CPU by perturbing the logits by 1e-15 relative after every
step: figures after 5 to 40 iterations moved by at most 3e-14).
"""

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

from recigrad import cli
from recigrad.dynamics import exact, meanfield
from recigrad.errors import ConfigError
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import Regime, TrainConfig, load_regime
from recigrad.learning import contract, estimators
from recigrad.running import train
from recigrad.util import device as devices

CUDA = torch.cuda.is_available()
# the device of the CUDA tests; RECIGRAD_TEST_DEVICE=cpu dry-runs their logic against the CPU itself (not a test of CUDA)
GPU = os.environ.get("RECIGRAD_TEST_DEVICE", "cuda")
needs_cuda = pytest.mark.skipif(not CUDA and GPU == "cuda", reason="needs a CUDA device")
CUDA_TOL = 1e-8  # CUDA against CPU, absolute and relative, on payoffs and tables after a few iterations
ALLOWED = "allowed: cpu, cuda[:N]"


def small(name: str, iterations: int = 3, interactions: int = 400):
    regime = load_regime(name)
    return replace(regime, train=TrainConfig(**{**regime.train.__dict__, "iterations": iterations,
                                                "interactions": interactions}))


# ---------------------------------------------------------------------------
# refusals and the order flag > RECIGRAD_DEVICE > cpu


@pytest.mark.parametrize("text", ["gpu", "cuda:x", "cpu:1", "cpu:0", "cuda:-1", "cuda:1:2", "", " ", "cpu,cuda", "mps", "cuda 0",
                                  "cuda:0001"])
def test_parse_refuses_unknown_names_in_one_line(text):
    with pytest.raises(ConfigError) as err:
        devices.parse(text)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"--device {text!r}: ")
    assert message.endswith(ALLOWED)


@pytest.mark.parametrize("text", ["cpu", "CPU", " cpu "])
def test_parse_accepts_cpu(text):
    assert devices.parse(text) == torch.device("cpu")


def test_parse_accepts_a_torch_device():
    assert devices.parse(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown device; allowed: cpu, cuda"):
        devices.parse(torch.device("meta"))


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("text", ["cuda", "cuda:0", "CUDA:3"])
def test_parse_refuses_cuda_without_cuda(text):
    with pytest.raises(ConfigError, match=r"CUDA is not available on this machine .*; allowed: cpu, cuda\[:N\]$"):
        devices.parse(text)


@given(st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_parse_gives_a_device_or_one_line(text):
    try:
        device = devices.parse(text, "RECIGRAD_DEVICE")
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and message.startswith("RECIGRAD_DEVICE ") and message.endswith(ALLOWED)
    else:
        assert device.type in ("cpu", "cuda")
        assert text.strip().lower().startswith(device.type)


def test_resolve_flag_wins_over_the_variable():
    assert devices.resolve("cpu", {"RECIGRAD_DEVICE": "tpu"}) == torch.device("cpu")


def test_resolve_reads_the_variable_without_flag():
    with pytest.raises(ConfigError, match="^RECIGRAD_DEVICE 'tpu': unknown device"):
        devices.resolve(None, {"RECIGRAD_DEVICE": "tpu"})


@pytest.mark.parametrize("environ", [{}, {"RECIGRAD_DEVICE": ""}, {"RECIGRAD_DEVICE": " cpu"}])
def test_resolve_defaults_to_cpu(environ):
    assert devices.resolve(None, environ) == torch.device("cpu")


def test_using_restores_the_previous_device_also_on_error(monkeypatch):
    monkeypatch.delenv("RECIGRAD_DEVICE", raising=False)
    with pytest.raises(RuntimeError):
        with devices.using(torch.device("cpu")) as chosen:
            assert chosen == devices.current() == torch.device("cpu")
            raise RuntimeError("inside")
    assert devices._current.get() is None
    with pytest.raises(ConfigError, match="^--device 'gpu'"):
        with devices.using("gpu"):
            pass  # pragma: no cover


@pytest.mark.parametrize("argv", [["--device", "gpu"], ["--device=cuda:zero"], ["--device", ""]])
def test_cli_refuses_a_bad_device_in_one_line(argv, capsys, tmp_path):
    out = tmp_path / "run"
    status = cli.main(["train", "--regime", "discriminative-sh", "--iterations", "1", "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("recigrad: error: --device ") and err.rstrip().endswith(ALLOWED)
    assert not out.exists()  # refused before any work


def test_cli_refuses_a_bad_variable_in_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("RECIGRAD_DEVICE", "tpu")
    assert cli.main(["tune", "--regime", "discriminative-sh", "--method", "reinforce", "--out", str(tmp_path / "t.json")]) == 2
    assert capsys.readouterr().err == f"recigrad: error: RECIGRAD_DEVICE 'tpu': unknown device; {ALLOWED}\n"


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
def test_cli_refuses_cuda_without_cuda(capsys, tmp_path):
    assert cli.main(["bench", "--regimes", "discriminative-sh", "--device", "cuda", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device 'cuda': CUDA is not available" in err and err.rstrip().endswith(ALLOWED)


# ---------------------------------------------------------------------------
# the CPU is unchanged: --device cpu, torch.device("cpu"), "cpu" and nothing agree bit for bit

VARIABLE_KEYS = ("seconds", "seconds_per_iteration", "seconds_to_95", "seconds_to_99", "folder")


def _figures(result):
    """The result without wall-clock times and the folder."""
    if isinstance(result, dict):
        return {k: _figures(v) for k, v in result.items() if k not in VARIABLE_KEYS}
    if isinstance(result, list):
        return [_figures(v) for v in result]
    return result


POP = ["learner:random:1", "disc:shunning:4"]  # small: the reference (the same on every device) is quick


@pytest.fixture
def cached_reference(monkeypatch):
    """``train.regime_reference`` once per regime: the runs compared here share it (it is computed on the CPU)."""
    answers, compute = {}, train.regime_reference

    def reference(regime):
        key = (regime.name, str(regime.population.agents), regime.game)
        if key not in answers:
            answers[key] = compute(regime)
        return answers[key]

    monkeypatch.setattr(train, "regime_reference", reference)


def _train_json(capsys, out: Path, *extra: str) -> dict:
    argv = ["train", *(f"--pop={p}" for p in POP), "--method", "rg", "--iterations", "2", "--interactions", "300",
            "--seeds", "2", "--json", "--out", str(out), *extra]
    assert cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_device_cpu_gives_the_same_json_figures_as_no_flag(capsys, monkeypatch, tmp_path, cached_reference):
    monkeypatch.delenv("RECIGRAD_DEVICE", raising=False)
    plain = _train_json(capsys, tmp_path / "plain")
    flagged = _train_json(capsys, tmp_path / "flag", "--device", "cpu")
    monkeypatch.setenv("RECIGRAD_DEVICE", "cpu")
    variable = _train_json(capsys, tmp_path / "variable")
    assert _figures(flagged) == _figures(plain)
    assert _figures(variable) == _figures(plain)
    assert (tmp_path / "flag" / "tables.json").read_text() == (tmp_path / "plain" / "tables.json").read_text()


def _small_population(iterations: int = 2, interactions: int = 300) -> Regime:
    regime = Regime("custom", "", Game(), parse_pop(POP))
    return replace(regime, train=TrainConfig(**{**regime.train.__dict__, "iterations": iterations, "interactions": interactions}))


@pytest.mark.parametrize("method", ["rg", "ppo", "a2c-mlp"])
def test_explicit_cpu_device_object_and_string_change_nothing(method, monkeypatch, cached_reference):
    monkeypatch.delenv("RECIGRAD_DEVICE", raising=False)
    regime = _small_population()
    plain = train.train_seeds(regime, [0, 1], method)
    for device in (torch.device("cpu"), "cpu"):
        with devices.using(device):
            record = train.train_seeds(regime, [0, 1], method)
        assert record.tables == plain.tables
        assert _figures(record.curve) == _figures(plain.curve)
    result = train.run(regime, [0, 1], method, device=torch.device("cpu"))
    assert _figures(result) == _figures(plain.result)


# ---------------------------------------------------------------------------
# the audit: tensors created on the learners' path follow their inputs' device

SRC = Path(train.__file__).resolve().parents[1]
AUDITED = {"dynamics/meanfield.py", "dynamics/exact.py", "game/formation.py", "learning/estimators.py",
           "learning/change_detection.py", "learning/view.py", "learning/reciprocity_gradient.py",
           "learning/baselines/common.py", "learning/baselines/reinforce.py", "learning/baselines/ppo.py",
           "learning/baselines/mlp.py", "learning/baselines/reinforce_mlp.py", "learning/baselines/a2c_mlp.py",
           "learning/baselines/ppo_mlp.py"}
# built on the CPU on purpose and moved to the logits' device on the next line
MOVED_AFTER = {("learning/baselines/common.py", "outcome_log_probs")}
FACTORIES = {torch.zeros, torch.ones, torch.full, torch.empty, torch.arange, torch.eye, torch.tensor, torch.linspace,
             torch.rand, torch.randn, torch.randint}


class _Audit(TorchFunctionMode):
    """Records every factory call without ``device=`` made directly from an audited file."""

    def __init__(self):
        super().__init__()
        self.missing: set[tuple[str, int, str]] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and kwargs.get("device") is None:
            frame = sys._getframe(1)
            path = Path(frame.f_code.co_filename).resolve()
            if SRC in path.parents:
                where = path.relative_to(SRC).as_posix()
                if where in AUDITED and (where, frame.f_code.co_name) not in MOVED_AFTER:
                    self.missing.add((where, frame.f_lineno, func.__name__))
        return func(*args, **kwargs)


@pytest.mark.parametrize(("name", "method"), [
    ("discriminative-sh", "rg"), ("discriminative-sj-majority3", "rg"), ("society-L3", "rg"),
    ("discriminative-sh", "reinforce"), ("discriminative-sh", "ppo"), ("discriminative-sh", "reinforce-mlp"),
    ("discriminative-sh", "a2c-mlp"), ("discriminative-sh", "ppo-mlp"),
])
def test_every_tensor_on_the_learners_path_follows_its_inputs_device(name, method):
    regime = small(name, iterations=1, interactions=1600 if method != "rg" else 200)
    module = contract.method(method)
    audit = _Audit()
    with audit:
        state = module.start(regime, [0])
        module.step(state)
    assert sorted(audit.missing) == []


def test_the_audit_sees_a_factory_call_without_device():
    audit = _Audit()
    with audit:
        exec(compile("import torch\ntorch.zeros(2)", str(SRC / "dynamics/meanfield.py"), "exec"))
    assert audit.missing == {("dynamics/meanfield.py", 2, "zeros")}


# ---------------------------------------------------------------------------
# CUDA against the CPU (skipped without CUDA)


def _close(actual, expected, what):
    torch.testing.assert_close(torch.as_tensor(actual, dtype=torch.float64).cpu(),
                               torch.as_tensor(expected, dtype=torch.float64).cpu(), rtol=CUDA_TOL, atol=CUDA_TOL, msg=what)


@needs_cuda
@pytest.mark.parametrize("game", [Game(), Game(observers=3, aggregation="majority"), Game(recipient_observes=False)])
def test_cuda_models_agree_with_cpu(game):
    generator = torch.Generator().manual_seed(7)
    act, sig = torch.rand(3, 6, 2, 2, generator=generator), torch.rand(3, 6, 2, 2, 2, generator=generator)
    pc, so = observable(act, sig, game)
    for solve in (meanfield.solve, exact.solve):
        cpu_pc, cpu_so = pc.detach().clone().requires_grad_(), so.detach().clone()
        gpu_pc, gpu_so = pc.detach().to(GPU).clone().requires_grad_(), so.detach().to(GPU).clone()
        cpu, gpu = solve(cpu_pc, cpu_so, game), solve(gpu_pc, gpu_so, game)
        assert gpu.payoff.device.type == torch.device(GPU).type
        _close(gpu.payoff, cpu.payoff, f"{solve.__module__} payoff")
        _close(gpu.good, cpu.good, f"{solve.__module__} good")
        cpu.payoff[:, 0].sum().backward()
        gpu.payoff[:, 0].sum().backward()
        _close(gpu_pc.grad, cpu_pc.grad, f"{solve.__module__} gradient")


@needs_cuda
def test_cuda_estimator_estimates_agree_with_cpu():
    regime = small("discriminative-sj-majority3", interactions=3000)
    state = contract.method("reinforce").start(regime, [0, 1])
    records = state.play(3000)
    config = estimators.EstimatorConfig()
    cpu = estimators.update(estimators.init_state(2, regime.population.n), records, config)
    gpu = estimators.update(estimators.init_state(2, regime.population.n, device=GPU), records, config)
    for name, value in cpu.to_dict().items():
        if value.dtype.is_floating_point:
            _close(getattr(gpu, name), value, name)
        else:
            assert torch.equal(getattr(gpu, name).cpu(), value), name
    for cpu_table, gpu_table in zip(estimators.estimate(cpu, config), estimators.estimate(gpu, config)):
        assert gpu_table.device.type == torch.device(GPU).type
        _close(gpu_table, cpu_table, "estimate")


@needs_cuda
@pytest.mark.parametrize(("name", "method"), [
    ("discriminative-sh", "rg"), ("society-4", "rg"), ("discriminative-sj-majority3", "rg"),
    ("discriminative-sh", "reinforce"), ("discriminative-sh", "ppo"), ("discriminative-sh", "ppo-mlp"),
])
def test_cuda_training_agrees_with_cpu(name, method, cached_reference):
    interactions = 400 if method == "rg" else 1600
    if name == "society-4":  # four learners warmed up at L3, NashConv in the evaluations
        society = Regime(name, "", Game(), parse_pop(["learner:L3:4"]))
        regime = replace(society, train=TrainConfig(**{**society.train.__dict__, "iterations": 4, "interactions": interactions}))
    else:
        regime = small(name, iterations=4, interactions=interactions)
    cpu = train.train_seeds(regime, [0, 1], method)
    with devices.using(GPU):
        state = contract.method(method).start(regime, [0, 1])
        assert state.device.type == torch.device(GPU).type
        gpu = train.train_seeds(regime, [0, 1], method)
    for line_gpu, line_cpu in zip(gpu.curve, cpu.curve):
        for key, value in line_cpu.items():
            if key != "seconds" and isinstance(value, list) and all(isinstance(v, float) for v in value):
                _close(line_gpu[key], value, f"{key} at iteration {line_cpu['iteration']}")
    for run_gpu, run_cpu in zip(gpu.tables["runs"], cpu.tables["runs"]):
        _close(run_gpu["act"], run_cpu["act"], "act")
        _close(run_gpu["sig"], run_cpu["sig"], "sig")


@needs_cuda
@pytest.mark.parametrize("method", ["rg", "ppo", "a2c-mlp"])
def test_cuda_start_draws_the_same_numbers_as_cpu(method):
    regime = load_regime("discriminative-sh")
    cpu = contract.method(method).start(regime, [0, 5])
    with devices.using(torch.device(GPU)):
        gpu = contract.method(method).start(regime, [0, 5])
    assert torch.equal(gpu.logits_act.cpu(), cpu.logits_act)
    assert torch.equal(gpu.logits_sig.cpu(), cpu.logits_sig)
    for name, p in getattr(cpu, "params", {}).items():
        assert torch.equal(gpu.params[name].cpu(), p), name


@needs_cuda
@pytest.mark.parametrize("method", ["rg", "ppo", "a2c-mlp"])
def test_cuda_checkpoint_resumes_on_cuda(method, tmp_path, cached_reference):
    regime = small("discriminative-sh", iterations=4, interactions=400 if method == "rg" else 1600)
    work = tmp_path / "work"
    with devices.using(GPU):
        whole = train.train_seeds(regime, [0], method, eval_every=1, work=work, checkpoint_every=2)  # leaves iteration 2
        assert sorted(p.name for p in work.glob("state-*.npz")) == ["state-000002.npz"]
        resumed = train.train_seeds(regime, [0], method, eval_every=1, work=work, resume=True)
    assert [line["iteration"] for line in resumed.curve] == [1, 2, 3, 4]
    _close(resumed.tables["runs"][0]["act"], whole.tables["runs"][0]["act"], "act after resuming")
    _close(resumed.tables["runs"][0]["sig"], whole.tables["runs"][0]["sig"], "sig after resuming")
