"""Training: LoRA size, answer-only labels, padding-free equivalence, outputs, resume after SIGKILL, DDP, bad input.

Everything runs on the random "tiny" Llama with the embedded tokenizer and a small flashcard file written here,
so the file takes a minute or two on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from peft import PeftModel, get_peft_model
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

from medassist import cli
from medassist.config import LoraSettings, apply_overrides, load_profile
from medassist.data import DataError, load_records
from medassist.models import TINY, ModelLoadError, count_parameters, load_base, tiny_llama
from medassist.prompts import encode, to_prompt_completion
from medassist.lora import build_lora_config, lora_parameter_count, lora_parameter_count_for
from medassist.packing import PACKED_ATTENTION, use_packed_attention
from medassist.run_checks import TrainError, last_complete_checkpoint
from medassist.train import CHECKPOINT_DIR, build_trainer, encode_dataset, sft_config, train

from conftest import write_jsonl

ROOT = Path(__file__).resolve().parents[1]
ORGANS = ("heart", "liver", "kidney", "lung", "thyroid", "pancreas", "spleen", "stomach")


@pytest.fixture(scope="module")
def cards(tmp_path_factory) -> Path:
    """48 short flashcards in the medalpaca schema."""
    rows = [
        {
            "instruction": "Answer this question truthfully",
            "input": f"What does the {ORGANS[i % 8]} do in scenario {i}?",
            "output": f"In scenario {i} the {ORGANS[i % 8]} regulates pathway {i * 7 % 31} and is monitored yearly.",
        }
        for i in range(48)
    ]
    return write_jsonl(tmp_path_factory.mktemp("data") / "cards.jsonl", rows)


def smoke(cards: Path, output: Path, *overrides: str):
    return apply_overrides(load_profile("smoke"), [f"data.source={cards}", f"output_dir={output}", *overrides])


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medassist", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# ----------------------------------------------------------------------------------------- LoRA size


def test_lora_formula_matches_a_peft_wrapped_tiny_llama(tokenizer):
    for modules in (LoraSettings().target_modules, ("q_proj", "v_proj")):
        lora = LoraSettings(r=4, alpha=8, target_modules=modules)
        model = tiny_llama(tokenizer, num_key_value_heads=1)
        wrapped = get_peft_model(model, build_lora_config(lora))
        assert count_parameters(wrapped)[0] == lora_parameter_count_for(model.config, lora) > 0


def test_lora_formula_reproduces_the_seed_figures_for_tinyllama():
    """The original notebook printed 12,615,680 trainable of 1,112,664,064 parameters for TinyLlama-1.1B with r=16 on 7 modules."""
    config = LlamaConfig(
        vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
        num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048, tie_word_embeddings=False,
    )
    lora = LoraSettings(r=16)
    assert lora_parameter_count_for(config, lora) == 12_615_680
    with torch.device("meta"):  # shapes only: nothing is allocated or downloaded
        wrapped = get_peft_model(LlamaForCausalLM(config), build_lora_config(lora))
    assert count_parameters(wrapped) == (12_615_680, 1_112_664_064)
    with pytest.raises(ValueError, match="lm_head"):
        lora_parameter_count(2048, 5632, 22, 32, 4, 16, ["lm_head"])


# ----------------------------------------------------------------------------------------- data and loss


@pytest.fixture(scope="module")
def tiny_trainer(cards, tokenizer, tmp_path_factory):
    """The trainer `train` builds, on the tiny model and 8 flashcards (built, not run)."""
    config = smoke(cards, tmp_path_factory.mktemp("run"))
    rows = load_records(str(cards))[:8]
    model = tiny_llama(tokenizer)
    model.config.use_cache = False
    use_packed_attention(model)
    train_set = encode_dataset(tokenizer, rows, config.data.max_length)
    device, dtype = torch.device("cpu"), torch.float32
    return build_trainer(config, model, tokenizer, train_set, None, device, dtype), rows


def test_labels_cover_answer_tokens_only(tiny_trainer, tokenizer):
    trainer, rows = tiny_trainer
    for example, row in zip(trainer.train_dataset, rows):
        encoded = encode(tokenizer, row, 128)
        assert example["input_ids"] == encoded.input_ids  # tokenised once, by us: TRL did not re-tokenise
        answer = [label for label in example["labels"] if label != -100]
        assert [label != -100 for label in example["labels"]] == [bool(m) for m in encoded.completion_mask]
        assert tokenizer.decode(answer) == to_prompt_completion(tokenizer, row).completion
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    starts = (batch["position_ids"][0] == 0).nonzero().flatten()
    assert batch["input_ids"].shape[0] == 1 and len(starts) == 3  # one row, three examples, no padding
    assert (batch["labels"][0, starts] == -100).all()  # no example is trained to follow the one before it


@pytest.mark.parametrize("attention", ["eager", "sdpa", PACKED_ATTENTION])
def test_padding_free_loss_equals_token_weighted_loss_of_each_example_alone(tiny_trainer, attention):
    trainer, _ = tiny_trainer
    model = trainer.model.eval()
    model.get_base_model().set_attn_implementation(attention)
    examples = [trainer.train_dataset[i] for i in range(4)]
    batch = trainer.data_collator(examples)
    with torch.no_grad():
        packed = trainer.compute_loss(model, dict(batch)).item()
        total, count = 0.0, 0
        for example in examples:
            labels = torch.tensor([example["labels"]])
            n = int((labels[:, 1:] != -100).sum())
            total += model(input_ids=torch.tensor([example["input_ids"]]), labels=labels).loss.item() * n
            count += n
        # Control: the same row with one causal mask over all of it lets examples see each other.
        unmasked = model(input_ids=batch["input_ids"], labels=batch["labels"]).loss.item()
    model.get_base_model().set_attn_implementation(PACKED_ATTENTION)
    assert packed == pytest.approx(total / count, rel=1e-5)
    assert abs(unmasked - total / count) > 1e-4


def test_accumulated_micro_batches_give_the_gradient_of_one_batch(cards, tokenizer, tmp_path):
    """The loss divides by the answer tokens of the whole optimizer step, as the Trainer's num_items_in_batch says."""
    config = smoke(cards, tmp_path, "lora.dropout=0", "train.grad_accum=2")
    rows = load_records(str(cards))[:8]
    model = tiny_llama(tokenizer)
    use_packed_attention(model)
    trainer = build_trainer(config, model, tokenizer, encode_dataset(tokenizer, rows, 128), None,
                            torch.device("cpu"), torch.float32)
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    for name, parameter in trainer.model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.02)  # B starts at zero, which would leave A without gradient

    def step_gradient(batches) -> torch.Tensor:
        answer_tokens = sum(batch["labels"][:, 1:].ne(-100).sum() for batch in batches)
        for batch in batches:
            trainer.training_step(trainer.model, batch, answer_tokens)
        gradient = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.requires_grad])
        trainer.model.zero_grad()
        return gradient

    examples = [trainer.train_dataset[i] for i in range(8)]
    accumulated = step_gradient([trainer.data_collator(examples[:3]), trainer.data_collator(examples[3:])])
    whole = step_gradient([trainer.data_collator(examples)])
    assert torch.allclose(accumulated, whole, rtol=1e-4, atol=1e-7) and whole.abs().max() > 0


