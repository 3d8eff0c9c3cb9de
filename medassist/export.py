"""Exports for other runtimes: the base model with a LoRA adapter merged in, as a directory another tool loads.

- `merged`: safetensors weights (fp32 on CPU, as medassist serves them), the tokenizer with its chat template,
  a generation config that stops at the end of an assistant turn, and a model card saying how to load it
  (transformers, vLLM, TGI), the system prompt to use and why answers must be grounded in retrieved sources.
- `gguf`: a GGUF for llama.cpp (Q8_0 by default, F16 on request) written into a copy of the base's own GGUF
  (metadata, tokenizer, chat template; medassist.gguf), an Ollama `Modelfile` (ChatML template, stop token,
  medassist's system prompt and sampling settings) and a README. Only bases loaded from GGUF qualify.

An export directory is staged whole and swapped in (medassist.files.atomic_directory) and carries a marker
file: an existing output is replaced only when it is empty or a previous export, never a directory of
something else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from . import __version__
from .artefacts import hub_id
from .config import EMBEDDED, EMBEDDED_HUB_ID, GenerationSettings, ServeConfig
from .files import atomic_directory, remove_stale_staging, write_text
from .prompts import SYSTEM_PROMPT, end_of_turn_ids

FORMATS = ("merged", "gguf")
GGUF_QUANTS = ("q8_0", "f16")  # the keys of medassist.gguf.GGUF_FILE_TYPES, first the default
EXPORT_MARKER = "medassist_export.json"  # written last into every export; its presence makes a directory replaceable
MODELFILE = "Modelfile"
EXAMPLE_USER_TURN = "Sources:\n[1] <a retrieved card's question>\n<its answer>\n\nQuestion: <the user's question>"


class ExportError(ValueError):
    """An export cannot be made as asked; the message says why and what to do instead."""


# --------------------------------------------------------------------------------------------
# Checks made before any model is loaded


def check_format(fmt: str, quant: str | None) -> str | None:
    """The quantisation to use (None for `merged`); an unknown format or quantisation is an `ExportError`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}': choose {' or '.join(FORMATS)}")
    if fmt == "merged":
        if quant is not None:
            raise ExportError("--quant applies to --format gguf only (a merged export keeps the full-precision weights)")
        return None
    quant = (quant or GGUF_QUANTS[0]).lower()
    if quant not in GGUF_QUANTS:
        raise ExportError(f"unknown GGUF quantisation '{quant}': choose {' or '.join(GGUF_QUANTS)}")
    return quant


def is_previous_export(directory: Path) -> bool:
    return (directory / EXPORT_MARKER).is_file()


def check_output(output: Path) -> None:
    """An output is written when it is absent, an empty directory or a previous export; anything else is refused."""
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise ExportError(f"--output {output} exists and is not a directory; choose a new directory")
    if output.is_dir() and any(output.iterdir()) and not is_previous_export(output):
        raise ExportError(
            f"--output {output} exists and is not empty (and holds no {EXPORT_MARKER} of a previous export); "
            "choose a new directory or empty this one"
        )


def check_gguf_base(source: str) -> None:
    """A GGUF export rewrites the base's own GGUF: the base must have been loaded from one."""
    if source in (EMBEDDED, EMBEDDED_HUB_ID) or (source.endswith(".gguf") and Path(source).is_file()):
        return
    raise ExportError(
        f"--format gguf needs an adapter whose base was loaded from GGUF ('embedded', {EMBEDDED_HUB_ID} or a .gguf "
        f"file), not '{source}'; use --format merged and convert that with llama.cpp's convert_hf_to_gguf.py"
    )


# --------------------------------------------------------------------------------------------
# Chat template, Ollama form


