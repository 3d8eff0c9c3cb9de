"""How far abstention can go with the signals the assistant has: the retriever's top score and the tuned model.

1. Threshold sweep: for each BM25 threshold, the share of unanswerable questions refused and of answerable ones
   wrongly refused, on the calibration and the test split, and the key fact that would remain on the test split
   (the adapter's own greedy answers from `medassist eval`, `grounded_answers.jsonl`, with the ones below the
   threshold turned into abstentions).
2. Retriever settings: for each BM25 setting (k1, b, how many times a card's question is indexed), the threshold
   that `medassist calibrate` would pick on the calibration split, and what it refuses on both splits.
3. The model's own judgement: for every question that passes the shipped threshold, the log-probability the tuned
   model gives to the first tokens of the abstention; its AUC says how well it ranks unanswerable questions above
   answerable ones (0.5: no better than chance).

    .venv/bin/python bench/abstention_ceiling.py [--adapter medical_lora_adapter] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import bm25s
import numpy as np
import torch

from medassist.config import GroundingConfig
from medassist.generation import build_prompt
from medassist.grounded_eval import calibrate_min_score, has_key_fact, load_questions, top_score
from medassist.grounding import ABSTAIN_ANSWER, grounded_question, is_abstention, retrieve
from medassist.medical_tokens import tokenize
from medassist.models import load_adapter
from medassist.retrieval import KnowledgeBase
from record import ROOT, command_line, write_result

THRESHOLDS = [round(x, 2) for x in np.arange(4.0, 7.01, 0.25)]
ABSTENTION_TOKENS = 4  # "My sources have nothing": the model's choice to decline is made in its first tokens


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return float(np.mean(pairs)) if pairs else float("nan")


def sweep(kb: KnowledgeBase, answers: dict[str, str]) -> list[dict]:
    splits = {split: [(q, top_score(kb, q.question)) for q in load_questions(split)] for split in ("calibration", "test")}
    rows = []
    for threshold in THRESHOLDS:
        row: dict = {"threshold": threshold}
        for split, scored in splits.items():
            answerable = [(q, s) for q, s in scored if q.in_base]
            unanswerable = [s for q, s in scored if not q.in_base]
            row[f"{split}_refused_out_of_base"] = float(np.mean([s < threshold for s in unanswerable]))
            row[f"{split}_refused_in_base"] = float(np.mean([s < threshold or (split == "test" and is_abstention(answers[q.id]))
                                                             for q, s in answerable]))
            if split == "test":
                row["test_key_fact"] = float(np.mean([s >= threshold and has_key_fact(answers[q.id], q.key_terms)
                                                      for q, s in answerable]))
        rows.append(row)
    return rows


def retriever_settings(kb: KnowledgeBase) -> list[dict]:
    """Each setting's threshold as `medassist calibrate` sets it on the calibration split (retriever alone)."""
    splits = {split: load_questions(split) for split in ("calibration", "test")}
    rows = []
    for repeats, k1, b in [(r, k1, b) for r in (1, 2, 3) for k1 in (0.9, 1.2, 1.5, 2.0) for b in (0.3, 0.5, 0.75)]:
        index = bm25s.BM25(k1=k1, b=b, method="lucene")
        index.index([tokenize(c.question) * repeats + tokenize(c.answer) for c in kb.cards], show_progress=False)
        vocab = index.vocab_dict

        def best(question: str) -> float:
            ids = [vocab[t] for t in tokenize(question) if t in vocab]
            return float(index.get_scores_from_ids(ids).max()) if ids else 0.0

        scored = {split: [(q.in_base, best(q.question)) for q in qs] for split, qs in splits.items()}
        threshold = calibrate_min_score(kb, splits["calibration"], scores=[s for _, s in scored["calibration"]])
        row = {"question_repeats": repeats, "k1": k1, "b": b, "threshold": threshold}
        for split, pairs in scored.items():
            row[f"{split}_refused_out_of_base"] = float(np.mean([s < threshold for in_base, s in pairs if not in_base]))
            row[f"{split}_refused_in_base"] = float(np.mean([s < threshold for in_base, s in pairs if in_base]))
        rows.append(row)
    return sorted(rows, key=lambda row: -row["calibration_refused_out_of_base"])


