"""What the assistant checks before a model sees a message: emergencies, empty or oversized input, settings.

Every model answer ends with the disclaimer. A message describing an emergency happening now gets fixed,
reviewed first-aid text (`emergency_reply`) and no model output at all: a 135M-parameter model must never be
the source of first-aid or crisis instructions. The detector itself (`detect_emergency`, `EMERGENCY_KINDS`)
lives in medassist.emergency and is re-exported here for callers. Once a conversation has had an emergency it
stays in emergency mode (the reminder and the guidance again) until the user clearly moves on. Text is made
encodable (lone surrogates replaced) before any tokenizer sees it; generation settings are checked before any
model runs (`check_settings`).
"""

from __future__ import annotations

import math
import numbers
import re
from functools import lru_cache

from .config import GenerationSettings, ServeConfig
from .emergency import (
    COMPANION,
    EMERGENCY_KINDS,
    FIRST_PERSON,
    INTERROGATIVE,
    detect_emergency,
    flatten,
    normalize,
    rx,
)

__all__ = [
    "DISCLAIMER", "EMERGENCY_GUIDANCE", "EMERGENCY_KINDS", "EMERGENCY_REMINDER", "EMPTY_MESSAGE_REPLY",
    "LONE_SURROGATE", "MAX_MESSAGE_CHARS", "MIN_TEMPERATURE", "ChatError", "check_message", "check_settings",
    "detect_emergency", "emergency_reply", "encodable", "moved_on",
]


class ChatError(ValueError):
    """The engine cannot serve this request or adapter; the message says what is wrong."""


DISCLAIMER = (
    "\n\n---\n*MedAssist gives general medical information for learning, not personal medical advice. "
    "Consult a qualified healthcare professional about your own health.*"
)
EMPTY_MESSAGE_REPLY = (
    "Please type a medical question, for example: *What are the early signs of type 2 diabetes?*"
)

MAX_MESSAGE_CHARS = ServeConfig.max_message_chars
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# --------------------------------------------------------------------------------------------
# The fixed replies

_AI = "**MedAssist is an AI and cannot assess an emergency.**"
_CALL = "**Call your local emergency number now: 911 (US), 112 (EU), 999 (UK).**"

