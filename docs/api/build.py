"""Build the API reference from the docstrings with pdoc, and check it.

Usage: ``python docs/api/build.py OUT`` (``make docs`` writes ``site/``).
Renders every module of ``recigrad`` as HTML into ``OUT`` and exits 1, listing
the problems, when pdoc warned about anything (a module that does not import,
an annotation it cannot read, an ``__all__`` entry that does not resolve) or
when a docstring names a ``recigrad.x.y`` object in backticks that does not
exist.  ``tests/test_docs.py`` runs the same checks, so a broken reference
fails the test suite.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import warnings
from pathlib import Path

PACKAGE = "recigrad"
DOCFORMAT = "google"  # Args:/Returns: sections; the rest is Markdown, ``code`` included

# `recigrad.a.b` or ``recigrad.a.b`` (optionally called: ``recigrad.a.b()``), closed right after the name
DOTTED = re.compile(r"(?<!`)(`{1,2})(" + PACKAGE + r"(?:\.[A-Za-z_]\w*)+)(?:\(\))?\1(?!`)")


def dotted_names(text: str) -> list[str]:
    """The backtick-quoted dotted ``recigrad.`` names in ``text``, in order."""
    return [m.group(2) for m in DOTTED.finditer(text)]


def resolves(name: str) -> bool:
    """Whether ``name`` (``recigrad.x.y``) is an importable module or an attribute of one.

    The longest importable module prefix is imported and the rest looked up as
    attributes, so ``recigrad.game.Game`` and ``recigrad.running.train.run`` resolve
    while ``recigrad.game.nothing`` does not.  A module that exists but fails to
    import raises (the reference would be broken for another reason).
    """
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and module_name.startswith(error.name) and error.name.startswith(PACKAGE):
                continue  # this prefix is not a module: try a shorter one
            raise
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def docstrings(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every bare string statement in a source file: the
    module, class and function docstrings and the attribute docstrings pdoc shows."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.append((node.lineno, node.value.value))
    return found


def broken_names(root: Path) -> list[str]:
    """``path:line: name`` for every backtick-quoted ``recigrad.`` name in the
    docstrings of the ``.py`` files under ``root`` that does not resolve."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        for line, text in docstrings(path):
            for name in dotted_names(text):
                if not resolves(name):
                    problems.append(f"{path}:{line}: `{name}` does not resolve")
    return problems


def render(out: Path, modules: list[str] | None = None) -> list[str]:
    """Render ``modules`` (default: the package and all its submodules) into ``out``
    with pdoc; return the warnings raised from pdoc's code or from the documented
    modules' own code, one line each (a third-party library's warning on import,
    a deprecation say, is not a fault of the reference and is left out)."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat=DOCFORMAT, footer_text=f"{PACKAGE} API reference")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*(modules or [PACKAGE]), output_directory=out)
    sources = [Path(pdoc.__file__).parent.resolve()] + [_source(name) for name in (modules or [PACKAGE])]
    return [
        f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        for w in caught
        if any(Path(w.filename).resolve().is_relative_to(root) for root in sources if root is not None)
    ]


def _source(module_name: str) -> Path | None:
    """The folder (package) or file (module) that ``module_name`` comes from, if it can be found."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin).resolve()
    return origin.parent if spec.submodule_search_locations else origin


def package_root() -> Path:
    module = importlib.import_module(PACKAGE)
    return Path(module.__file__).parent


def build(out: Path) -> list[str]:
    """Render the reference into ``out``; return every problem found (empty when sound)."""
    return render(out) + broken_names(package_root())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/api/build.py OUT", file=sys.stderr)
        return 2
    out = Path(argv[0])
    problems = build(out)
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    if problems:
        print(f"docs: {len(problems)} problem(s); the reference in {out} is incomplete", file=sys.stderr)
        return 1
    print(f"docs: API reference written to {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