def test_cpu_precision_is_fp32_whatever_trls_default(tmp_path):
    args = sft_config(load_profile("cpu"), torch.device("cpu"), torch.float32, tmp_path)
    assert (args.bf16, args.fp16, args.gradient_checkpointing) == (False, False, False)
    assert args.padding_free and args.completion_only_loss
    assert args.get_warmup_steps(100) == 5  # warmup_ratio 0.05 passed as warmup_steps < 1 is a ratio
    gpu = sft_config(load_profile("t4"), torch.device("cuda"), torch.float16, tmp_path)
    assert (gpu.fp16, gpu.bf16, gpu.gradient_checkpointing) == (True, False, True)


# ----------------------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def smoke_run(cards, tmp_path_factory):
    output = tmp_path_factory.mktemp("smoke")
    config = smoke(cards, output, "train.epochs=2", "train.warmup_ratio=0.25")
    return config, train(config)


def test_smoke_train_writes_a_complete_adapter(smoke_run):
    config, result = smoke_run
    adapter = Path(result.adapter_dir)
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "README.md", "training_log.json", "loss_curve.png"):
        assert (adapter / name).is_file(), name
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == TINY
    assert (adapter / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    card = (adapter / "README.md").read_text()
    assert "base_model: tiny" in card and f"--adapter {adapter}\n" in card
    assert not [p for p in adapter.parent.iterdir() if p.name.startswith(".adapter")]  # no staging left behind

    log = json.loads((adapter / "training_log.json").read_text())
    assert log["steps"] == log["planned_steps"] == result.steps == 16  # 32 train rows / 4 per step x 2 epochs
    assert (log["trainable_params"], log["total_params"]) == (result.trainable_params, result.total_params)
    assert log["trainable_params"] == lora_parameter_count_for(tiny_llama(load_base(TINY)[1]).config, config.lora)
    assert log["settings"]["train"]["learning_rate"] == config.train.learning_rate
    assert log["data"]["train_rows"] == 32 and "rss_mb" in log["memory_after"]
    losses = [e for e in log["log_history"] if "loss" in e]
    assert len(losses) == 16 and all(e["loss"] > 0 for e in losses)
    assert [e["epoch"] for e in log["log_history"] if "eval_loss" in e] == [1.0, 2.0]  # eval each epoch
    rates = [e["learning_rate"] for e in losses]
    peak = rates.index(max(rates))  # warmup_ratio 0.25 of 16 steps: 4 warmup steps, then cosine decay
    assert peak == 4 and rates[:5] == sorted(set(rates[:5])) and rates[4:] == sorted(rates[4:], reverse=True)


def test_adapter_reloads_with_the_final_weights(smoke_run):
    _, result = smoke_run
    adapter = Path(result.adapter_dir)
    final_checkpoint = adapter.parent / CHECKPOINT_DIR / f"checkpoint-{result.steps}"  # saved from the live model
    saved, live = load_file(adapter / "adapter_model.safetensors"), load_file(final_checkpoint / "adapter_model.safetensors")
    assert saved.keys() == live.keys() and all(torch.equal(saved[k], live[k]) for k in saved)

    base, tokenizer = load_base(json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"])
    ids = tokenizer("What does the liver do?", return_tensors="pt").input_ids
    with torch.no_grad():
        base_logits = base(ids).logits
        tuned = PeftModel.from_pretrained(base, adapter).eval()
        tuned_logits = tuned(ids).logits
        again = PeftModel.from_pretrained(load_base(TINY)[0], final_checkpoint).eval()(ids).logits
    assert torch.equal(tuned_logits, again)
    assert not torch.allclose(tuned_logits, base_logits)  # training moved the adapter off its zero start


# ----------------------------------------------------------------------------------------- kill, resume, DDP


def test_sigkill_then_resume_finishes_the_planned_steps(cards, tmp_path):
    output = tmp_path / "run"
    args = ["train", "--profile", "smoke", "--output", str(output), "--source", str(cards),
            "--set", "train.max_steps=80", "--set", "train.save_steps=5", "--set", "train.logging_steps=20"]
    process = subprocess.Popen([sys.executable, "-m", "medassist", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = output / CHECKPOINT_DIR
    deadline = time.monotonic() + 240
    while last_complete_checkpoint(checkpoints) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "training ended before it could be killed"
    killed_at = last_complete_checkpoint(checkpoints)
    assert killed_at is not None and not (output / "adapter").exists()

    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resume from {killed_at}" in resumed.stdout
    assert "trained 80/80 steps" in resumed.stdout
    log = json.loads((output / "adapter" / "training_log.json").read_text())
    assert log["steps"] == log["planned_steps"] == 80


def test_incomplete_checkpoint_is_skipped_on_resume(tmp_path):
    for step, state in ((10, "{}"), (20, None), (30, '{"trunc')):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert last_complete_checkpoint(tmp_path / "missing") is None


def test_two_process_gloo_run_trains_on_both_ranks_and_writes_one_adapter(cards, tmp_path):
    output = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
               "-m", "medassist", "train", "--profile", "smoke", "--output", str(output), "--source", str(cards),
               "--set", "train.max_steps=3"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[rank 0/2] finished at step 3/3" in done.stdout and "[rank 1/2] finished at step 3/3" in done.stdout
    assert done.stdout.count("wrote ") == 1 and f"wrote {output / 'adapter'}" in done.stdout
    assert (output / "adapter" / "adapter_model.safetensors").is_file()
    assert not [p for p in output.iterdir() if p.name.startswith(".adapter")]


# ----------------------------------------------------------------------------------------- bad input


def test_unknown_profile_is_named(capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse lists the choices
        cli.main(["train", "--profile", "nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_missing_dataset_is_named(tmp_path):
    with pytest.raises(DataError, match="no_such.jsonl: file not found"):
        train(smoke(tmp_path / "no_such.jsonl", tmp_path / "out"))


def test_output_holding_something_else_is_not_replaced(cards, tmp_path):
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "notes.txt").write_text("mine")
    with pytest.raises(TrainError, match="not a PEFT adapter"):
        train(smoke(cards, tmp_path))
    assert (tmp_path / "adapter" / "notes.txt").read_text() == "mine"


def test_non_causal_base_is_refused(cards, tmp_path, tokenizer):
    from transformers import T5Config

    model_dir = tmp_path / "t5"
    T5Config(d_model=32, num_layers=1, num_heads=2, d_ff=64).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    with pytest.raises(ModelLoadError, match="not a causal language model"):
        train(smoke(cards, tmp_path / "out", f"model={model_dir}"))


def test_nan_loss_stops_training_and_leaves_no_adapter(cards, tmp_path):
    config = smoke(cards, tmp_path, "train.learning_rate=1e30", "train.warmup_ratio=0", "train.save_steps=1")
    with pytest.raises(TrainError, match="NaN/inf at step") as error:
        train(config)
    assert not (tmp_path / "adapter").exists()
    checkpoint = last_complete_checkpoint(tmp_path / CHECKPOINT_DIR)
    assert checkpoint is not None and checkpoint in str(error.value)
    weights = load_file(Path(checkpoint) / "adapter_model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())  # the kept checkpoint is a finite one


def test_a_csv_with_other_column_names_trains_with_a_column_mapping(cards, tmp_path):
    """README: --set 'data.columns={question: question, answer: answer}' reads a question,answer CSV."""
    rows = load_records(str(cards))
    csv = tmp_path / "qa.csv"
    csv.write_text("question,answer\n" + "".join(f'"{r["question"]}","{r["answer"]}"\n' for r in rows))
    output = tmp_path / "run"
    assert cli.main(["train", "--profile", "smoke", "--source", str(csv), "--output", str(output),
                     "--set", "train.max_steps=2"]) == 2  # the medalpaca columns are missing: a clear error
    assert cli.main(["train", "--profile", "smoke", "--source", str(csv), "--output", str(output),
                     "--set", "data.columns={question: question, answer: answer}", "--set", "train.max_steps=2"]) == 0
    log = json.loads((output / "adapter" / "training_log.json").read_text())
    assert log["steps"] == 2 and log["data"]["valid_rows"] == len(rows)
