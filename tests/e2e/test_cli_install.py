"""`pip install .` in a fresh virtualenv gives a working `haul` and none of the server's packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runtime import ROOT

pytestmark = pytest.mark.slow

SERVER_ONLY = {"chalice", "boto3", "botocore", "pynamodb", "moto", "pydantic", "requests", "argon2-cffi", "pyjwt",
               "aws-xray-sdk", "pytest", "ruff", "mypy", "schemathesis", "awscli", "cfn-lint"}


def test_pip_install_dot_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    helped = subprocess.run([str(venv / "bin" / "haul"), "--help"], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert helped.returncode == 0 and "Usage: haul" in helped.stdout, helped.stderr
    frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, timeout=60).stdout
    installed = {line.split("==")[0].lower() for line in frozen.splitlines()}
    assert "haul-cli" in installed and {"click", "rich", "httpx", "websockets"} <= installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    # Only the client was packaged: the server's code is not importable from that venv.
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import chalicelib"], capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert probe.returncode != 0 and "No module named 'chalicelib'" in probe.stderr
