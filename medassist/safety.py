"""What the assistant checks before a model sees a message: emergencies, empty or oversized input, settings.

Every answer ends with the disclaimer. A message describing an emergency gets the urgent-care notice
before anything else. Text is made encodable (lone surrogates replaced) before any tokenizer sees it.
"""

from __future__ import annotations

import re

from .config import GenerationSettings, ServeConfig


class ChatError(ValueError):
    """The engine cannot serve this request or adapter; the message says what is wrong."""


DISCLAIMER = (
    "\n\n---\n*MedAssist gives general medical information for learning, not personal medical advice. "
    "Consult a qualified healthcare professional about your own health.*"
)
URGENT_NOTICE = (
    "**\u26a0\ufe0f This may be a medical emergency ({signs}). Call your local emergency number "
    "(911 / 112 / 999) or go to the nearest emergency department now.{crisis}**\n\n"
)
CRISIS_LINE = " If you are thinking about suicide, call or text a crisis line (988 in the US) or talk to someone you trust today."
EMPTY_MESSAGE_REPLY = (
    "Please type a medical question, for example: *What are the early signs of type 2 diabetes?*"
)

# Words that describe an emergency, by the name the urgent-care notice gives them.
EMERGENCY_SIGNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "chest pain": r"\bchest\b.{0,30}\b(pain|pressure|tight\w*|crush\w*)|\bheart attack",
        "stroke signs": r"\bstroke\b|face\b.{0,20}\bdroop|slurred speech|sudden(ly)?\b.{0,30}\b(numb\w*|weak\w*|"
        r"confus\w*|can'?t speak)|one side of (my|his|her|their|the) (body|face)",
        "difficulty breathing": r"(can'?t|cannot|unable to|hard to|struggling to|difficulty|trouble|problems?)\W+"
        r"(\w+\W+)?breath|short(ness)? of breath|not breathing|stopped breathing|choking|turning blue",
        "suicidal thoughts": r"suicid\w*|kill(ing)? (myself|himself|herself|themselves)|end(ing)? (my|his|her) "
        r"(own )?life|want(ed)? to die|self[- ]harm|hurt(ing)? myself",
        "severe bleeding": r"(severe|heavy|heavily|uncontroll\w*|profuse\w*|a lot of)\W+(\w+\W+)?bleed\w*|"
        r"bleed\w*\W+(heavily|badly|profusely|a lot)|bleed\w*\b.{0,30}\b(won'?t|will not|doesn'?t|does not|can'?t|"
        r"cannot|not) stop|(vomit\w*|cough\w*)( up)? blood",
        "overdose or poisoning": r"overdos\w*|took too many|swallowed\b.{0,30}\b(poison|bleach|pills)|\bpoison\w*",
        "severe allergic reaction": r"anaphyla\w*|throat\b.{0,20}\b(clos\w*|swell\w*)|swollen (tongue|throat)",
        "loss of consciousness or seizure": r"unconscious|unresponsive|passed out|faint(ed)? and|seizure|convuls\w*",
    }.items()
}

MAX_MESSAGE_CHARS = ServeConfig.max_message_chars
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def detect_emergency(text: str) -> list[str]:
    """Names of the emergency signs `text` describes (empty when none)."""
    return [name for name, pattern in EMERGENCY_SIGNS.items() if pattern.search(text)]


def urgent_notice(text: str) -> str:
    signs = detect_emergency(text)
    if not signs:
        return ""
    return URGENT_NOTICE.format(signs=", ".join(signs), crisis=CRISIS_LINE if "suicidal thoughts" in signs else "")


def check_message(message: str, max_chars: int = MAX_MESSAGE_CHARS) -> str | None:
    """A reply for a message that cannot be answered (empty or too long), else None."""
    if not message or not message.strip():
        return EMPTY_MESSAGE_REPLY
    if len(message) > max_chars:
        return (
            f"Your message is {len(message):,} characters long; the limit is {max_chars:,}. "
            "Please shorten it and ask again."
        )
    return None


def encodable(text: str) -> str:
    """`text` with lone UTF-16 surrogates replaced by U+FFFD: JSON (so the Gradio API) can carry them, but UTF-8
    cannot, and the tokenizer raises on them."""
    return LONE_SURROGATE.sub("\ufffd", text)


def check_settings(settings: GenerationSettings) -> None:
    if not 0 <= settings.temperature <= 2:
        raise ChatError(f"temperature must be between 0 (greedy) and 2, got {settings.temperature}")
    if not 0 < settings.top_p <= 1:
        raise ChatError(f"top_p must be in (0, 1], got {settings.top_p}")
    if settings.max_new_tokens < 1:
        raise ChatError(f"max_new_tokens must be at least 1, got {settings.max_new_tokens}")
    if settings.repetition_penalty <= 0:
        raise ChatError(f"repetition_penalty must be positive, got {settings.repetition_penalty}")
