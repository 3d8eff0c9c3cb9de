"""MedAssist web app, also the Hugging Face Space entry point: a streaming Gradio chat over `medassist.chat`.

    python app.py                                    # embedded SmolLM2-135M-Instruct + medical_lora_adapter/
    MEDASSIST_ADAPTER=outputs/cpu/adapter PORT=7861 python app.py

Environment: MEDASSIST_ADAPTER (adapter directory, default medical_lora_adapter/ next to this file),
MEDASSIST_BASE (base model; default: the one the adapter records), MEDASSIST_BACKEND (hf, the default,
or llama.cpp), MEDASSIST_MAX_NEW_TOKENS (the slider's starting value), MEDASSIST_QUEUE_SIZE (requests
that may wait for the model, default 32; past it Gradio refuses new ones with "queue is full"), PORT (default 7860).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gradio as gr

from medassist.chat import MAX_MESSAGE_CHARS, ChatEngine, serving_engine
from medassist.config import GenerationSettings
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


def build_app(engine: ChatEngine, note: str = "") -> gr.ChatInterface:
    """The chat UI: streaming answers, temperature and length sliders, examples, and what is loaded."""
    defaults = GenerationSettings()
    max_new_tokens = int(os.environ.get("MEDASSIST_MAX_NEW_TOKENS", defaults.max_new_tokens))

    def answer(message: str, history: list[dict], temperature: float, max_new: float):
        settings = GenerationSettings(
            temperature=float(temperature), top_p=defaults.top_p, max_new_tokens=int(max_new),
            repetition_penalty=defaults.repetition_penalty,
        )
        yield from engine.respond(message, history, settings)

    description = (
        f"Medical question answering by a small LoRA-tuned language model. Loaded: **{engine.description}**. "
        f"{note} Answers are general information for learning, not medical advice; in an emergency call your "
        "local emergency number."
    )
    return gr.ChatInterface(
        answer,
        textbox=gr.Textbox(placeholder="Ask a medical question...", max_length=MAX_MESSAGE_CHARS, submit_btn=True),
        additional_inputs=[
            gr.Slider(0.1, 1.0, value=defaults.temperature, step=0.05, label="Temperature"),
            gr.Slider(50, 400, value=max_new_tokens, step=10, label="Max new tokens"),
        ],
        additional_inputs_accordion=gr.Accordion("Generation settings", open=False),
        examples=[[question] for question in EXAMPLES],  # in the empty chat; a click asks with the current sliders
        cache_examples=False,
        title="MedAssist",
        description=description,
        fill_height=True,
    )


def main() -> None:
    adapter = os.environ.get("MEDASSIST_ADAPTER", str(HERE / "medical_lora_adapter"))
    try:
        engine, note = serving_engine(adapter, os.environ.get("MEDASSIST_BASE") or None,
                                      os.environ.get("MEDASSIST_BACKEND", "hf"))
    except (ValueError, ModelLoadError) as error:  # ChatError is a ValueError: a clear line, not a traceback
        sys.exit(f"MedAssist cannot start: {error}")
    # One generation at a time: on 2 CPU cores a second one would only halve the speed of both (see medassist.chat).
    queue_size = int(os.environ.get("MEDASSIST_QUEUE_SIZE", 32))
    app = build_app(engine, note).queue(default_concurrency_limit=1, max_size=queue_size)
    port = os.environ.get("PORT")
    app.launch(server_port=int(port) if port else None)


if __name__ == "__main__":
    main()
