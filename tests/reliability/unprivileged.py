"""Run a function as the unprivileged user `nobody`, because root reads and writes files whatever their mode.

The function runs in a forked child (the interpreter, and everything imported, is already in memory, so
`nobody` needs no access to the Python installation: import what the function needs before calling); its
printed output and integer result come back.
"""

from __future__ import annotations

import contextlib
import io
import os
import traceback
from collections.abc import Callable

NOBODY = 65534


def call_as_nobody(function: Callable[..., int], *args: object) -> tuple[int, str]:
    """(function's return value, or 99 if it raised; everything it printed). Without root, runs as ourselves."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, run, report, and exit without running the parent's cleanup
        os.close(read_end)
        output, code = io.StringIO(), 99
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                code = function(*args)
        except BaseException:  # noqa: BLE001 - reported to the parent as output
            output.write(traceback.format_exc())
        finally:
            with os.fdopen(write_end, "w") as pipe:
                pipe.write(output.getvalue())
            os._exit(code if isinstance(code, int) else 98)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        printed = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), printed
