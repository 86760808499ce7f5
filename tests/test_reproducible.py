"""Stored outputs reproduce on another machine: strict nbval once more, computing differently.

``make test`` runs strict nbval over every notebook on this machine; this file
runs it again for each notebook under another OpenBLAS kernel, one thread and
numpy's baseline SIMD loops (``tests/other_machine.py``), so that an output
whose digits depend on the hardware fails here, not on a reader's machine.
"""
import subprocess
import sys

import pytest

from conftest import ROOT
from other_machine import describe, other_machine_env

pytestmark = pytest.mark.notebooks

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PROBE = ("import numpy, threadpoolctl, json; from numpy._core._multiarray_umath import __cpu_features__ as f;"
         "print(json.dumps([[i.get('architecture'), i.get('num_threads')] for i in threadpoolctl.threadpool_info()"
         " if i.get('internal_api') == 'openblas'] + [sorted(k for k, v in f.items() if v)]))")


@pytest.fixture(scope="module")
def env():
    return other_machine_env()


def test_the_other_machine_computes_differently(env):
    import json

    here = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    there = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                                      env=env).stdout)
    assert there[0] == [env["OPENBLAS_CORETYPE"], 1], (here, there)
    assert there[0][0] != here[0][0]
    if "NPY_DISABLE_CPU_FEATURES" in env:
        assert set(there[-1]) < set(here[-1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_reproduce_on_another_machine(env, path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval",
         str(path), "--nbval-sanitize-with", str(ROOT / "tests" / "sanitize.cfg")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"on another machine ({describe(env)}):\n" + proc.stdout[-6000:]
