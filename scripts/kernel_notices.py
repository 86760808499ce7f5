"""Kernels' standard error without the notice every ipykernel 7 kernel prints when it starts.

Each kernel started by nbclient or jupyter-cache writes "Kernel is running over
TCP without encryption ..." to the standard error it inherits. The notice is
about Jupyter's transport, not about the book: the scripts that execute
notebooks pass their standard error through :func:`kernel_notices_filtered`.
"""
import contextlib
import os
import sys
import tempfile

#: What every kernel prints when it starts (ipykernel 7).
KERNEL_NOTICE = "Kernel is running over TCP without encryption"


@contextlib.contextmanager
def kernel_notices_filtered():
    """Pass the standard error of this process and its kernels through, without KERNEL_NOTICE lines.

    The lines are held back until the block ends (a kernel writes to the file
    descriptor, which Python cannot filter line by line as it is written).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if KERNEL_NOTICE not in line:
                    sys.stderr.write(line)
            sys.stderr.flush()
