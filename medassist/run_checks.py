"""What a training run checks before it starts, so that it fails in a second rather than an hour in: the
output folder (writable, not about to replace something that is not an adapter), free disk for checkpoints,
and for `--resume` the newest complete checkpoint and the settings it was trained with.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from .config import ADAPTER_CONFIG, Config, validate

ADAPTER_DIR = "adapter"
CHECKPOINTS_KEPT = 2  # save_total_limit: the last two, in case the newest is cut off mid-write
RUN_SETTINGS = "run_settings.json"  # in {output_dir}/checkpoints: the settings its checkpoints were trained with
RUN_LENGTH = ("train.epochs", "train.max_steps")  # may change on resume: continuing a run for longer is the point


class TrainError(ValueError):
    """Training cannot start or did not finish cleanly; the message says why and what to do."""


def check_output_dir(output_dir: Path) -> Path:
    """Fail before training if the adapter cannot be written, or would overwrite something that isn't one."""
    adapter_dir = output_dir / ADAPTER_DIR
    if output_dir.exists() and not output_dir.is_dir():
        raise TrainError(f"output directory {output_dir} exists and is not a directory")
    if adapter_dir.exists():
        if not adapter_dir.is_dir():
            raise TrainError(f"{adapter_dir} exists and is a file, not an adapter directory; move it away or pick another --output")
        if any(adapter_dir.iterdir()) and not (adapter_dir / ADAPTER_CONFIG).is_file():
            raise TrainError(
                f"{adapter_dir} holds files that are not a PEFT adapter (no {ADAPTER_CONFIG}); "
                "refusing to replace it: move it away or pick another --output"
            )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write-test-"):
            pass
    except OSError as error:
        raise TrainError(f"output directory {output_dir} is not writable: {error}") from error
    return adapter_dir


def check_free_space(output_dir: Path, trainable_params: int) -> None:
    """Fail before training when the disk cannot hold the checkpoints and the adapter, not an hour in."""
    fp32_bytes = 4
    per_checkpoint = 3 * trainable_params * fp32_bytes  # LoRA weights + AdamW's two moments
    # One checkpoint more than kept exists while the oldest is rotated out; the adapter is staged, then swapped in.
    needed = per_checkpoint * (CHECKPOINTS_KEPT + 1) + 2 * trainable_params * fp32_bytes
    free = shutil.disk_usage(output_dir).free
    if free < needed:
        raise TrainError(
            f"not enough free disk space for {output_dir}: {free / 1e6:,.0f} MB free, but checkpoints and the adapter "
            f"need about {needed / 1e6:,.0f} MB; free some space or pick another --output"
        )


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """Newest checkpoint whose trainer_state.json (the Trainer writes it last) reads back.

    A kill during a save leaves a checkpoint directory without it; resuming from that one would fail.
    """
    if not checkpoints.is_dir():
        return None
    steps = {int(m.group(1)): p for p in checkpoints.iterdir() if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))}
    for step in sorted(steps, reverse=True):
        try:
            json.loads((steps[step] / "trainer_state.json").read_text())
        except (OSError, ValueError):
            print(f"skipping incomplete checkpoint {steps[step]}")
            continue
        return str(steps[step])
    return None


def check_run_settings(config: Config, checkpoints: Path, resume: bool) -> str:
    """Validate `config` (one built in code skips `Config.from_dict`) and, with `resume`, refuse to continue a
    checkpoint trained with other settings; return the JSON that `train` records in {checkpoints}/run_settings.json.

    Recorded and compared: model, data.*, lora.*, train.* but save_steps and logging_steps, grounding.*. A changed
    run length (train.epochs, train.max_steps) is allowed and printed: resuming to train longer is legitimate.
    """
    validate(config)
    values = config.to_dict()
    train_values = {k: v for k, v in values["train"].items() if k not in ("save_steps", "logging_steps")}
    settings = {"model": values["model"], "data": values["data"], "lora": values["lora"], "train": train_values,
                "grounding": values["grounding"]}
    text = json.dumps(settings, indent=2)
    if not resume or last_complete_checkpoint(checkpoints) is None:
        return text
    try:
        recorded = json.loads((checkpoints / RUN_SETTINGS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"note: {checkpoints} has no {RUN_SETTINGS} (written by older versions): settings not compared")
        return text
    except (OSError, ValueError) as error:
        raise TrainError(f"{checkpoints / RUN_SETTINGS} cannot be read ({error}); train without --resume") from error

    def leaves(tree: object, prefix: str = "") -> dict[str, object]:
        if not isinstance(tree, dict):
            return {prefix: tree}
        return {k: v for key, value in tree.items() for k, v in leaves(value, f"{prefix}.{key}" if prefix else key).items()}

    now, then = leaves(json.loads(text)), leaves(recorded)
    changed = {key: f"{key}: {json.dumps(then.get(key))} -> {json.dumps(now.get(key))}"
               for key in sorted(set(now) | set(then)) if now.get(key) != then.get(key)}
    refused = [change for key, change in changed.items() if key not in RUN_LENGTH]
    if refused:
        raise TrainError(
            f"cannot --resume: the checkpoints in {checkpoints} were trained with other settings ({'; '.join(refused)}). "
            "Resume with the same settings, or train without --resume (a fresh run clears the checkpoints)"
        )
    for change in changed.values():
        print(f"note: resuming with {change}")
    return text
