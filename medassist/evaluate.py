"""Base vs fine-tuned evaluation: batched generation, paired bootstrap intervals, reports.

Every figure is measured on the same eval rows for both models and comes with a 95% paired
bootstrap confidence interval of the difference (fixed seed), so a gain smaller than its noise is
visible as such. Perplexity is given twice: over the whole sequence (the original notebook's definition, which
is dominated by the fixed system prompt and barely moves) and over the answer tokens only (the
figure fine-tuning should change).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .config import ANSWER, QUESTION, Config
from .files import atomic_write, write_text
from .metrics import (
    BLEU_NOTE, ROUGE_KEYS, BleuStats, SequenceNLL, bleu_signature, bleu_stats, corpus_bleu_from_stats, corpus_perplexity,
    percentile_ci, rouge_scores, sequence_nll,
)
from .generation import base_view, generate_answers
from .grounded_eval import format_grounded, grounded_report
from .grounding import ground_rows
from .retrieval import KnowledgeBase
from .prompts import encode

Row = dict[str, str]


class EvalError(ValueError):
    """Evaluation cannot run on this input; the message says what is wrong."""


# --------------------------------------------------------------------------------------------
# Loading a fine-tuned model


def load_tuned(adapter_dir: str | Path, base: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Base model named in the adapter's config plus the LoRA adapter (safetensors only), in eval mode.

    Unlike chat, evaluation refuses a base other than the recorded one: the comparison would be meaningless.
    """
    from .models import adapter_base, load_adapter

    recorded = adapter_base(adapter_dir)
    if base is not None and base != recorded:
        raise EvalError(f"adapter {adapter_dir} was trained on base '{recorded}', but base '{base}' was requested")
    tuned, tokenizer, _ = load_adapter(adapter_dir)
    return tuned, tokenizer


# --------------------------------------------------------------------------------------------
# Scoring one model and comparing two


@dataclass
class ModelScores:
    """One model's answers and per-example figures on a fixed list of eval rows."""

    answers: list[str]
    per_example: dict[str, list[float]]  # rouge1/2/L, bleu4_sentence
    bleu: BleuStats
    nll: list[SequenceNLL]

    def nll_arrays(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.array([getattr(n, f"{kind}_nll") for n in self.nll]),
            np.array([getattr(n, f"{kind}_tokens") for n in self.nll]),
        )


def valid_eval_rows(rows: list[Row], tokenizer: PreTrainedTokenizerBase, max_length: int) -> list[Row]:
    """Rows that can be scored: a question and an answer, and a prompt that fits max_length."""
    kept = []
    for row in rows:
        if not isinstance(row, dict) or not str(row.get(QUESTION, "")).strip() or not str(row.get(ANSWER, "")).strip():
            continue
        try:
            encode(tokenizer, row, max_length)
        except ValueError:
            continue
        kept.append(row)
    if not kept:
        raise EvalError(f"no valid eval rows: none of {len(rows)} rows has a question and answer whose prompt fits max_length={max_length}")
    if len(kept) < len(rows):
        warnings.warn(f"skipped {len(rows) - len(kept)} of {len(rows)} eval rows (empty, or prompt over max_length={max_length})")
    return kept


def select_eval_rows(config: Config, n: int | None = None) -> list[Row]:
    """The first `n` rows of the config's leakage-free eval split (default: config.eval.n_examples)."""
    from .data import prepare

    n = config.eval.n_examples if n is None else n
    if n < 1:
        raise EvalError(f"number of eval examples must be >= 1, got {n}")
    rows = prepare(config.data).eval
    if not rows:
        raise EvalError(f"{config.data.source}: the eval split is empty (data.eval_size={config.data.eval_size})")
    if n > len(rows):
        warnings.warn(f"asked for {n} eval examples but the eval split has {len(rows)}: using all {len(rows)}")
    return rows[:n]


