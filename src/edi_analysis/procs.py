"""Child processes that end with their parent: workers, kernels, publishing workers.

A run or a publish starts worker processes, and each worker starts a Jupyter
kernel. When the command is killed outright (``kill -9``, an out-of-memory
kill, a closed terminal) it cannot stop them, and they would go on executing
notebooks over person-level data. So each of them asks the kernel to kill it
when its parent dies: Linux's ``prctl(PR_SET_PDEATHSIG, SIGKILL)``
(prctl(2)), set by the child itself (in the worker initialiser; in the
kernel, by :mod:`edi_analysis.kernel_launcher` before ipykernel starts).

The signal is sent when the *thread* that started the child exits; the
tool's workers and kernels are started from the main thread of their parent
(a kernel from the thread that owns it, which is the thread that uses it).
A child whose parent died before the call is already an orphan: it exits at
once (:func:`die_with_parent` compares the parent pid with the expected one).

On other systems there is no such call; there the kernels still exit when
their parent goes (ipykernel polls its parent), and Ctrl-C and SIGTERM stop
every worker as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


def die_with_parent(expected_parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Ask to receive ``sig`` when the parent dies; exit now if it already has.

    ``expected_parent``: the parent's pid as the parent saw it (a child whose
    parent is no longer that process was orphaned before it could ask).
    Returns whether the request was made (False off Linux).
    """
    prctl = _prctl()
    done = False
    if prctl is not None:
        done = prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(128 + int(sig))
    return done
