"""Run `medassist train` and SIGKILL the process at a chosen point, the way a preempted Kaggle kernel dies.

    python tests/reliability/killpoints.py POINT -- <medassist train arguments>

POINT is one of KILL_POINTS. The real code runs unchanged up to the point: a wrapper around one of
medassist's own functions sends SIGKILL to its own process, so nothing (no `finally`, no atexit) runs after.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

KILL_POINTS = {
    "tokenising": "while the 10th training example is tokenised",
    "mid-epoch": "at the end of optimizer step 7, after checkpoint-5 is written",
    "adapter-save": "after the adapter weights are staged, before the staged adapter replaces the destination",
}


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_on_call(function: Callable[..., Any], call: int) -> Callable[..., Any]:
    calls = 0

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            _die()
        return function(*args, **kwargs)

    return wrapper


def arm(point: str) -> None:
    """Install the kill for `point` in medassist.train."""
    from medassist import train

    if point == "tokenising":
        train.encode = _kill_on_call(train.encode, 10)
    elif point == "mid-epoch":
        on_step_end = train.NonFiniteLossStop.on_step_end

        def kill_at_step_7(self, args, state, control, **kwargs):
            if state.global_step == 7:
                _die()
            return on_step_end(self, args, state, control, **kwargs)

        train.NonFiniteLossStop.on_step_end = kill_at_step_7
    elif point == "adapter-save":
        train.plot_loss_curve = _kill_on_call(train.plot_loss_curve, 1)
    else:
        raise SystemExit(f"unknown kill point '{point}': choose one of {', '.join(KILL_POINTS)}")


if __name__ == "__main__":
    point, separator, *arguments = sys.argv[1:]
    if separator != "--":
        raise SystemExit(__doc__)
    arm(point)
    from medassist.cli import main

    sys.exit(main(["train", *arguments]))
