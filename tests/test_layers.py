"""The layering rules hold for this checkout, and the checker catches each kind of break."""

from __future__ import annotations

from pathlib import Path

# private: the checker is a development tool run as ``python -m dse._check_layers``
from dse._check_layers import MAX_LINES, check, check_package, check_private_imports


def test_this_checkout_keeps_every_rule() -> None:
    assert check() == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "dse"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_an_import_up_the_stack_is_caught_even_inside_a_function(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "netlist/_x.py": "def f():\n    from dse.arith import lower\n",
            "eval/_y.py": "from ..arith._graph import MultiplierGraph\n",
            "arith/_z.py": "import torch\nfrom dse.netlist import Netlist\nfrom dse.errors import DseError\n",
            "nn/_w.py": "from dse.eval import evaluate_netlist\n",
        },
    )
    problems = check_package(root)
    assert problems == [
        "dse/arith/_z.py:1: dse.arith imports torch",
        "dse/eval/_y.py:1: dse.eval imports dse.arith._graph (a layer above it)",
        "dse/netlist/_x.py:2: dse.netlist imports dse.arith (a layer above it)",
        "dse/nn/_w.py:1: dse.nn imports dse.eval (a layer above it)",
    ]


def test_long_modules_and_scattered_optuna_internals_are_caught(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "search/_a.py": "x = 1\n" * (MAX_LINES + 1),
            "search/_b.py": "def f(study):\n    return study._storage\n",
            "search/_c.py": "from optuna.storages._heartbeat import is_heartbeat_enabled\n",
            # the two modules allowed to
            "search/_optuna_store.py": "def f(study):\n    return study._storage\n",
            "search/_optuna_queue.py": "from optuna.storages._rdb import models\n",
        },
    )
    problems = check_package(root)
    assert problems[0] == f"dse/search/_a.py: {MAX_LINES + 1} lines (at most {MAX_LINES})"
    assert problems[1] == (
        "Optuna's private internals are reached outside dse/search/_optuna_queue.py, "
        "dse/search/_optuna_store.py: dse/search/_b.py:2, dse/search/_c.py:1"
    )


def test_private_imports_in_tests_and_docs_need_a_reason(tmp_path: Path) -> None:
    test = tmp_path / "test_x.py"
    test.write_text(
        "from dse.eval import simulate\n"
        "from dse.eval._sim import simulate_reference\n"
        "# private: the reference itself is under test\n"
        "from dse.eval._sim import simulate_reference as ref\n"
        "from dse.eval import _kernels\n"
    )
    doc = tmp_path / "guide.md"
    doc.write_text("text\n```python\nfrom dse.netlist._lower import lower\n```\n")
    assert check_private_imports([test, doc], tmp_path) == [
        "test_x.py:2: imports a private dse module (from dse.eval._sim import "
        "simulate_reference); use the public name or say why with '# private: ...'",
        "test_x.py:5: imports a private dse module (from dse.eval import _kernels); "
        "use the public name or say why with '# private: ...'",
        "guide.md:3: imports a private dse module (from dse.netlist._lower import lower); "
        "use the public name or say why with '# private: ...'",
    ]