def score_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[Row], config: Config, progress: bool = True
) -> ModelScores:
    questions = [row[QUESTION] for row in rows]
    references = [row[ANSWER] for row in rows]
    answers = generate_answers(
        model, tokenizer, questions, config.eval.max_new_tokens, config.eval.batch_size, progress=progress
    )
    per_example: dict[str, list[float]] = dict(rouge_scores(answers, references))
    bleu = bleu_stats(answers, references)
    per_example["bleu4_sentence"] = bleu.sentence
    nll = sequence_nll(model, tokenizer, rows, config.data.max_length, config.eval.batch_size, progress=progress)
    return ModelScores(answers=answers, per_example=per_example, bleu=bleu, nll=nll)


@dataclass
class MetricSummary:
    """Base and tuned values, their difference and the 95% paired bootstrap interval of the change.

    For perplexities `change` is the ratio tuned/base (below 1 is better); otherwise the difference.
    """

    name: str
    base: float
    tuned: float
    change: float
    ci_low: float
    ci_high: float
    change_kind: str  # "difference" or "ratio"
    higher_is_better: bool


@dataclass
class Report:
    metrics: list[MetricSummary]
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> MetricSummary:
        return next(m for m in self.metrics if m.name == name)


def compare_scores(base: ModelScores, tuned: ModelScores, rows: list[Row], config: Config) -> Report:
    """Paired comparison of two models' scores on the same rows, with bootstrap intervals."""
    n = len(rows)
    rng = np.random.default_rng(config.eval.seed)
    samples = rng.integers(0, n, size=(config.eval.bootstrap_samples, n))  # one resampling, shared by all metrics
    metrics: list[MetricSummary] = []
    for name in (*ROUGE_KEYS, "bleu4_sentence"):
        b, t = np.array(base.per_example[name]), np.array(tuned.per_example[name])
        diffs = (t - b)[samples].mean(axis=1)
        metrics.append(MetricSummary(name, float(b.mean()), float(t.mean()), float(t.mean() - b.mean()),
                                     *percentile_ci(diffs), "difference", True))
    base_bleu, tuned_bleu = corpus_bleu_from_stats(base.bleu), corpus_bleu_from_stats(tuned.bleu)
    diffs = np.array([corpus_bleu_from_stats(tuned.bleu, s) - corpus_bleu_from_stats(base.bleu, s) for s in samples])
    metrics.append(MetricSummary("bleu4_corpus", base_bleu, tuned_bleu, tuned_bleu - base_bleu,
                                 *percentile_ci(diffs), "difference", True))
    for kind in ("whole", "answer"):
        (b_nll, b_tok), (t_nll, t_tok) = base.nll_arrays(kind), tuned.nll_arrays(kind)
        b_ppl, t_ppl = corpus_perplexity(b_nll, b_tok), corpus_perplexity(t_nll, t_tok)
        b_tokens = np.maximum(b_tok[samples].sum(1), 1)
        t_tokens = np.maximum(t_tok[samples].sum(1), 1)
        ratios = np.exp(t_nll[samples].sum(1) / t_tokens - b_nll[samples].sum(1) / b_tokens)
        metrics.append(MetricSummary(f"ppl_{kind}", b_ppl, t_ppl, t_ppl / b_ppl, *percentile_ci(ratios), "ratio", False))
    per_row = []
    for i, row in enumerate(rows):
        record: dict[str, Any] = {"index": i, "question": row[QUESTION], "reference": row[ANSWER],
                                  "base_answer": base.answers[i], "tuned_answer": tuned.answers[i]}
        for side, scores in (("base", base), ("tuned", tuned)):
            for name, values in scores.per_example.items():
                record[f"{side}_{name}"] = values[i]
            record.update({f"{side}_{k}": v for k, v in asdict(scores.nll[i]).items()})
        per_row.append(record)
    meta = {
        "n_examples": n,
        "bootstrap_samples": config.eval.bootstrap_samples,
        "seed": config.eval.seed,
        "max_new_tokens": config.eval.max_new_tokens,
        "decoding": "greedy",
        "bleu": BLEU_NOTE,
        "bleu_signature": bleu_signature(tuned.answers, [r[ANSWER] for r in rows]),
        "perplexity": "exp(total NLL / total tokens) over the set; ppl_whole counts every token after the first "
        "(prompt included, the original notebook's definition); ppl_answer counts answer tokens only. "
        "Change = ratio tuned/base, CI from resampling examples.",
        "ci": "95% paired bootstrap percentile interval of the change",
        "model": config.model,
    }
    return Report(metrics=metrics, rows=per_row, meta=meta)


