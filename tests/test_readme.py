"""The README's commands, run in order in an empty folder, as a newcomer types them.

Every ```bash block of README.md is run line by line by bash, in order, in one
temporary folder that holds only a copy of ``studies/`` (the quickstart names its
search space, which dse finds among its shipped spaces). Two kinds of command are left
out because the test itself stands for them: ``pip install ...`` (this environment
is the installed one) and ``python -m pytest`` (the suite this test is part of). The
study storage and the outputs land in the temporary folder; the data and baseline
cache is the user's own (``DSE_CACHE_DIR``), as for anyone running the README twice.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_commands(text: str) -> list[str]:
    """The shell commands of the README's bash blocks, in order, without the install
    and test-suite commands and without comments."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for raw in block.splitlines():
            line = raw.split("  #")[0].strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("&&")]
            parts = [
                p
                for p in parts
                if not p.startswith("pip install") and not p.startswith("python -m pytest")
            ]
            if parts:
                commands.append(" && ".join(parts))
    return commands


def test_readme_commands_are_found() -> None:
    commands = readme_commands((REPO / "README.md").read_text())
    assert commands[0].startswith("dse run studies/quickstart.yaml")
    assert not any("pip install" in c or "pytest" in c for c in commands)
    assert len(commands) >= 10


@pytest.mark.slow
def test_readme_commands_run_in_order(tmp_path: Path) -> None:
    if shutil.which("dse") is None:
        pytest.skip("the dse command is not on PATH (package not installed)")
    shutil.copytree(REPO / "studies", tmp_path / "studies")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for command in readme_commands((REPO / "README.md").read_text()):
        res = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; {command}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert res.returncode == 0, (
            f"README command failed ({res.returncode}): {command}\n"
            f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
        )
    assert (tmp_path / "front.png").stat().st_size > 10_000
    assert list((tmp_path / "designs").glob("trial_*/*.v"))
    assert list((tmp_path / "luts").glob("*.npy"))
