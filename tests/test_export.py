"""Exports for other runtimes (merged safetensors, GGUF + Ollama Modelfile) and adapter interoperability.

A merged export must answer exactly like the engine's merged model when loaded with plain transformers; a
GGUF export must keep the base GGUF's tensor list and shapes; the shipped adapter must load with plain PEFT
code on the embedded model's safetensors copy and give medassist's logits.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from medassist.cli import main
from medassist.config import ADAPTER_CONFIG, ADAPTER_WEIGHTS, EMBEDDED, EMBEDDED_HUB_ID, TINY
from medassist.export import EXPORT_MARKER, ExportError, export, modelfile, ollama_template
from medassist.models import tiny_llama
from medassist.prompts import SYSTEM_PROMPT, ZEPHYR_TEMPLATE, build_messages

REPO = Path(__file__).resolve().parents[1]
SHIPPED_ADAPTER = REPO / "medical_lora_adapter"
QUESTIONS = [
    "What is the antidote for heparin?",
    ("Sources:\n[1] Which organ produces insulin?\nThe pancreas, in the beta cells of the islets.\n\n"
     "Question: Which organ produces insulin?"),
    "Which electrolyte abnormality causes peaked T waves?",
]


def save_lora(model: torch.nn.Module, base: str, path: Path, seed: int = 0, scale: float = 0.1) -> Path:
    """An r=4 q_proj/v_proj LoRA adapter whose B matrices are small random values, so it changes the answers."""
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    tuned = get_peft_model(model, config)
    tuned.peft_config["default"].base_model_name_or_path = base  # what train.py records
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in tuned.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    tuned.save_pretrained(path, save_embedding_layers=False)
    return path


@pytest.fixture(scope="module")
def tiny_adapter(tokenizer, tmp_path_factory) -> Path:
    return save_lora(tiny_llama(tokenizer), TINY, tmp_path_factory.mktemp("tiny-adapter"), scale=0.5)


@pytest.fixture(scope="module")
def embedded_adapter(tmp_path_factory) -> Path:
    from medassist.models import load_base

    model, _ = load_base(EMBEDDED)
    return save_lora(model, EMBEDDED_HUB_ID, tmp_path_factory.mktemp("embedded-adapter"))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["export", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------------------------
# Refusals: one line on stderr, exit 2, before any model is loaded


def test_unknown_format_quant_and_missing_adapter_are_one_line_errors(tiny_adapter, tmp_path, capsys):
    cases = [
        (["--adapter", tiny_adapter, "--format", "onnx"], "unknown export format 'onnx': choose merged or gguf"),
        (["--adapter", tiny_adapter, "--format", "gguf", "--quant", "q4_0"], "unknown GGUF quantisation 'q4_0'"),
        (["--adapter", tiny_adapter, "--format", "merged", "--quant", "f16"], "--quant applies to --format gguf only"),
        (["--adapter", tmp_path / "missing", "--format", "merged"], "adapter directory not found"),
        (["--adapter", tmp_path, "--format", "merged"], "is not a PEFT adapter"),
        (["--adapter", tiny_adapter, "--format", "gguf"], "needs an adapter whose base was loaded from GGUF"),
    ]
    for arguments, message in cases:
        code, _, err = run_cli(capsys, *arguments, "--output", tmp_path / "out")
        assert code == 2 and message in err and err.count("\n") == 1, (arguments, err)
        assert err.startswith("medassist export: error: ")
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_not_empty_is_refused_unless_it_is_a_previous_export(tiny_adapter, tmp_path, capsys):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    code, _, err = run_cli(capsys, "--adapter", tiny_adapter, "--format", "merged", "--output", occupied)
    assert code == 2 and "exists and is not empty" in err and err.count("\n") == 1
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    code, _, err = run_cli(capsys, "--adapter", tiny_adapter, "--format", "merged", "--output", a_file)
    assert code == 2 and "is not a directory" in err

    (tmp_path / "empty").mkdir()
    code, out, _ = run_cli(capsys, "--adapter", tiny_adapter, "--format", "merged", "--output", tmp_path / "empty")
    assert code == 0 and "wrote merged export" in out
    marker = json.loads((tmp_path / "empty" / EXPORT_MARKER).read_text())
    assert marker["format"] == "merged" and marker["base"] == TINY and "model.safetensors" in marker["files"]

    (tmp_path / "empty" / "stale.txt").write_text("from before")
    code, _, _ = run_cli(capsys, "--adapter", tiny_adapter, "--format", "merged", "--output", tmp_path / "empty")
    assert code == 0 and not (tmp_path / "empty" / "stale.txt").exists()  # a previous export is replaced whole

    # An export directory that holds the adapter itself would be replaced with it: refused.
    inside = tmp_path / "empty" / "adapter"
    shutil.copytree(tiny_adapter, inside)
    code, _, err = run_cli(capsys, "--adapter", inside, "--format", "merged", "--output", tmp_path / "empty")
    assert code == 2 and "holds the adapter" in err and (inside / ADAPTER_WEIGHTS).is_file()


def test_merged_tiny_export_loads_with_plain_transformers(tiny_adapter, tmp_path):
    from transformers import AutoModelForCausalLM

    from medassist.backends import load_model

    out = export(tiny_adapter, "merged", tmp_path / "merged")
    exported = AutoModelForCausalLM.from_pretrained(out)
    merged, tokenizer, _ = load_model(tiny_adapter)
    ids = tokenizer("What is asthma?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(exported(ids).logits, merged(ids).logits)
    card = (out / "README.md").read_text()
    assert SYSTEM_PROMPT in card and "not a source of medical facts" in card


# --------------------------------------------------------------------------------------------
# The Ollama template is the tokenizer's chat template


GO_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


def render_go_template(template: str, messages: list[dict[str, str]]) -> str:
    """Just enough of Go's text/template for the Modelfile's TEMPLATE: range over .Messages, if/and/eq/ne, fields."""
    tokens: list[tuple[str, str]] = []
    position, trim_next = 0, False
    for match in GO_ACTION.finditer(template):
        text = template[position : match.start()]
        text = text.lstrip() if trim_next else text
        tokens.append(("text", text.rstrip() if match.group(1) else text))
        tokens.append(("action", match.group(2)))
        position, trim_next = match.end(), bool(match.group(3))
    tail = template[position:]
    tokens.append(("text", tail.lstrip() if trim_next else tail))

    def parse(index: int) -> tuple[list, int]:
        nodes = []
        while index < len(tokens):
            kind, value = tokens[index]
            index += 1
            if kind == "text" or not value.startswith(("range", "if", "end")):
                nodes.append((kind, value))
            elif value == "end":
                return nodes, index
            else:
                body, index = parse(index)
                nodes.append((value.split()[0], value, body))
        return nodes, index

    def value_of(term: str, scope: dict) -> object:
        if term.startswith('"'):
            return json.loads(term)
        if term.lstrip("-").isdigit():
            return int(term)
        return scope[term]

    def condition(expression: str, scope: dict) -> bool:
        clauses = re.findall(r"\((eq|ne) (\S+) (\S+)\)", expression)
        assert expression.startswith("and ") and len(clauses) == 2, expression
        return all((value_of(a, scope) == value_of(b, scope)) == (op == "eq") for op, a, b in clauses)

    def run(nodes: list, scope: dict) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "action":
                out.append(str(scope[node[1]]))
            elif node[0] == "range":
                assert node[1] == "range $i, $_ := .Messages", node[1]
                for i, message in enumerate(messages):
                    out.append(run(node[2], {"$i": i, ".Role": message["role"], ".Content": message["content"]}))
            else:
                out.append(run(node[2], scope) if condition(node[1][3:], scope) else "")
        return "".join(out)

    return run(parse(0)[0], {})


def test_the_ollama_template_renders_what_the_chat_template_renders(tokenizer):
    template = ollama_template(tokenizer)
    with_system = build_messages(tokenizer, "What is asthma?", history=[("Hi", "Hello.")])
    without_system = with_system[1:]
    for messages in (with_system, without_system):
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert render_go_template(template, messages) == expected

    recipe = modelfile("model.gguf", tokenizer)
    assert recipe.count('"""') == 4 and f'TEMPLATE """{template}"""' in recipe
    assert 'PARAMETER stop "<|im_end|>"' in recipe and f'SYSTEM """{SYSTEM_PROMPT}"""' in recipe

    zephyr = copy.deepcopy(tokenizer)
    zephyr.chat_template = ZEPHYR_TEMPLATE
    with pytest.raises(ExportError, match="not ChatML"):
        ollama_template(zephyr)