EMERGENCY_GUIDANCE: dict[str, str] = {
    # Follows: American Heart Association "Warning Signs of a Heart Attack" and NHS "Heart attack" first-aid advice.
    "chest_pain": (
        f"{_AI} Chest pain like this can be a heart attack. {_CALL}\n\n"
        "While you wait:\n"
        "- Sit down and rest in the most comfortable position; loosen tight clothing.\n"
        "- Take aspirin only if the emergency dispatcher tells you to, and never if allergic to it.\n"
        "- If the person collapses and is not breathing normally, tell the dispatcher at once: they will guide you.\n\n"
        "Do **not** drive yourself to hospital, and do not wait to see if it passes."
    ),
    # Follows: NHS "Stroke" (act F.A.S.T.) and American Stroke Association "Stroke Warning Signs" advice.
    "stroke": (
        f"{_AI} A drooping face, arm weakness or slurred speech can be a stroke. {_CALL}\n\n"
        "While you wait:\n"
        "- Note the time the symptoms started (or when the person was last seen well) and tell the paramedics.\n"
        "- Stay with the person and keep them comfortable. If they are vomiting, or become unresponsive but are "
        "breathing, turn them on their side.\n\n"
        "Do **not** give them anything to eat or drink, including medicines: swallowing may be affected. "
        "Do not drive them yourself; wait for the ambulance."
    ),
    # Follows: NHS "Choking" and "Asthma attack" advice, and British Red Cross first aid for breathing difficulty.
    "breathing": (
        f"{_AI} Serious difficulty breathing is an emergency. {_CALL}\n\n"
        "While you wait:\n"
        "- Help the person sit upright; stay calm and loosen tight clothing.\n"
        "- If they have their own prescribed reliever inhaler, help them use it as prescribed.\n"
        "- If they are choking and can still cough, encourage them to keep coughing. If they cannot cough, speak "
        "or breathe, tell the dispatcher at once: they will guide you.\n\n"
        "Do **not** lay them flat, give them food or drink, or put your fingers in their mouth blindly."
    ),
    # Follows: NHS and British Red Cross first-aid advice for severe bleeding.
    "bleeding": (
        f"{_AI} Heavy bleeding is an emergency. {_CALL}\n\n"
        "While you wait:\n"
        "- Press firmly and steadily on the wound with a clean cloth or pad (or your hand).\n"
        "- If blood soaks through, do **not** remove the cloth: put more on top and keep pressing.\n"
        "- Help the person lie down, keep them warm, and stay with them.\n"
        "- If the blood comes from inside (vomited, coughed up, or in pregnancy), keep them still and resting; if "
        "they are vomiting, turn them on their side.\n\n"
        "Do **not** pull out anything stuck in the wound (press around it), and give nothing to eat or drink."
    ),
    # Follows: America's Poison Centers and NHS first-aid advice for poisoning and overdose.
    "overdose_poisoning": (
        f"{_AI} {_CALL} If the person is awake and breathing normally, you can also call poison control "
        "(US 1-800-222-1222) for advice.\n\n"
        "While you wait:\n"
        "- Stay with the person. If they are unresponsive but breathing, turn them on their side.\n"
        "- Keep the packet, bottle or container to show the paramedics.\n"
        "- If it may be an opioid overdose and naloxone is at hand, use it as its instructions say.\n\n"
        "Do **not** make the person vomit unless poison control tells you to, and give nothing to eat or drink "
        "unless they advise it."
    ),
    # Follows: Resuscitation Council UK and NHS "Anaphylaxis" first-aid advice.
    "allergic_reaction": (
        f"{_AI} Swelling of the throat, tongue or lips, or trouble breathing, after a trigger can be anaphylaxis. "
        f"{_CALL} Say it may be anaphylaxis.\n\n"
        "While you wait:\n"
        "- If the person has an adrenaline (epinephrine) auto-injector prescribed, use it now as its instructions "
        "say.\n"
        "- Lie them down with their legs raised; if breathing is hard, let them sit up instead.\n"
        "- If they are no better after 5 minutes and have a second auto-injector, use it.\n\n"
        "Do **not** let them stand up or walk, even if they feel better, and do not rely on antihistamine tablets "
        "instead of adrenaline."
    ),
    # Follows: NHS "Epilepsy: what to do if someone has a seizure" and St John Ambulance advice for an unresponsive
    # casualty.
    "unconscious_seizure": (
        f"{_AI} Someone unresponsive, or having a seizure, needs urgent help. {_CALL}\n\n"
        "While you wait:\n"
        "- During a seizure, move dangerous objects away, cushion their head, and time how long it lasts.\n"
        "- Once it stops, or if they are unresponsive: check their breathing. If they breathe normally, turn them "
        "on their side (recovery position) and stay with them.\n"
        "- If they are not breathing normally, tell the dispatcher at once: they will guide you.\n\n"
        "Do **not** hold them down or put anything in their mouth, and give them nothing to eat or drink."
    ),
    # Follows: 988 Suicide & Crisis Lifeline and Samaritans guidance for people in crisis.
    "suicide_self_harm": (
        f"{_AI} But you do not have to face this alone: help is there now.\n\n"
        "- **Call or text 988** (Suicide & Crisis Lifeline, US) or **call Samaritans on 116 123** (UK and "
        "Ireland), free, any time.\n"
        "- **If you are in danger now, or have hurt yourself or taken something, call your local emergency "
        "number: 911 (US), 112 (EU), 999 (UK).**\n"
        "- Stay with someone you trust, or ask someone to come and be with you.\n"
        "- If it is safe, put distance between yourself and anything you could use to hurt yourself.\n\n"
        "If you are worried about someone else: stay with them, call for help, and remove the means if it is safe."
    ),
}

