"""Grounded answers as the app serves them (sampled, its default settings, a repetition penalty): is the key fact
there, and is the answer its source's text, copied word for word, rather than the model's own wording?

`generate`'s own repetition penalty (the baseline) counts the prompt's tokens too, so a grounded answer is penalised
for copying its sources' words; medassist's (`generation.answer_penalty`, used by every backend) counts the answer's
own tokens. Both run here, in one process, on the same grounded prompts of the question set's test split (the top k
cards above `grounding.min_score`; the rest get the fixed abstention and count as missing the key fact), with the
same seeds. "Verbatim": the answer, its citation taken off, is a passage of one of the sources it was shown; a
changed word (a misspelt drug or enzyme, a dropped "nor") is text the model wrote, not the source.

    .venv/bin/python bench/served_answers.py [--adapter medical_lora_adapter] [--seeds 0 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import re
import time
from pathlib import Path

import torch
from transformers import GenerationConfig

from medassist.config import GenerationSettings, GroundingConfig
from medassist.generation import generate_answers, greedy_config
from medassist.grounded_eval import has_key_fact, load_questions
from medassist.grounding import SOURCE_CHARS, grounded_question, is_abstention, retrieve
from medassist.models import load_adapter
from medassist.retrieval import KnowledgeBase
from record import ROOT, command_line, write_result


def flat(text: str) -> str:
    return " ".join(text.casefold().split())


def verbatim(answer: str, sources: list[str]) -> bool:
    """The answer without its trailing citations is a passage of one of the sources."""
    body = flat(re.sub(r"(\s*\[\d+\])+\s*$", "", answer))
    return bool(body) and any(body in flat(source) for source in sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default="medical_lora_adapter")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "served_answers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    settings = GenerationSettings()  # the app's defaults
    model, tokenizer, base = load_adapter(args.adapter)
    model = model.merge_and_unload().eval()
    kb, grounding = KnowledgeBase.load(), GroundingConfig()
    questions = [q for q in load_questions("test") if q.in_base]
    shown = {q.id: hits for q in questions if (hits := retrieve(kb, q.question, grounding))}
    prompts = [(q, grounded_question(q.question, shown[q.id])) for q in questions if q.id in shown]

    def sampled(penalty_in_config: float) -> GenerationConfig:
        config = greedy_config(tokenizer, settings.max_new_tokens)
        config.do_sample, config.temperature, config.top_p, config.top_k = True, settings.temperature, settings.top_p, 0
        config.repetition_penalty = penalty_in_config
        return config

    variants = {
        "baseline: penalty counts prompt + answer (generate's default)": dict(
            generation_config=sampled(settings.repetition_penalty)),
        "ours: penalty counts the answer only (answer_penalty)": dict(
            generation_config=sampled(1.0), repetition_penalty=settings.repetition_penalty),
    }
    figures: dict[str, dict] = {}
    for name, options in variants.items():
        runs = []
        for seed in args.seeds:
            torch.manual_seed(seed)
            started = time.perf_counter()
            answers = generate_answers(model, tokenizer, [p for _, p in prompts], settings.max_new_tokens, args.batch_size,
                                       progress=False, **options)
            hits = sum(has_key_fact(a, q.key_terms) for (q, _), a in zip(prompts, answers))
            given = [(q, a) for (q, _), a in zip(prompts, answers) if not is_abstention(a)]
            copied = sum(verbatim(a, [hit.card.answer[:SOURCE_CHARS] for hit in shown[q.id]]) for q, a in given)
            runs.append({"seed": seed, "key_fact": hits / len(questions), "key_fact_count": hits,
                         "verbatim": copied / len(given), "verbatim_count": copied, "answers": len(given),
                         "model_abstained": len(prompts) - len(given), "seconds": round(time.perf_counter() - started, 1)})
            print(f"{name} seed {seed}: key fact {hits}/{len(questions)}, verbatim {copied}/{len(given)}", flush=True)
        figures[name] = {"runs": runs, **{f"{figure}_mean": sum(r[figure] for r in runs) / len(runs)
                                          for figure in ("key_fact", "verbatim")}}
    (baseline, ours), (baseline_copy, ours_copy) = (
        [figures[name][f"{figure}_mean"] for name in variants] for figure in ("key_fact", "verbatim"))
    result = {
        "command": command_line(),
        "adapter": args.adapter, "base": base, "platform": f"{platform.machine()}, {args.threads} threads",
        "settings": {"temperature": settings.temperature, "top_p": settings.top_p,
                     "repetition_penalty": settings.repetition_penalty, "max_new_tokens": settings.max_new_tokens},
        "questions": f"{len(questions)} in-base test questions, {len(prompts)} with cards above min_score "
                     f"{grounding.min_score} (the others get the fixed abstention and count as missing the key fact)",
        "figures": figures,
        "ratio": {"key fact, ours / baseline": ours / baseline, "verbatim, ours / baseline": ours_copy / baseline_copy},
    }
    print(f"as served, mean over seeds: key fact baseline {baseline:.3f}, ours {ours:.3f} ({ours / baseline:.2f}x); "
          f"verbatim baseline {baseline_copy:.3f}, ours {ours_copy:.3f} ({ours_copy / baseline_copy:.2f}x)")
    write_result(result, Path(args.out))


if __name__ == "__main__":
    main()
