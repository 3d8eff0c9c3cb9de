"""How every benchmark records its result: the exact command line, and a JSON file written atomically."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def command_line() -> str:
    """The command that reproduces this run, as a user types it from the repository root."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return " ".join(shlex.quote(part) for part in [".venv/bin/python", str(shown), *sys.argv[1:]])


def write_result(result: dict[str, Any], out: str | Path) -> None:
    """Write `result` to `out` via a temporary file, so an interrupted run never leaves half a JSON file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp")
    temp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    os.replace(temp, out)
    print(f"wrote {out.relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out}")