@torch.inference_mode()
def model_abstention_auc(adapter: str, kb: KnowledgeBase, grounding: GroundingConfig) -> dict[str, float]:
    model, tokenizer, _ = load_adapter(adapter)
    model = model.merge_and_unload().eval()
    declined = tokenizer(ABSTAIN_ANSWER, add_special_tokens=False)["input_ids"][:ABSTENTION_TOKENS]
    result = {}
    for split in ("calibration", "test"):
        scores: dict[bool, list[float]] = {True: [], False: []}
        for q in load_questions(split):
            hits = retrieve(kb, q.question, grounding)
            if not hits:
                continue
            prompt = tokenizer(build_prompt(tokenizer, grounded_question(q.question, hits)), add_special_tokens=False)["input_ids"]
            logits = model(torch.tensor([prompt + declined])).logits[0].float().log_softmax(-1)
            scores[q.in_base].append(sum(logits[len(prompt) - 1 + i, token].item() for i, token in enumerate(declined)))
        result[split] = {"auc_unanswerable_above_answerable": auc(scores[False], scores[True]),
                         "passing_in_base": len(scores[True]), "passing_out_of_base": len(scores[False]),
                         "max_p_abstention_start": float(np.exp(max(scores[True] + scores[False])))}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default="medical_lora_adapter")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "abstention_ceiling.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kb, grounding = KnowledgeBase.load(), GroundingConfig()
    lines = (Path(args.adapter) / "grounded_answers.jsonl").read_text(encoding="utf-8").splitlines()
    answers = {row["id"]: row["grounded_tuned"] for row in map(json.loads, lines)}
    rows = sweep(kb, answers)
    print(f"{'threshold':>9} | calibration: refused out / in | test: refused out / in | test key fact")
    for row in rows:
        print(f"{row['threshold']:9.2f} | {row['calibration_refused_out_of_base']:13.3f} / {row['calibration_refused_in_base']:.3f}"
              f" | {row['test_refused_out_of_base']:17.3f} / {row['test_refused_in_base']:.3f} | {row['test_key_fact']:.3f}")
    meeting = [row for row in rows if row["test_key_fact"] >= 0.85 and row["test_refused_in_base"] <= 0.1]
    best = max(meeting, key=lambda row: row["test_refused_out_of_base"], default=None)
    if best:
        print(f"best test out-of-base refusal with key fact >= 0.85 and <= 0.1 wrong: {best['test_refused_out_of_base']:.3f}"
              f" (threshold {best['threshold']}; the threshold is not chosen on test, this is a ceiling)")
    settings = retriever_settings(kb)
    print("retriever settings, each at its calibrated threshold (best on calibration first):")
    for row in settings[:5]:
        print(f"  question x{row['question_repeats']} k1 {row['k1']} b {row['b']}: threshold {row['threshold']:.2f}, "
              f"calibration refused {row['calibration_refused_out_of_base']:.3f} out / {row['calibration_refused_in_base']:.3f} in,"
              f" test {row['test_refused_out_of_base']:.3f} out / {row['test_refused_in_base']:.3f} in")
    print(f"  highest test out-of-base refusal of any setting: {max(r['test_refused_out_of_base'] for r in settings):.3f}")
    model = model_abstention_auc(args.adapter, kb, grounding)
    for split, figures in model.items():
        print(f"{split}: the tuned model's abstention log-probability ranks unanswerable above answerable with AUC "
              f"{figures['auc_unanswerable_above_answerable']:.3f} ({figures['passing_out_of_base']} unanswerable, "
              f"{figures['passing_in_base']} answerable above the threshold); highest P(abstention start) "
              f"{figures['max_p_abstention_start']:.3f}")
    write_result({"command": command_line(), "adapter": args.adapter, "min_score": grounding.min_score,
                  "sweep": rows, "best_meeting_other_targets": best,
                  "retriever_settings": settings, "model": model}, Path(args.out))


if __name__ == "__main__":
    main()