def compare(
    base_model: PreTrainedModel,
    tuned_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    eval_rows: list[Row],
    config: Config,
    progress: bool = True,
) -> Report:
    """Both models on the same rows: per-metric means, change and paired bootstrap 95% CI."""
    rows = valid_eval_rows(eval_rows, tokenizer, config.data.max_length)
    with base_view(base_model, tuned_model) as base:
        base_scores = score_model(base, tokenizer, rows, config, progress)
    tuned_scores = score_model(tuned_model, tokenizer, rows, config, progress)
    return compare_scores(base_scores, tuned_scores, rows, config)


# --------------------------------------------------------------------------------------------
# Reports


LABELS = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "bleu4_corpus": "BLEU-4 (corpus)",
    "bleu4_sentence": "BLEU-4 (sentence mean)",
    "ppl_whole": "Perplexity (whole seq.)",
    "ppl_answer": "Perplexity (answer only)",
}


def format_report(report: Report) -> str:
    """Terminal table: base, fine-tuned, change and its 95% CI per metric."""
    lines = [
        f"{'metric':<26}{'base':>11}{'tuned':>11}{'change':>10}   95% CI (paired bootstrap)",
        "-" * 86,
    ]
    for m in report.metrics:
        digits = 4 if m.name.startswith("rouge") else 2
        symbol = "x" if m.change_kind == "ratio" else ""
        change = f"{m.change:.{digits}f}{symbol}" if symbol else f"{m.change:+.{digits}f}"
        lines.append(
            f"{LABELS.get(m.name, m.name):<26}{m.base:>11.{digits}f}{m.tuned:>11.{digits}f}{change:>10}"
            f"   [{m.ci_low:.{digits}f}, {m.ci_high:.{digits}f}]{' ratio' if symbol else ''}"
        )
    lines.append(f"n={report.meta.get('n_examples')} examples, greedy decoding, "
                 f"{report.meta.get('bootstrap_samples')} bootstrap samples (seed {report.meta.get('seed')})")
    lines.append("Perplexity change is tuned/base (below 1 = better); BLEU scale 0-100, ROUGE 0-1.")
    if "grounded" in report.meta:
        lines += ["", "Grounded question set (medassist.grounded_eval):", format_grounded(report.meta["grounded"])]
    return "\n".join(lines)


def qualitative_examples(report: Report, first: int = 5, extremes: int = 3) -> list[dict[str, Any]]:
    """The first few rows and the rows with the largest ROUGE-L gain and loss, each tagged with why."""
    gains = sorted(report.rows, key=lambda r: r["tuned_rougeL"] - r["base_rougeL"])
    chosen: dict[int, str] = {}
    for reason, rows in (("first", report.rows[:first]), ("largest ROUGE-L gain", gains[::-1][:extremes]),
                         ("largest ROUGE-L loss", gains[:extremes])):
        for row in rows:
            chosen.setdefault(row["index"], reason)
    by_index = {row["index"]: row for row in report.rows}
    return [
        {"index": i, "why": why, "question": by_index[i]["question"], "reference": by_index[i]["reference"],
         "base_answer": by_index[i]["base_answer"], "tuned_answer": by_index[i]["tuned_answer"],
         "rougeL_gain": by_index[i]["tuned_rougeL"] - by_index[i]["base_rougeL"]}
        for i, why in chosen.items()
    ]


