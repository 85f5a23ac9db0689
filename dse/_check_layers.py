"""Check dse's layering from the source alone: ``python -m dse._check_layers``.

The hardware path points one way (as Amaranth's ``hdl`` never imports ``back``)::

    netlist  <-  arith, eval  <-  design  <-  export, tram, search  <-  cli
    nn (tables only, no circuits)  <-  optim, tram, search

Checked with :mod:`ast`, so an import inside a function counts as much as one at the
top of a module (a lazy import must not run up the stack either):

- each ``dse`` package imports only the packages below it (:data:`ALLOWED`);
- the hardware packages import neither torch nor optuna;
- no module under ``dse/`` is longer than :data:`MAX_LINES` lines;
- Optuna's private attributes and modules are reached only from the modules of
  :data:`OPTUNA_PRIVATE_MODULES` (the trial store and the evaluation queue);
- tests and docs import no private ``dse`` module (``dse.x._y``), except where a
  ``# private: REASON`` comment on the import line or the line above says why.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_LINES = 700

#: The only modules that may reach Optuna's private names: the trial store (batched
#: records, heartbeats) and the evaluation queue built on the storage's WAITING trials.
OPTUNA_PRIVATE_MODULES = frozenset({"dse/search/_optuna_store.py", "dse/search/_optuna_queue.py"})

#: Base modules every package may import.
BASE = frozenset({"errors", "_jit", "_status", "data"})

#: package -> the dse packages it may import.
ALLOWED: dict[str, frozenset[str]] = {
    "netlist": frozenset(),
    "arith": frozenset({"netlist"}),
    "eval": frozenset({"netlist"}),
    "design": frozenset({"netlist", "arith", "eval"}),
    "export": frozenset({"netlist", "arith", "eval", "design"}),
    "nn": frozenset(),
    "optim": frozenset({"nn"}),
    "tram": frozenset({"netlist", "arith", "eval", "design", "nn", "optim"}),
    "testing": frozenset({"netlist", "arith", "eval", "design"}),
    "search": frozenset({"netlist", "arith", "eval", "design", "export", "nn", "optim", "tram"}),
}
HARDWARE = frozenset({"netlist", "arith", "eval", "design"})
NO_THIRD_PARTY_IN_HARDWARE = frozenset({"torch", "optuna"})

#: Optuna internals dse needs (storage-level trial attributes, heartbeats, the SQL
#: session); reaching them from more than one module spreads a version dependency.
OPTUNA_PRIVATE_ATTRS = frozenset(
    {
        "_storage",
        "_study_id",
        "_trial_id",
        "_backend",
        "_create_scoped_session",
        "_set_trial_attr_without_commit",
        "_get_stale_trial_ids",
        "_is_heartbeat_enabled",
        "_fail_stale_trials",
    }
)

_PRIVATE_DSE = re.compile(r"^dse(\.[A-Za-z0-9_]+)*\._[a-z0-9]")
_PRIVATE_OK = re.compile(r"#\s*private:\s*\S")


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name
            # ``from dse.x import _y`` reaches a private module as surely as ``import``
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield node.lineno, f"{name}.{alias.name}"


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def check_package(root: Path) -> list[str]:
    """Violations of the layer, size and Optuna rules under the package folder ``root``."""
    problems: list[str] = []
    optuna_users: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{rel}: {lines} lines (at most {MAX_LINES})")
        module = _module_name(root, path)
        pkg = _package(module)
        tree = ast.parse(text, filename=str(rel))
        for line, name in _imports(tree, module, path.name == "__init__.py"):
            top = name.split(".")[0]
            if pkg in HARDWARE and top in NO_THIRD_PARTY_IN_HARDWARE:
                problems.append(f"{rel}:{line}: dse.{pkg} imports {top}")
            if name.startswith("optuna.") and any(p.startswith("_") for p in name.split(".")[1:]):
                optuna_users.setdefault(str(rel), line)
            if top != "dse" or pkg not in ALLOWED:
                continue
            target = _package(name)
            if not target or target == pkg or target in BASE:
                continue
            if target not in ALLOWED[pkg]:
                problems.append(f"{rel}:{line}: dse.{pkg} imports {name} (a layer above it)")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in OPTUNA_PRIVATE_ATTRS:
                optuna_users.setdefault(str(rel), node.lineno)
    others = {
        f: ln for f, ln in optuna_users.items() if Path(f).as_posix() not in OPTUNA_PRIVATE_MODULES
    }
    if others:
        where = ", ".join(f"{f}:{ln}" for f, ln in sorted(others.items()))
        allowed = ", ".join(sorted(OPTUNA_PRIVATE_MODULES))
        problems.append(f"Optuna's private internals are reached outside {allowed}: {where}")
    return problems


def _python_blocks(markdown: str) -> Iterator[tuple[int, str]]:
    """(line, code line) of every line inside a ```python block."""
    inside = False
    for number, line in enumerate(markdown.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = not inside and stripped[3:].strip().lower() in ("python", "py", "pycon")
            continue
        if inside:
            yield number, line


def check_private_imports(files: list[Path], base: Path) -> list[str]:
    """Imports of private dse modules in tests (``.py``) and docs (``.md``)."""
    problems = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            lines = list(_python_blocks(text))
        else:
            lines = list(enumerate(text.splitlines(), 1))
        for i, (number, line) in enumerate(lines):
            m = re.match(r"\s*(?:from\s+(\S+)\s+import\s+(.*)|import\s+(\S+))", line)
            if not m:
                continue
            names = [m.group(1) or m.group(3)]
            if m.group(1):
                names += [
                    f"{m.group(1)}.{n.strip().split(' ')[0]}"
                    for n in m.group(2).strip("()\\ ").split(",")
                    if n.strip().startswith("_") and not n.strip().startswith("__")
                ]
            above = lines[i - 1][1] if i else ""
            said = _PRIVATE_OK.search(line) or _PRIVATE_OK.search(above)
            if any(_PRIVATE_DSE.match(n) for n in names) and not said:
                problems.append(
                    f"{path.relative_to(base)}:{number}: imports a private dse module "
                    f"({line.strip()}); use the public name or say why with '# private: ...'"
                )
    return problems


def check(repo: Path | None = None) -> list[str]:
    """Every violation in the checkout at ``repo`` (default: this package's checkout)."""
    root = Path(__file__).resolve().parent
    repo = repo or root.parent
    problems = check_package(repo / "dse")
    files = sorted((repo / "tests").rglob("*.py")) if (repo / "tests").is_dir() else []
    files += sorted((repo / "docs").glob("*.md")) if (repo / "docs").is_dir() else []
    files += [repo / "README.md"] if (repo / "README.md").is_file() else []
    return problems + check_private_imports(files, repo)


def main() -> int:
    problems = check()
    for p in problems:
        print(p)
    print(f"{len(problems)} layering problem(s)" if problems else "layers: all rules hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
