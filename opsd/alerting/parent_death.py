"""The delivery child dies with its parent: it must never send for a process that is gone.

A parent killed with SIGKILL cannot end its child, and a child that outlived it would still
send what was queued on its stdin, to receivers that then get a message the outbox will send
again. So the child (`opsd.alerting.deliver`) asks Linux to SIGKILL it when its parent dies
(`prctl(PR_SET_PDEATHSIG)`), then checks that its parent is still the process that started
it (the parent may have died before the request), and checks again before each send.

PR_SET_PDEATHSIG fires when the *thread* that started the child ends, not the process: the
parent starts a child and uses it within one call in one thread (`AppriseWorker`).

Standard library only: the child imports this before anything else.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent (thread) dies; False where it
    cannot (not Linux, no libc): the checks of `orphaned` are all there is then."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def orphaned(parent: int | None) -> bool:
    """Whether the process that started this one (`parent`, its pid as it passed it) is gone:
    our parent pid is another one now (the orphan was handed to init or a subreaper)."""
    return parent is not None and os.getppid() != parent