EMERGENCY_REMINDER = (
    "**You described a possible emergency. MedAssist is an AI and cannot help with it: if you have not "
    "already, call your local emergency number now (911 / 112 / 999) and follow the dispatcher's "
    "instructions.** The advice below still applies."
)


# --------------------------------------------------------------------------------------------
# Conversation: an emergency keeps the conversation in emergency mode until the user clearly moves on

EMERGENCY_MEMORY = 6  # earlier user messages looked at
_detect_earlier = lru_cache(maxsize=64)(detect_emergency)  # the same earlier messages come back every turn

_MOVE_ON = rx(
    r"\b((a |one )?(different|new|another|unrelated|separate|other|general) (question|topic|subject|query)|"
    r"change (of|the) (topic|subject)|changing (the )?(topic|subject)|on (another|a different) (note|topic)|"
    r"moving on|unrelated|otra pregunta|nueva pregunta|otro tema|cambiando de tema|autre question|"
    r"nouvelle question|autre sujet|changement de sujet|andere frage|neue frage|anderes thema|themawechsel)\b"
)
# A word tying a message to the emergency: a person, the wait, the ambulance, what to do, how they are.
_FOLLOW_UP = rx(
    r"\b(he|she|they|him|her|his|hers|them|their|it|its|hes|shes|theyre|this|that|wait|waiting|ambulance|"
    r"paramedics?|911|999|112|dispatcher|operator|still|now|what (do|should|can) (i|we)|should (i|we)|"
    r"can (i|we)|do (i|we)|going to be|worse|better|breathing|awake|conscious|bleeding|pain|help|water|drink|"
    r"eat|aspirin|inhaler|epipen|pills|cpr|recovery position|hospital|ella|ellos|ambulancia|"
    r"todavia|sigue|ahora|espero|esperando|debo|puedo|il|elle|ils|elles|lui|pompiers|samu|toujours|encore|"
    r"maintenant|attends|attendant|dois|peux|er|sie|ihn|ihm|ihr|krankenwagen|notarzt|rettungswagen|immer noch|"
    r"noch|jetzt|warte|warten|soll|sollen|darf|kann)\b"
)
# Words of each kind's topic: a question about them right after that emergency is taken as about it.
_TOPIC: dict[str, re.Pattern[str]] = {
    kind: rx(pattern)
    for kind, pattern in {
        "chest_pain": r"\b(chest|heart|cardiac|angina|infarct\w*|aspirin|nitro\w*|gtn|ecg|pecho|corazon|"
                      r"poitrine|coeur|brust|herz\w*)\b",
        "stroke": r"\b(stroke|tia|brain|face|speech|clot\w*|thromboly\w*|ictus|avc|schlaganfall)\b",
        "breathing": r"\b(breath\w*|asthma|inhaler|choking|chok\w*|heimlich|oxygen|airway|respir\w*|atem\w*)\b",
        "bleeding": r"\b(bleed\w*|blood|wound|tourniquet|pressure|bandage|sangr\w*|sang|saign\w*|blut\w*)\b",
        "overdose_poisoning": r"\b(overdose|poison\w*|antidote|naloxone|narcan|charcoal|pills?|tablets?|"
                              r"paracetamol|vomit\w*|sobredosis|veneno|intoxication|uberdosis|vergiftung)\b",
        "allergic_reaction": r"\b(allerg\w*|anaphyla\w*|epipen|adrenaline|epinephrine|auto injector|antihistamine|"
                             r"swelling|hives|alerg\w*|anafila\w*)\b",
        "unconscious_seizure": r"\b(seizure|fit|epilep\w*|convuls\w*|faint\w*|unconscious|recovery position|"
                               r"midazolam|cpr|convulsion|crise|krampf\w*|anfall)\b",
        "suicide_self_harm": r"\b(suicid\w*|self harm|crisis|988|samaritans|depress\w*|kill|die|dying|cut\w*|"
                             r"lethal|fatal|overdose|dose|pills?|tablets?|rope|bridge|suizid\w*)\b",
    }.items()
}


