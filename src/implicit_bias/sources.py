"""Which of the package's source files each command-line verb runs, from its import graph.

The workflow declares these files as inputs of the rule that calls the verb, so that editing a
module reruns exactly the rules whose results it can change (and what depends on them). The graph is
read from the source (``ast``), without importing anything: every ``import`` of a package module,
at the top of a file or inside a function, is an edge, so the closure is a superset of what one run
happens to import.
"""

from __future__ import annotations

import ast
import os
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NAME = PACKAGE.name

CLI = f"{NAME}.cli"  # every verb runs cli.py, whose handlers import lazily: a leaf, read per handler


def _module_file(module: str) -> Path:
    """implicit_bias.theory.judging -> .../theory/judging.py (or .../theory/__init__.py)."""
    parts = module.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    parts = [NAME, *relative.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, nodes) -> set[str]:
    """The package modules named by the import statements among ``nodes`` (with their parents)."""
    path = _module_file(module)
    is_package = path.name == "__init__.py"
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == NAME)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == NAME:
                target = node.module
            else:
                continue
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` names a module
    modules = set()
    for name in found:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
            candidate = ".".join(parts[:end])
            if candidate != NAME and _module_file(candidate).exists():
                modules.add(candidate)
    return modules


@cache
def imports_of(module: str) -> frozenset[str]:
    """The package modules that ``module`` imports anywhere in its source: at the top or in a function."""
    if module == CLI:
        return frozenset()
    tree = ast.parse(_module_file(module).read_text())
    return frozenset(_imported(module, ast.walk(tree)))


def handler_imports(verb: str, *, conditional: bool = False) -> set[str]:
    """What the verb's handler ``_<verb>`` in cli.py imports: the statements of its body, or with
    ``conditional`` also those inside its ``if`` blocks (e.g. train's claims, only with a cap)."""
    tree = ast.parse(_module_file(CLI).read_text())
    handler = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == f"_{verb}"), None)
    if handler is None:
        raise ValueError(f"unknown verb {verb!r}: cli.py has no handler _{verb}")
    nodes = ast.walk(handler) if conditional else handler.body
    return _imported(CLI, nodes)


def closure(modules) -> set[str]:
    """Every package module reached from ``modules`` through imports."""
    seen, todo = set(), [f"{NAME}.{m}" if not m.startswith(NAME) else m for m in modules]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(imports_of(module) - seen)
    return seen


def verb_sources(verb: str, *, conditional: bool = False) -> list[str]:
    """The source files (sorted paths) that ``verb`` runs; ``conditional`` adds what its handler
    imports only in some cases (train: the claims, for a classification flow that continues until its checks
    decide)."""
    return list(_verb_sources(verb, conditional))


@cache
def _verb_sources(verb: str, conditional: bool) -> tuple[str, ...]:
    """Computed once per workflow load (the train rule asks for every job)."""
    modules = closure({NAME, f"{NAME}.__main__", CLI} | handler_imports(verb, conditional=conditional))
    return tuple(sorted(str(_module_file(m)) for m in modules))


def put_package_on_pythonpath(environ) -> None:
    """Put the folder holding this package first on ``environ``'s PYTHONPATH: the workflow's jobs then
    import the very files it declared as their code inputs, also inside a conda environment
    (``--use-conda``, workflow/envs/runtime.yaml) that does not install the package."""
    rest = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(PACKAGE.parent)]
    environ["PYTHONPATH"] = os.pathsep.join([str(PACKAGE.parent), *rest])
