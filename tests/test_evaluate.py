"""Evaluation: hand-checked metrics, perplexity definitions, batched generation, bootstrap, reports, loading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model

from medassist.cli import main
from medassist.config import apply_overrides, load_profile
from medassist.evaluate import (
    EvalError,
    ModelScores,
    compare,
    compare_scores,
    format_report,
    load_tuned,
    select_eval_rows,
    valid_eval_rows,
    write_report,
)
from medassist.experiments import sweep
from medassist.generation import generate_answers
from medassist.metrics import SequenceNLL, bleu_stats, corpus_bleu_from_stats, corpus_perplexity, rouge_scores, sequence_nll
from medassist.prompts import end_of_turn_ids
from medassist.models import EMBEDDED, AdapterError, load_base, tiny_llama
from medassist.prompts import encode

ROWS = [
    {"instruction": "", "question": "What is the first-line treatment of anaphylaxis?", "answer": "Intramuscular epinephrine (adrenaline) into the outer thigh."},
    {"instruction": "", "question": "Which vitamin deficiency causes scurvy?", "answer": "Vitamin C (ascorbic acid) deficiency."},
    {"instruction": "", "question": "What does HbA1c measure?", "answer": "Average blood glucose over roughly the previous three months."},
    {"instruction": "", "question": "Name the most common cause of community-acquired pneumonia.", "answer": "Streptococcus pneumoniae."},
    {"instruction": "", "question": "What is the normal adult resting heart rate range?", "answer": "About 60 to 100 beats per minute."},
    {"instruction": "", "question": "Which nerve is compressed in carpal tunnel syndrome?", "answer": "The median nerve at the wrist."},
    {"instruction": "", "question": "What electrolyte abnormality causes peaked T waves?", "answer": "Hyperkalaemia, a high blood potassium level."},
    {"instruction": "", "question": "Which organ produces insulin?", "answer": "The pancreas, in the beta cells of the islets of Langerhans."},
]


def varied_tiny(tokenizer, seed: int = 0):
    """A tiny Llama whose greedy output depends on the prompt (tied small weights just echo the last token)."""
    return tiny_llama(tokenizer, seed=seed, tie_word_embeddings=False, initializer_range=0.2)


def add_perturbed_lora(model, seed: int = 1):
    """A LoRA adapter whose B matrices are non-zero, so the tuned model really differs from its base."""
    tuned = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    tuned.peft_config["default"].base_model_name_or_path = "tiny"  # as the trainer records config.model
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in tuned.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return tuned.eval()


@pytest.fixture(scope="module")
def smoke_config():
    config = load_profile("smoke")
    config.eval.max_new_tokens = 8
    config.eval.bootstrap_samples = 200
    return config


def test_metrics_hand_checked_cases():
    same = rouge_scores(["the heart pumps blood"], ["the heart pumps blood"])
    disjoint = rouge_scores(["kidney stones"], ["the heart pumps blood"])
    assert all(same[key] == [1.0] for key in same) and all(disjoint[key] == [0.0] for key in disjoint)
    assert rouge_scores(["hearts pumping"], ["heart pumps"])["rouge1"] == [1.0]  # stemming on
    identical = bleu_stats(["the heart pumps blood around the body"], ["the heart pumps blood around the body"])
    assert identical.sentence[0] == pytest.approx(100.0) and corpus_bleu_from_stats(identical) == pytest.approx(100.0)
    assert bleu_stats(["kidney stones"], ["the heart pumps blood"]).sentence == [0.0]


def test_corpus_bleu_from_stats_equals_sacrebleu():
    import sacrebleu

    predictions = ["the median nerve is compressed", "vitamin C deficiency", "epinephrine in the thigh muscle"]
    references = [row["answer"] for row in ROWS[5:8]]
    expected = sacrebleu.corpus_bleu(predictions, [references]).score
    assert corpus_bleu_from_stats(bleu_stats(predictions, references)) == pytest.approx(expected)


def test_answer_perplexity_is_reproducible_and_matches_a_masked_loss(tokenizer):
    row = ROWS[0]
    first = sequence_nll(tiny_llama(tokenizer, seed=7), tokenizer, [row], max_length=256, progress=False)[0]
    second = sequence_nll(tiny_llama(tokenizer, seed=7), tokenizer, [row], max_length=256, progress=False)[0]
    assert first == second
    example = encode(tokenizer, row, 256)
    assert first.answer_tokens == sum(example.completion_mask) and first.whole_tokens == len(example.input_ids) - 1
    ids = torch.tensor([example.input_ids])
    labels = ids.masked_fill(torch.tensor([example.completion_mask]) == 0, -100)
    with torch.no_grad():
        loss = tiny_llama(tokenizer, seed=7)(input_ids=ids, labels=labels).loss.item()
    assert first.answer_nll / first.answer_tokens == pytest.approx(loss, rel=1e-5)
    answer_ppl = corpus_perplexity(np.array([first.answer_nll]), np.array([first.answer_tokens]))
    whole_ppl = corpus_perplexity(np.array([first.whole_nll]), np.array([first.whole_tokens]))
    assert answer_ppl == pytest.approx(math.exp(loss), rel=1e-5) and abs(answer_ppl - whole_ppl) > 1.0


def test_batched_scoring_equals_one_at_a_time(tokenizer):
    model = varied_tiny(tokenizer)
    batched = sequence_nll(model, tokenizer, ROWS, max_length=256, batch_size=8, progress=False)
    single = [sequence_nll(model, tokenizer, [row], max_length=256, progress=False)[0] for row in ROWS]
    for b, s in zip(batched, single):
        assert b.answer_tokens == s.answer_tokens and b.answer_nll == pytest.approx(s.answer_nll, rel=1e-4)


def test_batch_of_8_generation_equals_one_at_a_time(tokenizer):
    model = varied_tiny(tokenizer)
    questions = [row["question"] for row in ROWS]
    batched = generate_answers(model, tokenizer, questions, max_new_tokens=12, batch_size=8, progress=False)
    single = generate_answers(model, tokenizer, questions, max_new_tokens=12, batch_size=1, progress=False)
    assert batched == single
    assert len(set(batched)) > 1 and all(batched)  # a real, prompt-dependent output, not an empty echo


def test_generation_stops_at_the_end_of_turn_token(tokenizer):
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in end_of_turn_ids(tokenizer)
    model = varied_tiny(tokenizer)
    boost = torch.zeros(model.config.vocab_size)
    boost[im_end] = 100.0  # make end-of-turn the most likely next token
    model.lm_head.register_forward_hook(lambda module, inputs, output: output + boost)
    raw = model.generate(**tokenizer(["What is asthma?"], return_tensors="pt"), max_new_tokens=10, eos_token_id=None, do_sample=False)
    assert raw.shape[1] > 10  # without the end-of-turn id as a stop token it would run on
    assert generate_answers(model, tokenizer, ["What is asthma?"], max_new_tokens=10, progress=False) == [""]


def _scores(predictions: list[str], references: list[str], nll: list[tuple[float, int]]) -> ModelScores:
    rouge = rouge_scores(predictions, references)
    bleu = bleu_stats(predictions, references)
    nlls = [SequenceNLL(whole_nll=2 * n, whole_tokens=3 * t, answer_nll=n, answer_tokens=t) for n, t in nll]
    return ModelScores(answers=predictions, per_example={**rouge, "bleu4_sentence": bleu.sentence}, bleu=bleu, nll=nlls)


def test_bootstrap_interval_contains_the_difference_and_is_seeded(smoke_config):
    references = [row["answer"] for row in ROWS]
    base = _scores(["unknown"] * 8, references, [(30.0, 10)] * 8)
    tuned_answers = [r if i % 2 else r.split()[0] for i, r in enumerate(references)]
    tuned = _scores(tuned_answers, references, [(20.0 + i, 10) for i in range(8)])
    first = compare_scores(base, tuned, ROWS, smoke_config)
    again = compare_scores(base, tuned, ROWS, smoke_config)
    assert first.metrics == again.metrics
    for metric in first.metrics:
        assert metric.ci_low <= metric.change <= metric.ci_high, metric
    rouge = first.metric("rougeL")
    assert rouge.change > 0 and rouge.ci_low > 0  # a clear gain is called a gain
    ppl = first.metric("ppl_answer")
    assert ppl.change == pytest.approx(math.exp(np.mean([20.0 + i for i in range(8)]) / 10 - 3.0))
    smoke_config.eval.seed += 1
    try:
        other = compare_scores(base, tuned, ROWS, smoke_config)
    finally:
        smoke_config.eval.seed -= 1
    assert other.metric("rougeL").ci_low != rouge.ci_low


def test_compare_and_write_report_end_to_end(tokenizer, smoke_config, tmp_path):
    base = varied_tiny(tokenizer)
    tuned = add_perturbed_lora(varied_tiny(tokenizer))
    report = compare(base, tuned, tokenizer, ROWS, smoke_config, progress=False)
    assert {m.name for m in report.metrics} == {"rouge1", "rouge2", "rougeL", "bleu4_sentence", "bleu4_corpus", "ppl_whole", "ppl_answer"}
    assert report.metric("ppl_answer").change != pytest.approx(1.0)
    assert any(r["base_answer"] != r["tuned_answer"] for r in report.rows)
    paths = write_report(report, tmp_path / "eval")
    metrics = json.loads(paths["metrics.json"].read_text())
    assert metrics["n_examples"] == 8 and "sentence BLEU" in metrics["bleu"] and "ppl_answer" in metrics["metrics"]
    assert len(paths["predictions.jsonl"].read_text().splitlines()) == 8
    qualitative = json.loads(paths["qualitative.json"].read_text())
    assert {"question", "reference", "base_answer", "tuned_answer"} <= set(qualitative[0]) and len(qualitative) >= 5
    assert paths["metrics.png"].read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == sorted(paths)  # no temp files left
    table = format_report(report)
    assert "Perplexity (answer only)" in table and "95% CI" in table
    # The base seen through the adapter's own model (adapter disabled) scores exactly as a separate base.
    shared = compare(tuned.get_base_model(), tuned, tokenizer, ROWS[:2], smoke_config, progress=False)
    separate = compare(base, tuned, tokenizer, ROWS[:2], smoke_config, progress=False)
    assert shared.metric("ppl_answer").base == pytest.approx(separate.metric("ppl_answer").base, rel=1e-5)


@pytest.fixture
def tiny_adapter(tokenizer, tmp_path):
    adapter_dir = tmp_path / "adapter"
    add_perturbed_lora(tiny_llama(tokenizer)).save_pretrained(adapter_dir, save_embedding_layers=False)
    return adapter_dir


def test_load_tuned_reads_the_recorded_base(tiny_adapter, tokenizer):
    tuned, _ = load_tuned(tiny_adapter)
    ids = tokenizer("What is asthma?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert not torch.allclose(tuned(input_ids=ids).logits, tiny_llama(tokenizer)(input_ids=ids).logits)


def test_adapter_base_mismatch_is_named(tiny_adapter, tokenizer, tmp_path):
    with pytest.raises(EvalError, match="trained on base 'tiny', but base 'embedded' was requested"):
        load_tuned(tiny_adapter, base="embedded")
    narrow = tmp_path / "narrow"
    add_perturbed_lora(tiny_llama(tokenizer, hidden_size=32, intermediate_size=64)).save_pretrained(
        narrow, save_embedding_layers=False
    )
    with pytest.raises(AdapterError, match=r"does not fit base 'tiny'.*in_features=64"):
        load_tuned(narrow)
    with pytest.raises(AdapterError, match="adapter directory not found"):
        load_tuned(tmp_path / "missing")
    (tiny_adapter / "adapter_config.json").write_text("{not json")
    with pytest.raises(AdapterError, match="adapter_config.json is not valid JSON"):
        load_tuned(tiny_adapter)
    (tiny_adapter / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterError, match="safetensors"):
        load_tuned(tiny_adapter)


def test_bad_eval_input_is_reported(tokenizer, smoke_config, tmp_path, capsys):
    with pytest.raises(EvalError, match="no valid eval rows"):
        valid_eval_rows([{"instruction": "", "question": " ", "answer": "x"}], tokenizer, 128)
    source = tmp_path / "cards.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    smoke_config.data.source, smoke_config.data.eval_size = str(source), 3
    smoke_config.data.columns = {"question": "question", "answer": "answer"}  # the file holds pipeline field names
    with pytest.warns(UserWarning, match="asked for 50 eval examples but the eval split has 3"):
        assert len(select_eval_rows(smoke_config, 50)) == 3
    assert main(["eval", "--adapter", str(tmp_path / "nope"), "--profile", "smoke"]) == 2
    assert "adapter directory not found" in capsys.readouterr().err


@pytest.mark.slow
def test_embedded_model_answers_in_batches():
    model, tokenizer = load_base(EMBEDDED)
    questions = [ROWS[1]["question"], ROWS[7]["question"]]
    batched = generate_answers(model, tokenizer, questions, max_new_tokens=16, batch_size=2, progress=False)
    single = generate_answers(model, tokenizer, questions, max_new_tokens=16, batch_size=1, progress=False)
    assert batched == single
    assert all(len(answer.split()) >= 3 and "<|im_end|>" not in answer for answer in batched)


def test_resumed_sweep_reads_finished_runs_back_and_retrains_changed_ones(tmp_path, capsys):
    config = apply_overrides(load_profile("smoke"), [f"output_dir={tmp_path}", "eval.max_new_tokens=4",
                                                     "eval.bootstrap_samples=50", "train.max_steps=2"])
    experiments = {"primary": [], "rank2": ["lora.r=2", "lora.alpha=4"]}
    first = sweep(config, experiments, progress=False)
    recorded = json.loads((tmp_path / "sweep" / "experiments.json").read_text())
    assert recorded["experiments"] == json.loads(json.dumps(first))
    assert recorded["settings"]["output_dir"] == str(tmp_path) and recorded["torch"] == torch.__version__
    weights = tmp_path / "sweep" / "primary" / "adapter" / "adapter_model.safetensors"
    written = weights.stat().st_mtime_ns
    capsys.readouterr()

    assert sweep(config, experiments, progress=False, resume=True) == first
    assert capsys.readouterr().out.count("trained and evaluated with these settings already") == 2
    assert weights.stat().st_mtime_ns == written

    sweep(config, {"primary": ["train.learning_rate=5e-4"]}, progress=False, resume=True)
    assert weights.stat().st_mtime_ns != written, "a run with other settings must be trained again"
    assert len((tmp_path / "sweep" / "experiments.csv").read_text().splitlines()) == 3  # header, base, primary
