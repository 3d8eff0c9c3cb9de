"""Hyperparameter experiments: train and evaluate one run per setting changed, one table and plot for all.

The base model is scored once; every experiment is compared with it on the same held-out rows, with
paired bootstrap intervals. With `resume`, experiments already trained and evaluated with identical
settings are read back, so an interrupted hour-long sweep continues where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import Config, apply_overrides
from .evaluate import compare_scores, load_tuned, score_model, select_eval_rows, valid_eval_rows, write_report
from .files import atomic_write, write_text
from .metrics import corpus_bleu_from_stats, corpus_perplexity
from .models import load_base
from .train import train

EXPERIMENTS: dict[str, list[str]] = {
    # The original notebook's four runs (the baseline), each changing one value of the profile.
    "primary": [],
    "lr_5e-5": ["train.learning_rate=5e-5"],
    "rank8_alpha16": ["lora.r=8", "lora.alpha=16"],
    "epochs_3": ["train.epochs=3"],
}
EXPERIMENT_COLUMNS = (
    "experiment", "changed", "learning_rate", "lora_r", "lora_alpha", "epochs", "train_loss", "eval_loss",
    "rougeL", "rougeL_change", "rougeL_ci_low", "rougeL_ci_high", "bleu4_corpus", "ppl_answer",
    "ppl_answer_ratio", "ppl_answer_ci_low", "ppl_answer_ci_high", "adapter_dir",
)


def sweep(
    config: Config, experiments: dict[str, list[str]] | None = None, progress: bool = True, resume: bool = False
) -> list[dict[str, Any]]:
    """Train and evaluate each experiment into {output_dir}/sweep/<name>; write experiments.csv/.png there.

    With `resume`, an experiment whose adapter was trained with exactly these settings and already evaluated is
    read back instead of trained again, so an interrupted hour-long sweep continues where it stopped.
    """
    experiments = experiments or EXPERIMENTS
    sweep_dir = Path(config.output_dir) / "sweep"
    base_model, tokenizer = load_base(config.model)
    rows = valid_eval_rows(select_eval_rows(config), tokenizer, config.data.max_length)
    base_scores = score_model(base_model, tokenizer, rows, config, progress)
    results: list[dict[str, Any]] = []
    for name, overrides in experiments.items():
        run_config = replace(apply_overrides(config, overrides), output_dir=str(sweep_dir / name))
        run_dir = Path(run_config.output_dir)
        finished = _finished_experiment(run_dir, run_config) if resume else None
        if finished is not None:
            print(f"{name}: trained and evaluated with these settings already, read from {run_dir}")
            train_loss, eval_loss, metrics = finished
        else:
            trained = train(run_config)
            tuned, _ = load_tuned(trained.adapter_dir, base=config.model)
            report = compare_scores(base_scores, score_model(tuned, tokenizer, rows, run_config, progress), rows, run_config)
            write_report(report, run_dir / "eval")
            train_loss, eval_loss, metrics = trained.train_loss, trained.eval_loss, {m.name: asdict(m) for m in report.metrics}
            del tuned
        rouge, ppl = metrics["rougeL"], metrics["ppl_answer"]
        results.append({
            "experiment": name, "changed": " ".join(overrides) or "(profile)",
            "learning_rate": run_config.train.learning_rate, "lora_r": run_config.lora.r,
            "lora_alpha": run_config.lora.alpha, "epochs": run_config.train.epochs,
            "train_loss": train_loss, "eval_loss": eval_loss,
            "rougeL": rouge["tuned"], "rougeL_change": rouge["change"], "rougeL_ci_low": rouge["ci_low"],
            "rougeL_ci_high": rouge["ci_high"], "bleu4_corpus": metrics["bleu4_corpus"]["tuned"],
            "ppl_answer": ppl["tuned"], "ppl_answer_ratio": ppl["change"], "ppl_answer_ci_low": ppl["ci_low"],
            "ppl_answer_ci_high": ppl["ci_high"], "adapter_dir": str(run_dir / "adapter"),
        })
    results.insert(0, {
        "experiment": "base (no adapter)", "changed": "(no fine-tuning)",
        "rougeL": float(np.mean(base_scores.per_example["rougeL"])),
        "bleu4_corpus": corpus_bleu_from_stats(base_scores.bleu),
        "ppl_answer": corpus_perplexity(*base_scores.nll_arrays("answer")),
    })
    write_experiments(results, sweep_dir, config)
    return results


def _finished_experiment(run_dir: Path, run_config: Config) -> tuple[float, float | None, dict[str, dict]] | None:
    """(train loss, eval loss, metrics) of a run with exactly `run_config`'s settings that was evaluated, else None."""
    log_path, metrics_path = run_dir / "adapter" / "training_log.json", run_dir / "eval" / "metrics.json"
    if not (log_path.is_file() and metrics_path.is_file()):
        return None
    try:
        log, metrics = json.loads(log_path.read_text()), json.loads(metrics_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if log.get("settings") != json.loads(json.dumps(run_config.to_dict())):
        return None
    return log["train_loss"], log["eval_loss"], metrics["metrics"]


def write_experiments(results: list[dict[str, Any]], sweep_dir: Path, config: Config) -> None:
    """experiments.csv for people and spreadsheets; experiments.json adds when, where and with which settings."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPERIMENT_COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(results)
    write_text(sweep_dir / "experiments.csv", buffer.getvalue())
    provenance = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "torch": torch.__version__,
        "settings": config.to_dict(), "experiments": results,
    }
    write_text(sweep_dir / "experiments.json", json.dumps(provenance, indent=2))
    plot_experiments(results, sweep_dir / "experiments.png")


def plot_experiments(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results if r.get("train_loss") not in (None, "")]
    names = [r["experiment"] for r in runs]
    base = next((r for r in results if r not in runs), None)
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
    x = np.arange(len(runs))
    axes[0].bar(x - 0.2, [r["train_loss"] for r in runs], 0.4, label="final train loss")
    axes[0].bar(x + 0.2, [r["eval_loss"] if r["eval_loss"] is not None else np.nan for r in runs], 0.4, label="eval loss")
    axes[0].legend(loc="lower left", framealpha=0.9)
    axes[0].set_title("Final losses")
    for axis, key, low, high, title in ((axes[1], "rougeL", "rougeL_ci_low", "rougeL_ci_high", "ROUGE-L (fine-tuned)"),
                                         (axes[2], "ppl_answer", None, None, "Answer-only perplexity")):
        values = [r[key] for r in runs]
        errors = None
        if low:  # the CI is of the change vs base; drawn around the tuned value
            errors = [[r["rougeL_change"] - r[low] for r in runs], [r[high] - r["rougeL_change"] for r in runs]]
        axis.bar(x, values, yerr=errors, capsize=5, color="#4c72b0")
        if base is not None:
            axis.axhline(base[key], color="black", linestyle="--", linewidth=1, label="base")
            axis.legend()
        axis.set_title(title)
    for axis in axes:
        axis.set_xticks(x, names, rotation=20)
    figure.tight_layout()
    atomic_write(path, lambda temp: figure.savefig(temp, format="png", dpi=110))
    plt.close(figure)