def plot_metrics(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [m for m in report.metrics if m.change_kind == "difference"]
    ratios = [m for m in report.metrics if m.change_kind == "ratio"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [5, 2]})
    scale = [100.0 if m.name.startswith("rouge") else 1.0 for m in scores]
    values = [m.change * s for m, s in zip(scores, scale)]
    errors = [[(m.change - m.ci_low) * s for m, s in zip(scores, scale)], [(m.ci_high - m.change) * s for m, s in zip(scores, scale)]]
    left.bar([LABELS[m.name] for m in scores], values, yerr=errors, capsize=5, color="#4c72b0")
    left.axhline(0, color="black", linewidth=0.8)
    left.set_ylabel("tuned - base (ROUGE x100, BLEU points)")
    left.set_title("Score change with 95% paired bootstrap CI")
    left.tick_params(axis="x", rotation=20)
    right.bar([LABELS[m.name].replace("Perplexity ", "PPL ") for m in ratios], [m.change for m in ratios],
              yerr=[[m.change - m.ci_low for m in ratios], [m.ci_high - m.change for m in ratios]], capsize=5, color="#dd8452")
    right.axhline(1, color="black", linewidth=0.8)
    right.set_ylabel("perplexity ratio tuned / base")
    right.set_title("Perplexity (below 1 = better)")
    right.tick_params(axis="x", rotation=20)
    figure.suptitle(f"Base vs fine-tuned on {report.meta.get('n_examples')} eval examples")
    figure.tight_layout()
    atomic_write(path, lambda temp: figure.savefig(temp, format="png", dpi=110))
    plt.close(figure)


def write_report(report: Report, out_dir: str | Path) -> dict[str, Path]:
    """metrics.json, predictions.jsonl, qualitative.json and metrics.png in `out_dir`, each written atomically."""
    out_dir = Path(out_dir)
    paths = {name: out_dir / name for name in ("metrics.json", "predictions.jsonl", "qualitative.json", "metrics.png")}
    meta = dict(report.meta)
    if "grounded" in meta:  # the question set's answers beside the figures, not inside them
        meta["grounded"] = {key: value for key, value in meta["grounded"].items() if key != "answers"}
        paths["grounded_answers.jsonl"] = out_dir / "grounded_answers.jsonl"
        write_text(paths["grounded_answers.jsonl"],
                   "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in report.meta["grounded"]["answers"]))
    metrics = {"metrics": {m.name: asdict(m) for m in report.metrics}, **meta}
    write_text(paths["metrics.json"], json.dumps(metrics, indent=2))
    write_text(paths["predictions.jsonl"], "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in report.rows))
    write_text(paths["qualitative.json"], json.dumps(qualitative_examples(report), indent=2, ensure_ascii=False))
    plot_metrics(report, paths["metrics.png"])
    return paths


def evaluate_adapter(
    config: Config, adapter_dir: str | Path, n: int | None = None, out_dir: str | Path | None = None,
    base: str | None = None, progress: bool = True,
) -> tuple[Report, dict[str, Path]]:
    """The whole `medassist eval`: adapter + its recorded base, the config's eval rows and the grounded question
    set (medassist.grounded_eval), report files.

    The base model is the same weights with the adapter switched off, so one model is loaded, not two.
    `base`, when given, must be the adapter's recorded base (a guard against comparing the wrong pair).
    """
    tuned, tokenizer = load_tuned(adapter_dir, base=base)
    config = replace(config, model=tuned.peft_config["default"].base_model_name_or_path)
    kb = KnowledgeBase.load(config.grounding.knowledge_base)
    rows = select_eval_rows(config, n)
    if config.grounding.enabled:  # score the held-out cards as they are served: with what retrieval finds
        rows = ground_rows(rows, kb, config.grounding)
    report = compare(tuned.get_base_model(), tuned, tokenizer, rows, config, progress)
    report.meta["grounded"] = grounded_report(tuned.get_base_model(), tuned, tokenizer, kb, config, progress)
    report.meta["adapter"] = str(adapter_dir)
    paths = write_report(report, out_dir or Path(config.output_dir) / "eval")
    return report, paths


