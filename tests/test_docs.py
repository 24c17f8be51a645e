"""The API reference (``make docs``, built by ``docs/api/build.py`` with pdoc) renders every
module without a warning, and every backtick-quoted ``recigrad.x.y`` name in a docstring resolves."""

import importlib.util
import pkgutil
import sys
from pathlib import Path

import pytest

import recigrad

pytest.importorskip("pdoc")

ROOT = Path(__file__).resolve().parent.parent


def _load_builder():
    spec = importlib.util.spec_from_file_location("recigrad_docs_build", ROOT / "docs" / "api" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_builder()


def test_reference_builds_without_problems(tmp_path):
    pytest.importorskip("pettingzoo")  # recigrad.envs.pettingzoo must import to be documented
    assert build.build(tmp_path) == []
    pages = {str(p.relative_to(tmp_path).with_suffix("")).replace("/", ".").replace("\\", ".") for p in tmp_path.rglob("*.html")}
    modules = {"recigrad"} | {m.name for m in pkgutil.walk_packages(recigrad.__path__, "recigrad.")}
    assert modules - pages == set()  # every module has its page (none hidden by an __all__)
    assert (tmp_path / "index.html").is_file()


def test_dotted_names_are_found_in_single_and_double_backticks():
    text = "See ``recigrad.game.Game``, `recigrad.running.train.run()` and recigrad.game.rules; not ``recigrad.game`."
    assert build.dotted_names(text) == ["recigrad.game.Game", "recigrad.running.train.run"]


@pytest.mark.parametrize("name", ["recigrad", "recigrad.game", "recigrad.game.Game", "recigrad.game.rules.DTYPE",
                                  "recigrad.running.train.run", "recigrad.dynamics.solution.Solution.cooperation"])
def test_existing_names_resolve(name):
    assert build.resolves(name)


@pytest.mark.parametrize("name", ["recigrad.game.Gmae", "recigrad.nothing", "recigrad.nothing.at_all",
                                  "recigrad.dynamics.exact.solve.missing", "recigrad.game.rules.Game.nope"])
def test_missing_names_do_not_resolve(name):
    assert not build.resolves(name)


def test_a_broken_name_in_a_docstring_is_reported_with_its_place(tmp_path):
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_text(
        '"""Uses ``recigrad.game.Game`` and ``recigrad.dynamics.exact.solve``."""\n'
        "\n"
        "def f():\n"
        '    """Returns a ``recigrad.dynamics.exact.Solutoin``."""\n'
        "    x = 1  # ``recigrad.not.a.docstring`` is a comment\n"
        '    return "``recigrad.nor.this``"\n'
    )
    assert build.broken_names(tmp_path) == [f"{source}:4: `recigrad.dynamics.exact.Solutoin` does not resolve"]


def test_a_pdoc_warning_is_a_problem(tmp_path, monkeypatch):
    package = tmp_path / "docs_broken_pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""``__all__`` names a member that does not exist."""\n__all__ = ["ghost"]\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = build.render(tmp_path / "site", ["docs_broken_pkg"])
    sys.modules.pop("docs_broken_pkg", None)
    assert len(problems) == 1
    assert "ghost" in problems[0]


def test_a_warning_from_the_documented_code_is_a_problem_and_a_third_party_one_is_not(tmp_path, monkeypatch):
    package = tmp_path / "docs_warning_pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""Warns when imported."""\nimport warnings\n\nwarnings.warn("own warning")\n')
    (tmp_path / "docs_other_lib.py").write_text('import warnings\n\nwarnings.warn("third-party warning", DeprecationWarning)\n')
    (package / "user.py").write_text('"""Imports a library that warns."""\nimport docs_other_lib  # noqa: F401\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = build.render(tmp_path / "site", ["docs_warning_pkg"])
    for name in ("docs_warning_pkg", "docs_warning_pkg.user", "docs_other_lib"):
        sys.modules.pop(name, None)
    assert problems == ["UserWarning: own warning"]
