"""Run `medassist train` and SIGKILL the process at a chosen point, the way a preempted Kaggle kernel dies.

    python tests/reliability/killpoints.py POINT -- <medassist train arguments>

POINT is one of KILL_POINTS. The real code runs unchanged up to the point: a wrapper around one of
medassist's own functions sends SIGKILL to its own process, so nothing (no `finally`, no atexit) runs after.
`kill_then_resume` does the whole experiment (kill, look, `--resume`, look) for the tests and the benchmark.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

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
        from medassist import artefacts

        artefacts.plot_loss_curve = _kill_on_call(artefacts.plot_loss_curve, 1)
    else:
        raise SystemExit(f"unknown kill point '{point}': choose one of {', '.join(KILL_POINTS)}")


def smoke_train_args(output: Path) -> list[str]:
    """The smoke profile over 2 epochs of its 32 cards: 16 optimizer steps, a checkpoint every 5."""
    return ["--profile", "smoke", "--output", str(output), "--set", "train.epochs=2", "--set", "train.save_steps=5"]


def train_in_child(arguments: list[str], point: str | None = None) -> subprocess.CompletedProcess:
    """`medassist train ARGUMENTS` in a child process, armed to die at `point` when one is given."""
    entry = [str(Path(__file__)), point, "--"] if point else ["-m", "medassist", "train"]
    return subprocess.run([sys.executable, *entry, *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


def kill_then_resume(point: str, arguments: list[str], output: Path) -> dict[str, Any]:
    """Kill a `medassist train` run at `point`, then `--resume` it; report what was on disk at each stage."""
    killed = train_in_child(arguments, point)
    adapter = output / "adapter"
    after_kill = {"killed": killed.returncode == -signal.SIGKILL, "adapter_after_kill": adapter.exists()}
    resumed = train_in_child([*arguments, "--resume"])
    log_path = adapter / "training_log.json"
    log = json.loads(log_path.read_text()) if log_path.is_file() else {}
    return {
        **after_kill,
        "resumed": resumed.returncode == 0,
        "steps": log.get("steps"),
        "planned_steps": log.get("planned_steps"),
        "staging_left": sorted(p.name for p in output.iterdir() if p.name.startswith(".adapter")),
        "files": sorted(p.name for p in adapter.iterdir()) if adapter.is_dir() else [],
        "stderr": (killed.stderr if not after_kill["killed"] else resumed.stderr)[-2000:],
    }


if __name__ == "__main__":
    point, separator, *arguments = sys.argv[1:]
    if separator != "--":
        raise SystemExit(__doc__)
    arm(point)
    from medassist.cli import main

    sys.exit(main(["train", *arguments]))