def chatml(messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def default_system_prompt(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """The system turn the tokenizer's template adds when a conversation has none, checking that it is ChatML.

    The template must render a system/user/assistant conversation exactly as ChatML does, and a conversation
    without a system turn as ChatML with at most a default system turn in front; otherwise `ExportError`.
    """
    probe = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]
    user_only = [{"role": "user", "content": "U"}]
    try:
        full = tokenizer.apply_chat_template(probe, tokenize=False)
        bare = tokenizer.apply_chat_template(user_only, tokenize=False, add_generation_prompt=True)
    except Exception as error:  # a template that cannot render a plain conversation
        raise ExportError(f"the model's chat template cannot render a conversation: {error}") from error
    expected_bare = chatml(user_only, add_generation_prompt=True)
    if full != chatml(probe) or not bare.endswith(expected_bare):
        raise ExportError("the model's chat template is not ChatML (<|im_start|>role ... <|im_end|>); "
                          "the Ollama Modelfile is written for ChatML models only")
    prefix = bare[: -len(expected_bare)]
    if not prefix:
        return None
    if not (prefix.startswith("<|im_start|>system\n") and prefix.endswith("<|im_end|>\n")):
        raise ExportError(f"the model's chat template starts a conversation with {prefix!r}, which is not a ChatML system turn")
    return prefix[len("<|im_start|>system\n") : -len("<|im_end|>\n")]


def ollama_template(tokenizer: PreTrainedTokenizerBase) -> str:
    """The tokenizer's ChatML chat template as an Ollama (Go text/template) TEMPLATE.

    Ollama puts the Modelfile's SYSTEM in front of the messages as a system turn; the template's own default
    system turn (SmolLM2 has one) is kept for a conversation that starts without one, as the model was trained.
    """
    default = default_system_prompt(tokenizer)
    first = (
        f'{{{{ if and (eq $i 0) (ne .Role "system") }}}}<|im_start|>system\n{default}<|im_end|>\n{{{{ end }}}}'
        if default is not None else ""
    )
    return (
        f"{{{{- range $i, $_ := .Messages }}}}{first}<|im_start|>{{{{ .Role }}}}\n{{{{ .Content }}}}<|im_end|>\n"
        "{{ end }}<|im_start|>assistant\n"
    )


def triple_quoted(text: str, what: str) -> str:
    if '"""' in text:
        raise ExportError(f'the {what} contains """, which an Ollama Modelfile cannot quote')
    return f'"""{text}"""'


def modelfile(gguf_name: str, tokenizer: PreTrainedTokenizerBase, system_prompt: str = SYSTEM_PROMPT,
              settings: GenerationSettings | None = None, context_tokens: int = ServeConfig.context_tokens) -> str:
    """An Ollama Modelfile for `gguf_name` beside it: ChatML template, stop at end of turn, medassist's system prompt."""
    settings = settings or GenerationSettings()
    stops = sorted({tokenizer.convert_ids_to_tokens(i) for i in end_of_turn_ids(tokenizer)})
    lines = [
        "# medassist export for Ollama: ollama create medassist -f Modelfile && ollama run medassist",
        "# Answers must be grounded: medassist retrieves sources from its knowledge base and puts them in the user",
        "# turn as numbered sources (see README.md); the bare model is not a source of medical facts.",
        f"FROM ./{gguf_name}",
        f"TEMPLATE {triple_quoted(ollama_template(tokenizer), 'chat template')}",
        *(f"PARAMETER stop {json.dumps(stop)}" for stop in stops),
        f"PARAMETER temperature {settings.temperature}",
        f"PARAMETER top_p {settings.top_p}",
        "PARAMETER top_k 0",
        f"PARAMETER repeat_penalty {settings.repetition_penalty}",
        f"PARAMETER num_predict {settings.max_new_tokens}",
        f"PARAMETER num_ctx {context_tokens}",
        f"SYSTEM {triple_quoted(system_prompt, 'system prompt')}",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Model cards


@dataclass
class ExportInfo:
    adapter: Path
    base: str  # the Hub id where there is one
    lora: dict[str, Any]


GROUNDING_NOTE = [
    "## Answers must be grounded",
    "",
    "medassist never lets this model answer from memory: for every question it retrieves cards from its knowledge",
    "base (BM25 over its medical flashcards), puts the best ones into the user turn as numbered sources, and",
    "answers with a fixed refusal when no card matches well enough. The model was fine-tuned to copy facts from",
    "those sources and cite them like [1], or to say that its sources have nothing on the question.",
    "",
    "This export is the bare model, without the retriever. **It is not a source of medical facts**: asked without",
    "sources it writes fluent text that may be wrong. Give it retrieved, trusted sources in every prompt, in the",
    "format below, and keep a refusal for questions they do not cover. Educational use only; not medical advice.",
    "",
]


def prompt_section() -> list[str]:
    return [
        "## Prompt",
        "",
        "System prompt (use it verbatim):",
        "",
        "```text",
        SYSTEM_PROMPT,
        "```",
        "",
        "User turn: the retrieved sources, numbered, then the question:",
        "",
        "```text",
        EXAMPLE_USER_TURN,
        "```",
        "",
        "The chat template is ChatML (`<|im_start|>role\\n...<|im_end|>`); an answer ends with `<|im_end|>`.",
        "",
    ]


def front_matter(info: ExportInfo, library: str, extra_tags: str) -> list[str]:
    hub_like = info.base.count("/") == 1 and not info.base.startswith((".", "/")) and not Path(info.base).exists()
    return [
        "---",
        *([f"base_model: {info.base}"] if hub_like else []),
        f"library_name: {library}",
        f"tags: [medassist, lora, merged, medical, question-answering{extra_tags}]",
        "---",
        "",
    ]


def lora_line(info: ExportInfo) -> str:
    modules = info.lora.get("target_modules")
    modules = ", ".join(modules) if isinstance(modules, list) else modules
    return f"LoRA r={info.lora.get('r')}, alpha={info.lora.get('lora_alpha')}, modules {modules}"


def merged_card(info: ExportInfo) -> str:
    """README.md of a merged export: what it is, the grounding rule, the prompt, how to load it."""
    messages = json.dumps(
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": EXAMPLE_USER_TURN}], indent=2
    )
    lines = [
        *front_matter(info, "transformers", ""),
        f"# medassist: {info.base} with a medical LoRA adapter merged in",
        "",
        f"The weights of `{info.base}` with the LoRA adapter `{info.adapter.name}` ({lora_line(info)}) merged in",
        "(`merge_and_unload`), exported by `medassist export --format merged`: a plain causal LM that loads without PEFT",
        "or medassist. The tokenizer carries the chat template; `generation_config.json` stops at the end of a turn.",
        "Greedy decoding gives the answers medassist's hf backend gives for the same prompt.",
        "",
        *GROUNDING_NOTE,
        *prompt_section(),
        "## Load it",
        "",
        "transformers:",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        'model = AutoModelForCausalLM.from_pretrained("<this directory>")',
        'tokenizer = AutoTokenizer.from_pretrained("<this directory>")',
        f"messages = {messages}",
        "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", return_dict=True)",
        "output = model.generate(**inputs, max_new_tokens=256)",
        "print(tokenizer.decode(output[0, inputs[\"input_ids\"].shape[1]:], skip_special_tokens=True))",
        "```",
        "",
        "vLLM (OpenAI-compatible server; send the system prompt and the sources with every request):",
        "",
        "```",
        "vllm serve <this directory> --served-model-name medassist",
        "curl http://localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\",
        ("  -d '{\"model\": \"medassist\", \"messages\": [{\"role\": \"system\", \"content\": \"<system prompt>\"}, "
         "{\"role\": \"user\", \"content\": \"<sources and question>\"}]}'"),
        "```",
        "",
        "Text Generation Inference:",
        "",
        "```",
        ("docker run -p 8080:80 -v <this directory>:/data/medassist ghcr.io/huggingface/text-generation-inference "
         "--model-id /data/medassist"),
        "```",
        "",
        "then the same chat-completions request to `http://localhost:8080/v1/chat/completions`.",
        "",
    ]
    return "\n".join(lines)


def gguf_card(info: ExportInfo, gguf_name: str, quant: str) -> str:
    """README.md of a GGUF export."""
    lines = [
        *front_matter(info, "gguf", ", gguf, llama.cpp, ollama"),
        f"# medassist: {info.base} with a medical LoRA adapter merged in, GGUF {quant.upper()}",
        "",
        f"`{gguf_name}`: the weights of `{info.base}` with the LoRA adapter `{info.adapter.name}` ({lora_line(info)})",
        f"merged in, matrices in {quant.upper()}, written into a copy of the base's own GGUF (its metadata, tokenizer",
        f"and chat template), exported by `medassist export --format gguf --quant {quant}`. `{MODELFILE}` packages it for",
        "Ollama with the chat template, the end-of-turn stop token, medassist's system prompt and sampling settings.",
        "",
        *GROUNDING_NOTE,
        *prompt_section(),
        "## Run it",
        "",
        "Ollama (from this directory):",
        "",
        "```",
        f"ollama create medassist -f {MODELFILE}",
        "ollama run medassist",
        "```",
        "",
        "llama.cpp (OpenAI-compatible server using the GGUF's chat template; send the system prompt and the sources):",
        "",
        "```",
        f"llama-server -m {gguf_name} --jinja -c {ServeConfig.context_tokens}",
        "```",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Exports


def write_marker(directory: Path, fmt: str, info: ExportInfo, quant: str | None, files: list[str]) -> None:
    marker = {
        "format": fmt,
        "quant": quant,
        "adapter": str(info.adapter),
        "base": info.base,
        "medassist_version": __version__,
        "files": sorted(files),
    }
    write_text(directory / EXPORT_MARKER, json.dumps(marker, indent=2) + "\n")


def export_merged(adapter: Path, output: Path) -> Path:
    from .backends import load_model
    from .models import read_adapter_config

    lora = read_adapter_config(adapter)
    model, tokenizer, source = load_model(adapter)
    info = ExportInfo(adapter=adapter, base=hub_id(source), lora=lora)
    model.config.name_or_path = info.base
    model.generation_config.eos_token_id = end_of_turn_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    with atomic_directory(output) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        write_text(staging / "README.md", merged_card(info))
        write_marker(staging, "merged", info, None, [p.name for p in staging.iterdir()])
    return output


def export_gguf_bundle(adapter: Path, output: Path, quant: str) -> Path:
    from .gguf import export_gguf, gguf_base_file
    from .models import adapter_base, read_adapter_config

    lora = read_adapter_config(adapter)
    source = adapter_base(adapter)
    check_gguf_base(source)
    base_gguf = gguf_base_file(source)
    from .backends import load_model

    model, tokenizer, source = load_model(adapter)
    info = ExportInfo(adapter=adapter, base=hub_id(source), lora=lora)
    gguf_name = f"{base_gguf.name.split('.')[0]}-medassist.{quant.upper()}.gguf"
    recipe = modelfile(gguf_name, tokenizer)  # checks the chat template before the slow part
    with atomic_directory(output) as staging:
        export_gguf(model, base_gguf, staging / gguf_name, quant=quant)
        write_text(staging / MODELFILE, recipe)
        write_text(staging / "README.md", gguf_card(info, gguf_name, quant))
        write_marker(staging, "gguf", info, quant, [p.name for p in staging.iterdir()])
    return output


def export(adapter: str | Path, fmt: str, output: str | Path, quant: str | None = None) -> Path:
    """Export `adapter` merged into its recorded base as `fmt` ('merged' or 'gguf') into the directory `output`.

    Everything that can be checked without the model is checked first (format, quantisation, adapter, output),
    each failure an `ExportError` or `AdapterError` (both ValueError) with a one-line message.
    """
    from .models import read_adapter_config

    quant = check_format(fmt, quant)
    adapter, output = Path(adapter), Path(output)
    read_adapter_config(adapter)
    check_output(output)
    if output.resolve() in (adapter.resolve(), *adapter.resolve().parents):
        raise ExportError(f"--output {output} holds the adapter {adapter}, which an export would replace; "
                          "choose another directory")
    remove_stale_staging(output)
    if fmt == "merged":
        return export_merged(adapter, output)
    return export_gguf_bundle(adapter, output, quant)
