"""What a training run leaves behind: the adapter directory, staged whole and swapped in.

{output_dir}/adapter holds the PEFT adapter (its base recorded as a Hub id that PEFT tools resolve),
the tokenizer, a model card built from the run's Config, training_log.json (settings, data, losses,
memory) and loss_curve.png. It is written by medassist.files.atomic_directory: a kill at any moment
leaves the previous adapter or the new one, never a mix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from .config import EMBEDDED, EMBEDDED_HUB_ID, Config
from .files import atomic_directory, atomic_write, remove_stale_staging, write_text


@dataclass
class TrainResult:
    adapter_dir: str
    train_loss: float | None
    eval_loss: float | None
    steps: int
    planned_steps: int
    seconds: float
    trainable_params: int
    total_params: int
    log_history: list[dict[str, Any]] = field(default_factory=list)


def hub_id(source: str) -> str:
    """The Hugging Face Hub id of a model source where it has one (the embedded model's), else the source."""
    return EMBEDDED_HUB_ID if source == EMBEDDED else source


def model_card(config: Config, data_counts: dict[str, Any], metrics: dict[str, Any], final_dir: str | Path) -> str:
    """The adapter's README.md: its Hub-resolvable base, the data it saw and the settings, from the run's Config."""
    base = hub_id(config.model)
    sources = as_list(config.data.source)
    lora, train = config.lora, config.train
    lines = [
        "---",
        f"base_model: {base}",
        "library_name: peft",
        "tags: [lora, medical, question-answering]",
        "---",
        "",
        f"# LoRA adapter for {base}: medical flashcard Q&A",
        "",
        "Educational use only: this model is not a source of medical advice.",
        "",
        "## Data",
        *(f"- source: `{shown_path(source)}`" for source in sources),
        *(f"- {key}: {value}" for key, value in data_counts.items()),
        "",
        *(grounding_note(config) if config.grounding.enabled else []),
        "## Settings",
        f"- LoRA: r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}, modules={', '.join(lora.target_modules)}",
        f"- training: epochs={train.epochs}, max_steps={train.max_steps}, batch_size={train.batch_size}, "
        f"grad_accum={train.grad_accum}, lr={train.learning_rate} ({train.lr_scheduler}, warmup {train.warmup_ratio}), "
        f"seed={train.seed}",
        f"- max_length: {config.data.max_length} tokens; loss on answer tokens only",
        "",
        "## Metrics",
        *([f"- {key}: {value:.4f}" for key, value in metrics.items()] or ["- not measured yet"]),
        "",
        "## Use",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        f'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("{base}"), "{Path(final_dir).name}")',
        "```",
        "or, with medassist (offline too):",
        "```",
        f"medassist chat --adapter {Path(final_dir)}",
        "```",
        "",
    ]
    return "\n".join(lines)


def as_list(source: str | list[str]) -> list[str]:
    """A config source (one path or hub id, or a list of them) as a list."""
    return [source] if isinstance(source, str) else list(source)


def shown_path(source: str) -> str:
    """A local source relative to the working directory when it lies below it (no machine's absolute path in a card)."""
    path = Path(source).resolve()
    return str(path.relative_to(Path.cwd())) if path.exists() and path.is_relative_to(Path.cwd()) else source


def grounding_note(config: Config) -> list[str]:
    """How a grounded (RAFT) run built its examples, for the card's Data section."""
    grounding = config.grounding
    return [
        f"Training was grounded (RAFT): each question came with {grounding.k} cards retrieved from the knowledge base "
        f"(`{', '.join(map(shown_path, as_list(grounding.knowledge_base)))}`), "
        f"its own card among them {grounding.own_card_rate:.0%} of the time (target: that card's answer and its "
        "citation) and absent otherwise (target: the fixed answer that the sources have nothing on it).",
        "",
    ]


def plot_loss_curve(log_history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    figure, axis = plt.subplots(figsize=(6, 4))
    if train:
        axis.plot(*zip(*train), label="train loss", marker=".")
    if evals:
        axis.plot(*zip(*evals), label="eval loss", marker="o")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("answer-token cross-entropy")
    axis.set_title("LoRA fine-tuning")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    atomic_write(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)


def write_adapter(
    trainer,
    tokenizer: PreTrainedTokenizerBase,
    config: Config,
    result: TrainResult,
    adapter_dir: Path,
    data_stats: dict[str, Any],
    memory_before: dict[str, float],
    memory_after: dict[str, float],
) -> None:
    """Stage adapter, tokenizer, card, log and curve in a temp dir beside the destination, then swap it in."""
    remove_stale_staging(adapter_dir)
    with atomic_directory(adapter_dir) as staging:
        # The Hub id where there is one (PEFT tools resolve it); medassist maps it back to its offline copy.
        trainer.model.peft_config["default"].base_model_name_or_path = hub_id(config.model)
        # Embeddings are not trained; "auto" would look the base up on the Hub to decide whether to save them.
        trainer.model.save_pretrained(staging, safe_serialization=True, save_embedding_layers=False)
        tokenizer.save_pretrained(staging)
        counts = {k: v for k, v in data_stats.items() if isinstance(v, int)}
        metrics = {"final_train_loss": result.train_loss, "eval_loss": result.eval_loss}
        write_text(staging / "README.md", model_card(config, counts, metrics, adapter_dir))
        log = {
            "seconds": result.seconds,
            "steps": result.steps,
            "planned_steps": result.planned_steps,
            "train_loss": result.train_loss,
            "eval_loss": result.eval_loss,
            "trainable_params": result.trainable_params,
            "total_params": result.total_params,
            "settings": config.to_dict(),
            "data": data_stats,
            "memory_before": memory_before,
            "memory_after": memory_after,
            "log_history": result.log_history,
        }
        write_text(staging / "training_log.json", json.dumps(log, indent=2))
        plot_loss_curve(result.log_history, staging / "loss_curve.png")