def moved_on(message: str, kind: str) -> bool:
    """Whether `message` clearly leaves the `kind` emergency behind: a new question with nothing tying it to the
    emergency, either announced ("different question: ...") or plainly unrelated (a generic question on
    another topic; not after a suicidal crisis, where only an announced change of subject counts). Anything
    doubtful stays in emergency mode."""
    window = normalize(message[:2000])
    flat = flatten(window)
    if not flat or _FOLLOW_UP.search(flat) or _TOPIC[kind].search(flat):
        return False
    if _MOVE_ON.search(flat):
        return True
    if kind == "suicide_self_harm":  # after a crisis, only an announced change of subject ends the crisis reply
        return False
    question = "?" in window or bool(INTERROGATIVE.search(flat))
    return question and not FIRST_PERSON.search(flat) and not COMPANION.search(flat)


def emergency_reply(message: str, earlier_user_messages: list[str]) -> str | None:
    """The fixed reply for this turn, or None when the model may answer.

    An emergency in `message` gets its kind's guidance. Otherwise, if one of the last EMERGENCY_MEMORY earlier
    user messages was an emergency and no message since (this one included) clearly moved on, the conversation
    is still in emergency mode: the reminder and that kind's guidance again. Works on the whole text of a
    message of any length, so call it before the length and empty checks."""
    kind = detect_emergency(message)
    if kind:
        return EMERGENCY_GUIDANCE[kind]
    recent = [m for m in (earlier_user_messages or [])[-EMERGENCY_MEMORY:] if isinstance(m, str)]
    for index in range(len(recent) - 1, -1, -1):
        kind = _detect_earlier(recent[index])
        if kind:
            later = [*recent[index + 1 :], message if isinstance(message, str) else ""]
            if any(moved_on(later_message, kind) for later_message in later):
                return None
            return f"{EMERGENCY_REMINDER}\n\n{EMERGENCY_GUIDANCE[kind]}"
    return None


# --------------------------------------------------------------------------------------------
# Input and settings checks


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


# Sampling at a temperature this close to 0 divides the logits into infinities (1e-45 ends in a RuntimeError
# inside sampling): below it, only exactly 0 (greedy decoding) is accepted.
MIN_TEMPERATURE = 0.01


def _number(name: str, value: object) -> float:
    """`value` as a finite float, or a ChatError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ChatError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ChatError(f"{name} must be a finite number, got {value}")
    return float(value)


def check_settings(settings: GenerationSettings) -> None:
    """Refuse generation settings no backend can use, with a message naming the setting (issue 16.5)."""
    temperature = _number("temperature", getattr(settings, "temperature", None))
    if not 0 <= temperature <= 2:
        raise ChatError(f"temperature must be between 0 (greedy) and 2, got {temperature}")
    if 0 < temperature < MIN_TEMPERATURE:
        raise ChatError(
            f"temperature {temperature} is too close to 0 to sample with: use at least {MIN_TEMPERATURE}, "
            "or exactly 0 for greedy decoding"
        )
    top_p = _number("top_p", getattr(settings, "top_p", None))
    if not 0 < top_p <= 1:
        raise ChatError(f"top_p must be in (0, 1], got {top_p}")
    max_new_tokens = getattr(settings, "max_new_tokens", None)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral):
        raise ChatError(f"max_new_tokens must be a whole number, got {type(max_new_tokens).__name__} {max_new_tokens!r}")
    if max_new_tokens < 1:
        raise ChatError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    repetition_penalty = _number("repetition_penalty", getattr(settings, "repetition_penalty", None))
    if repetition_penalty <= 0:
        raise ChatError(f"repetition_penalty must be positive, got {repetition_penalty}")