# --------------------------------------------------------------------------------------------
# The embedded model: merged answers, GGUF layout


@pytest.mark.slow
def test_merged_export_answers_like_the_engine(embedded_adapter, tmp_path, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medassist.backends import load_model
    from medassist.generation import generate_answers
    from medassist.models import load_base

    out = tmp_path / "merged"
    code, _, err = run_cli(capsys, "--adapter", embedded_adapter, "--format", "merged", "--output", out)
    assert code == 0, err
    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    exported_tokenizer = AutoTokenizer.from_pretrained(out)
    merged, tokenizer, source = load_model(embedded_adapter)
    assert source == EMBEDDED_HUB_ID and exported_tokenizer.chat_template == tokenizer.chat_template

    settings = {"max_new_tokens": 24, "batch_size": 2, "progress": False}
    answers = generate_answers(exported, exported_tokenizer, QUESTIONS, **settings)
    assert answers == generate_answers(merged, tokenizer, QUESTIONS, **settings)
    base, base_tokenizer = load_base(EMBEDDED)
    assert answers != generate_answers(base, base_tokenizer, QUESTIONS, **settings)  # the adapter matters

    card = (out / "README.md").read_text()
    assert card.startswith(f"---\nbase_model: {EMBEDDED_HUB_ID}\n") and SYSTEM_PROMPT in card
    for needle in ("vllm serve", "text-generation-inference", "not a source of medical facts", "retrieves cards"):
        assert needle in card
    assert json.loads((out / EXPORT_MARKER).read_text())["base"] == EMBEDDED_HUB_ID


@pytest.mark.slow
def test_gguf_export_keeps_the_base_tensor_layout_and_writes_a_modelfile(embedded_adapter, tmp_path, capsys):
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader

    from medassist.backends import load_model
    from medassist.gguf import gguf_base_file, rope_interleave

    out = tmp_path / "gguf"
    code, out_text, err = run_cli(capsys, "--adapter", embedded_adapter, "--format", "gguf", "--output", out)
    assert code == 0, err
    assert "ollama create medassist -f Modelfile" in out_text
    [gguf_file] = out.glob("*.gguf")
    assert gguf_file.name.endswith(".Q8_0.gguf")
    base = {t.name: t for t in GGUFReader(gguf_base_file(EMBEDDED)).tensors}
    exported = {t.name: t for t in GGUFReader(gguf_file).tensors}
    assert len(exported) == len(base) and exported.keys() == base.keys()
    for name, tensor in exported.items():
        assert list(tensor.shape) == list(base[name].shape), name
        expected = GGMLQuantizationType.Q8_0 if len(tensor.shape) == 2 else GGMLQuantizationType.F32
        assert tensor.tensor_type == expected, name

    recipe = (out / "Modelfile").read_text()
    assert f"FROM ./{gguf_file.name}\n" in recipe and 'PARAMETER stop "<|im_end|>"' in recipe
    assert f'SYSTEM """{SYSTEM_PROMPT}"""' in recipe
    assert "not a source of medical facts" in (out / "README.md").read_text()

    # F16 into the same (previous export) directory: replaced whole; matrices are the merged weights in fp16.
    export(embedded_adapter, "gguf", out, quant="f16")
    [f16_file] = out.glob("*.gguf")
    assert f16_file.name.endswith(".F16.gguf")
    tensors = {t.name: t for t in GGUFReader(f16_file).tensors}
    assert {name: list(t.shape) for name, t in tensors.items()} == {name: list(t.shape) for name, t in base.items()}
    merged, _, _ = load_model(embedded_adapter)
    state = merged.state_dict()
    heads = merged.config.num_attention_heads
    v = np.asarray(tensors["blk.3.attn_v.weight"].data)
    q = np.asarray(tensors["blk.3.attn_q.weight"].data)
    assert v.dtype == np.float16
    assert np.array_equal(v, state["model.layers.3.self_attn.v_proj.weight"].half().numpy())
    assert np.array_equal(q, rope_interleave(state["model.layers.3.self_attn.q_proj.weight"], heads).half().numpy())
    assert json.loads((out / EXPORT_MARKER).read_text())["quant"] == "f16"


# --------------------------------------------------------------------------------------------
# Interoperability: the shipped adapter with plain PEFT code, and old-style adapters through medassist


def adapter_copy(source: Path, destination: Path, base: str) -> Path:
    destination.mkdir()
    shutil.copy(source / ADAPTER_WEIGHTS, destination / ADAPTER_WEIGHTS)
    config = json.loads((source / ADAPTER_CONFIG).read_text())
    config["base_model_name_or_path"] = base
    (destination / ADAPTER_CONFIG).write_text(json.dumps(config))
    return destination


@pytest.mark.slow
def test_the_shipped_adapter_loads_with_plain_peft_and_old_style_adapters_still_load(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from medassist.models import load_adapter, resolve_source

    plain = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(resolve_source(EMBEDDED)), str(SHIPPED_ADAPTER)
    ).eval()
    tuned, tokenizer, _ = load_adapter(SHIPPED_ADAPTER)
    ids = tokenizer(tokenizer.apply_chat_template(build_messages(tokenizer, "What is the antidote for heparin?"),
                                                  tokenize=False, add_generation_prompt=True),
                    return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        expected = plain(ids).logits
        assert torch.allclose(tuned(ids).logits, expected, atol=1e-5)
        for base in (EMBEDDED, EMBEDDED_HUB_ID):  # old-style adapters recorded "embedded"; new ones the Hub id
            other, _, source = load_adapter(adapter_copy(SHIPPED_ADAPTER, tmp_path / base.replace("/", "_"), base))
            assert source == base
            assert torch.allclose(other(ids).logits, expected, atol=1e-5)
