"""The environment of "another machine" for the second, strict nbval pass.

Stored outputs must not depend on the CPU, the BLAS kernel or the thread
count. Two runs on one machine can show that they do not, if the second run
computes differently: this module gives the environment for it.

- ``OPENBLAS_CORETYPE``: another OpenBLAS kernel than the one numpy uses here
  (Sandybridge, an AVX kernel without FMA, or Nehalem where Sandybridge is the
  one in use); its summation order and fused multiply-adds differ.
- ``OPENBLAS_NUM_THREADS=1``: one thread, so the blocking of a product differs.
- ``NPY_DISABLE_CPU_FEATURES``: numpy's own SIMD loops (exp, log, sums) fall
  back to the baseline instructions, as on an older CPU.

Run a command "on another machine":
``.venv/bin/python tests/other_machine.py -- pytest --nbval notebooks/01_sigmoid.ipynb``.
"""
import os
import subprocess
import sys


def openblas_kernel():
    """The OpenBLAS kernel numpy runs in this process (e.g. 'Haswell'), or None."""
    import numpy  # noqa: F401  (loads OpenBLAS)
    import threadpoolctl

    for info in threadpoolctl.threadpool_info():
        if info.get("internal_api") == "openblas":
            return info.get("architecture")
    return None


def numpy_dispatched_features():
    """The SIMD features numpy dispatches to on this CPU (beyond its baseline)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


def other_machine_env(base=None):
    env = dict(os.environ if base is None else base)
    current = openblas_kernel()
    env["OPENBLAS_CORETYPE"] = "Nehalem" if current == "Sandybridge" else "Sandybridge"
    env["OPENBLAS_NUM_THREADS"] = "1"
    features = numpy_dispatched_features()
    if features:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(features)
    else:
        env.pop("NPY_DISABLE_CPU_FEATURES", None)
    return env


def describe(env):
    keys = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "NPY_DISABLE_CPU_FEATURES")
    return ", ".join(f"{k}={env[k]}" for k in keys if k in env)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    if args[0] in ("pytest", "python"):
        args = [sys.executable] + (["-m", "pytest"] if args[0] == "pytest" else []) + args[1:]
    env = other_machine_env()
    print(f"other machine: {describe(env)}", file=sys.stderr)
    sys.exit(subprocess.call(args, env=env))
