"""`civicloud demo --once`: the whole story, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.libvirt]


def test_demo_once_runs_bobignys_vm_on_drancy(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "civicloud", "demo", "--once", "--port", "0",
                           "--data-dir", str(tmp_path), "--timeout", "60"],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "bobigny-teletravail-1 is running on drancy-hv" in out, out
    assert "Traceback" not in proc.stderr
    # every agent joined and reported: four hosts in the summary
    for host in ("drancy-hv1", "drancy-hv2", "bobigny-hv1", "avicenne-hds1"):
        assert host in out
