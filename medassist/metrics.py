"""Answer metrics: ROUGE (rouge-score), BLEU-4 (sacrebleu) and perplexity, per example.

Each metric is kept per example (BLEU as sufficient statistics), so a paired bootstrap can resample
examples and recompute the corpus figure on every sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sacrebleu
import torch
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .prompts import encode

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")
BLEU_NOTE = (
    "bleu4_corpus: sacrebleu corpus BLEU-4 over the set (13a tokenizer, exp smoothing); "
    "bleu4_sentence: mean of per-example sacrebleu sentence BLEU-4 (exp smoothing, effective order). "
    "Scale 0-100. ROUGE: rouge_score F1 with Porter stemming, mean over examples, scale 0-1."
)
Row = dict[str, str]


def rouge_scores(predictions: list[str], references: list[str]) -> dict[str, list[float]]:
    """Per-example ROUGE-1/2/L F1 (stemmed)."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    result: dict[str, list[float]] = {key: [] for key in ROUGE_KEYS}
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        for key in ROUGE_KEYS:
            result[key].append(scores[key].fmeasure)
    return result


@dataclass
class BleuStats:
    """Per-example BLEU sufficient statistics, so corpus BLEU can be recomputed on bootstrap samples."""

    sentence: list[float]
    correct: np.ndarray  # (n, 4) matching n-grams
    total: np.ndarray  # (n, 4) hypothesis n-grams
    sys_len: np.ndarray
    ref_len: np.ndarray


def bleu_stats(predictions: list[str], references: list[str]) -> BleuStats:
    scores = [sacrebleu.sentence_bleu(p, [r]) for p, r in zip(predictions, references, strict=True)]
    return BleuStats(
        sentence=[s.score for s in scores],
        correct=np.array([s.counts for s in scores], dtype=np.int64).reshape(-1, 4),
        total=np.array([s.totals for s in scores], dtype=np.int64).reshape(-1, 4),
        sys_len=np.array([s.sys_len for s in scores], dtype=np.int64),
        ref_len=np.array([s.ref_len for s in scores], dtype=np.int64),
    )


def corpus_bleu_from_stats(stats: BleuStats, index: np.ndarray | None = None) -> float:
    """sacrebleu corpus BLEU (exp smoothing) of the examples at `index` (default: all)."""
    index = np.arange(len(stats.sentence)) if index is None else index
    return BLEU.compute_bleu(
        stats.correct[index].sum(0).tolist(),
        stats.total[index].sum(0).tolist(),
        int(stats.sys_len[index].sum()),
        int(stats.ref_len[index].sum()),
        smooth_method="exp",
    ).score


def bleu_signature(predictions: list[str], references: list[str]) -> str:
    bleu = BLEU()
    bleu.corpus_score(predictions or [""], [references or [""]])
    return str(bleu.get_signature())


@dataclass
class SequenceNLL:
    """Summed negative log-likelihood (nats) and token counts of one example."""

    whole_nll: float
    whole_tokens: int
    answer_nll: float
    answer_tokens: int


@torch.inference_mode()
def sequence_nll(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: list[Row],
    max_length: int,
    batch_size: int = 8,
    progress: bool = True,
) -> list[SequenceNLL]:
    """NLL of each formatted example over all predicted tokens and over the answer tokens only."""
    encoded = [encode(tokenizer, row, max_length) for row in rows]
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    result: list[SequenceNLL] = []
    starts = range(0, len(encoded), batch_size)
    for start in tqdm(starts, desc="scoring", unit="batch", disable=not progress):
        batch = encoded[start : start + batch_size]
        width = max(len(e.input_ids) for e in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        answer = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, example in enumerate(batch):  # right padding: positions stay 0..n-1 as in training
            n = len(example.input_ids)
            ids[row, :n] = torch.tensor(example.input_ids)
            attention[row, :n] = 1
            answer[row, :n] = torch.tensor(example.completion_mask, dtype=torch.bool)
        logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits.float()
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), ids[:, 1:].to(device), reduction="none"
        ).cpu().double()
        predicted = attention[:, 1:].bool()
        answer_targets = answer[:, 1:] & predicted
        for row in range(len(batch)):
            result.append(
                SequenceNLL(
                    whole_nll=float(nll[row][predicted[row]].sum()),
                    whole_tokens=int(predicted[row].sum()),
                    answer_nll=float(nll[row][answer_targets[row]].sum()),
                    answer_tokens=int(answer_targets[row].sum()),
                )
            )
    return result


def corpus_perplexity(nll: np.ndarray, tokens: np.ndarray) -> float:
    """exp(total NLL / total tokens): every token weighs the same, whatever example it is in."""
    return float(math.exp(nll.sum() / max(int(tokens.sum()), 1)))


def percentile_ci(samples: np.ndarray) -> tuple[float, float]:
    """95% percentile interval of bootstrap samples."""
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)
