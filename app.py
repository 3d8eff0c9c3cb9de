"""MedAssist web app, also the Hugging Face Space entry point: a streaming Gradio chat over `medassist.chat`.

    python app.py                                    # embedded SmolLM2-135M-Instruct + medical_lora_adapter/
    MEDASSIST_ADAPTER=outputs/cpu/adapter PORT=7861 python app.py

Settings are the `serve` and `generation` sections of medassist's Config; the environment variables in
`ENVIRONMENT` (MEDASSIST_ADAPTER, MEDASSIST_BASE, MEDASSIST_BACKEND, MEDASSIST_MAX_NEW_TOKENS,
MEDASSIST_QUEUE_SIZE, ...) set them. A relative adapter path is read from this file's folder. PORT picks the port.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import gradio as gr

from medassist.chat import ChatEngine, Reply, serving_engine
from medassist.config import Config, apply_overrides
from medassist.models import ModelLoadError
from medassist.safety import DISCLAIMER

HERE = Path(__file__).resolve().parent
EXAMPLES = [  # questions the shipped knowledge base answers, worded as a user would
    "What reverses the effect of heparin?",
    "How does metformin lower blood glucose?",
    "Why do ACE inhibitors cause a dry cough?",
    "How is iron deficiency anemia diagnosed?",
    "Which nerve supplies the deltoid muscle?",
    "What is the first-line treatment for anaphylaxis?",
]


# Environment variable -> the config field it sets (the one place app.py reads its environment).
ENVIRONMENT = {
    "MEDASSIST_ADAPTER": "serve.adapter",
    "MEDASSIST_BASE": "serve.base",
    "MEDASSIST_BACKEND": "serve.backend",
    "MEDASSIST_QUEUE_SIZE": "serve.queue_size",
    "MEDASSIST_MAX_MESSAGE_CHARS": "serve.max_message_chars",
    "MEDASSIST_CONTEXT_TOKENS": "serve.context_tokens",
    "MEDASSIST_MAX_NEW_TOKENS": "generation.max_new_tokens",
    "MEDASSIST_TEMPERATURE": "generation.temperature",
}


def config_from_environment(environ: dict[str, str] = os.environ) -> Config:
    """The default Config with the variables of `ENVIRONMENT` that are set applied (typed by the config)."""
    return apply_overrides(Config(), [f"{key}={environ[name]}" for name, key in ENVIRONMENT.items() if environ.get(name)])


# Narrow screens (phones): a compact header, so the examples and the input box fit without scrolling.
NARROW_SCREEN_CSS = """
@media (max-width: 480px) {
  h1 { font-size: 1.2rem !important; margin: 0 !important; }
  .prose p, .prose blockquote { font-size: 0.8rem !important; margin: 0.15rem 0 !important; }
  .gradio-container { padding-top: 0.25rem !important; }
}
"""


def short_model_name(engine: ChatEngine, adapter: Path, note: str) -> str:
    """What the header names: the base model's short name and the adapter's folder, not server paths."""
    base = engine.description.split("'")[1].split("/")[-1] if "'" in engine.description else engine.description
    return f"{base} + {adapter.name}" if not note else f"{base} (no fine-tuned adapter)"


def as_messages(reply: Reply) -> str | list[gr.ChatMessage]:
    """A turn as the chat shows it: the answer (an emergency as a warning block), then each source as a
    collapsible card titled with its question; a turn without sources stays one plain message."""
    text = reply.text
    if reply.kind == "emergency":
        guidance = text.removesuffix(DISCLAIMER)
        text = "\n".join(f"> {line}" for line in guidance.splitlines()) + DISCLAIMER
    if not reply.sources:
        return text
    messages = [gr.ChatMessage(role="assistant", content=text)]
    for number, hit in enumerate(reply.sources, start=1):
        messages.append(gr.ChatMessage(role="assistant", content=hit.card.answer,
                                       metadata={"title": f"Source [{number}]: {hit.card.question}", "status": "done"}))
    return messages


def build_app(engine: ChatEngine, config: Config, header: str = "", note: str = "") -> gr.ChatInterface:
    """The chat UI: streaming answers with their sources, a Stop button, temperature and length sliders, examples."""
    defaults = config.generation

    def answer(message: str, history: list[dict], temperature: float, max_new: float):
        try:
            settings = replace(defaults, temperature=float(temperature), max_new_tokens=int(max_new))
        except (TypeError, ValueError):
            yield "Temperature and max new tokens must be numbers."
            return
        for reply in engine.turn(message if isinstance(message, str) else "", history, settings):
            yield as_messages(reply)  # sources from the first token on: a stopped answer is never shown without them

    description = (
        f"Answers medical questions from a knowledge base of reviewed flashcards, with its sources. "
        f"Model: **{header}**. {note}\n\n"
        "> \u26a0\ufe0f **Not medical advice.** For learning only; answers can be incomplete or wrong. "
        "In an emergency, call your local emergency number (911 / 112 / 999)."
    )
    return gr.ChatInterface(
        answer,
        # No max_length: a longer paste reaches the engine, which says how long it was (and still checks for an emergency).
        textbox=gr.Textbox(placeholder=f"Ask a medical question (up to {config.serve.max_message_chars:,} characters)...",
                           submit_btn=True, stop_btn=True),
        additional_inputs=[
            gr.Slider(0.1, 1.0, value=defaults.temperature, step=0.05, label="Temperature"),
            gr.Slider(50, 400, value=defaults.max_new_tokens, step=2, label="Max new tokens"),
        ],
        additional_inputs_accordion=gr.Accordion("Generation settings", open=False),
        examples=[[question] for question in EXAMPLES],  # in the empty chat; a click asks with the current sliders
        cache_examples=False,
        title="MedAssist",
        description=description,
        fill_height=True,
    )


def main() -> None:
    try:
        config = config_from_environment()
        serve = config.serve
        adapter = HERE / serve.adapter
        if os.environ.get("MEDASSIST_ADAPTER") and not adapter.is_dir():  # asked for explicitly: never serve another model
            raise ValueError(f"MEDASSIST_ADAPTER={os.environ['MEDASSIST_ADAPTER']} is not a directory")
        engine, note = serving_engine(adapter, serve.base, serve.backend, serve.context_tokens, config.grounding)
    except (ValueError, ModelLoadError) as error:  # ChatError is a ValueError: a clear line, not a traceback
        sys.exit(f"MedAssist cannot start: {error}")
    if note:
        print(f"warning: {note}", file=sys.stderr)
    # As many generations at once as the backend runs (medassist.chat); the queue holds the rest, up to its size.
    app = build_app(engine, config, short_model_name(engine, adapter, note), note).queue(default_concurrency_limit=engine.backend.slots, max_size=serve.queue_size)
    port = os.environ.get("PORT")
    app.launch(server_port=int(port) if port else None, css=NARROW_SCREEN_CSS)


if __name__ == "__main__":
    main()
