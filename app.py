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

from medassist.chat import ChatEngine, serving_engine
from medassist.config import Config, apply_overrides
from medassist.models import ModelLoadError

HERE = Path(__file__).resolve().parent
EXAMPLES = [
    "What are the early signs of type 2 diabetes?",
    "How does metformin lower blood glucose?",
    "What is the difference between a viral and a bacterial infection?",
    "What are the common side effects of ACE inhibitors?",
    "How is iron deficiency anemia diagnosed?",
    "What does a high TSH level indicate?",
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


def build_app(engine: ChatEngine, config: Config, note: str = "") -> gr.ChatInterface:
    """The chat UI: streaming answers, temperature and length sliders, examples, and what is loaded."""
    defaults = config.generation

    def answer(message: str, history: list[dict], temperature: float, max_new: float):
        settings = replace(defaults, temperature=float(temperature), max_new_tokens=int(max_new))
        yield from engine.respond(message, history, settings)

    description = (
        f"Medical question answering by a small LoRA-tuned language model. Loaded: **{engine.description}**. "
        f"{note} Answers are general information for learning, not medical advice; in an emergency call your "
        "local emergency number."
    )
    return gr.ChatInterface(
        answer,
        textbox=gr.Textbox(placeholder="Ask a medical question...", max_length=config.serve.max_message_chars, submit_btn=True),
        additional_inputs=[
            gr.Slider(0.1, 1.0, value=defaults.temperature, step=0.05, label="Temperature"),
            gr.Slider(50, 400, value=defaults.max_new_tokens, step=10, label="Max new tokens"),
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
        engine, note = serving_engine(HERE / serve.adapter, serve.base, serve.backend, serve.context_tokens)
    except (ValueError, ModelLoadError) as error:  # ChatError is a ValueError: a clear line, not a traceback
        sys.exit(f"MedAssist cannot start: {error}")
    # As many generations at once as the backend runs (medassist.chat); the queue holds the rest, up to its size.
    app = build_app(engine, config, note).queue(default_concurrency_limit=engine.backend.slots, max_size=serve.queue_size)
    port = os.environ.get("PORT")
    app.launch(server_port=int(port) if port else None)


if __name__ == "__main__":
    main()
