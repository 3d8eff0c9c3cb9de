"""Emergency detection (medassist.emergency), the fixed emergency replies and the settings checks (medassist.safety).

The model must never be the source of first-aid or crisis instructions: an emergency happening now gets fixed,
reviewed text; a textbook question about the same topic gets a normal answer (issue 12). Settings no backend can
use are refused with a clear message (issue 16.5).
"""

from __future__ import annotations

import inspect
import json
import random
import re
from pathlib import Path

import pytest

from medassist import emergency, safety
from medassist.config import GenerationSettings
from medassist.emergency_classifier import MESSAGES, RESCUE_PROBABILITY, TRAINING_SETS, EmergencyClassifier, load_messages
from medassist.safety import (
    DISCLAIMER,
    EMERGENCY_GUIDANCE,
    EMERGENCY_KINDS,
    EMERGENCY_REMINDER,
    EMPTY_MESSAGE_REPLY,
    LONE_SURROGATE,
    MAX_MESSAGE_CHARS,
    ChatError,
    check_message,
    check_settings,
    detect_emergency,
    emergency_reply,
    encodable,
)

DATA = MESSAGES
LABELLED = DATA / "emergency_messages.jsonl"  # splits "dev" and "holdout"
# All labelled files: the one above, then each fresh file ("fresh", "fresh2", ...), written after the rules of its day.
LABELLED_FILES = sorted(DATA.glob("emergency_messages*.jsonl"))

ISSUE_TEXTBOOK = [
    "What is the first-line treatment for anaphylaxis?",
    "Which drug reverses a heroin overdose?",
    "What is the antidote for ethylene glycol poisoning?",
    "What reverses the effect of heparin in an overdose?",
    "My brain scan after a stroke shows dead tissue; what kind of necrosis is that?",
]
ISSUE_EMERGENCIES = [
    ("I have crushing chest pain and my left arm is numb", "chest_pain"),
    ("my son's throat is swelling after a bee sting", "allergic_reaction"),
    ("I want to kill myself", "suicide_self_harm"),
    ("I took 40 paracetamol an hour ago", "overdose_poisoning"),
    ("my friend is not breathing", "breathing"),
]

# Messages written for these tests over the rounds of rules (each class of phrasing a fresh file found missing, in
# the four languages), none of them in a fresh file; the classifier trains on them too.
WRITTEN = load_messages(("handwritten.jsonl",))
ALL_QUESTIONS = ISSUE_TEXTBOOK + [row["text"] for row in WRITTEN if not row["emergency"]]
ALL_EMERGENCIES = ISSUE_EMERGENCIES + [(row["text"], row["kind"]) for row in WRITTEN if row["emergency"]]


def test_the_kinds_are_the_issues_eight():
    assert EMERGENCY_KINDS == (
        "chest_pain", "stroke", "breathing", "bleeding", "overdose_poisoning", "allergic_reaction",
        "unconscious_seizure", "suicide_self_harm",
    )
    assert set(EMERGENCY_GUIDANCE) == set(EMERGENCY_KINDS)


def test_the_keyword_notice_is_gone():
    for name in ("URGENT_NOTICE", "CRISIS_LINE", "urgent_notice", "EMERGENCY_SIGNS"):
        assert not hasattr(safety, name), name


@pytest.mark.parametrize("question", ALL_QUESTIONS)
def test_questions_about_emergencies_are_not_emergencies(question):
    assert detect_emergency(question) is None
    assert emergency_reply(question, []) is None


@pytest.mark.parametrize(
    ("message", "kind"), ALL_EMERGENCIES
)
def test_emergencies_happening_now_get_their_kind(message, kind):
    assert detect_emergency(message) == kind
    assert emergency_reply(message, []) == EMERGENCY_GUIDANCE[kind]


FILLER = "I have been reading about sleep, diet and exercise for a school project this term. "


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("ch\u200best p\u200c\u200dain right now and I feel faint", "chest_pain"),
        ("\u200b".join("my friend is not breathing"), "breathing"),
        ("\u202emy son is choking\u202c\ufeff", "breathing"),
        ("c h e s t  p a i n  and my arm is numb", "chest_pain"),
        ("m y  f r i e n d  i s  n o t  b r e a t h i n g", "breathing"),
        ("\U0001f62d\U0001f62d my chest hurts so bad \U0001f494 please help", "chest_pain"),
        ("\U0001f6a8 " * 3000 + "my son is choking", "breathing"),
        ("Help, mi padre no puede respirar and his lips are blue", "breathing"),
        ("Hilfe!! my mum is unconscious und reagiert nicht", "unconscious_seizure"),
        ("my mom collapsed and shes not breathing what do i do", "breathing"),
        ("MY DAD IS HAVING A STROKE HIS FACE IS DROOPING", "stroke"),
        ("\ud800 my chest hurts so much \udfff", "chest_pain"),
        (FILLER * 26 + "Right now my dad has crushing chest pain.", "chest_pain"),  # about 2,300 characters
        ((FILLER * 1200)[:50_000] + " I took 40 paracetamol an hour ago.", "overdose_poisoning"),
        ((FILLER * 1200)[:100_000] + " I took 40 paracetamol an hour ago.", "overdose_poisoning"),
        ((FILLER * 600)[:50_000] + " I took 40 paracetamol an hour ago. " + (FILLER * 600)[:50_000],
         "overdose_poisoning"),
        ("x" * 200_000 + " I took 40 paracetamol an hour ago.", "overdose_poisoning"),
    ],
)
def test_disguised_or_buried_emergencies_are_found(message, kind):
    assert detect_emergency(message) == kind


@pytest.mark.parametrize(
    "message",
    ["", " ", "\u200b\u200b", "?" * 10_000, ". " * 20_000, "a b c d e " * 2_000, "if " * 10_000,
     "\U0001f600" * 5_000, "\x00\x01\x02", FILLER * 1_500, "What is the first-line treatment for anaphylaxis? " * 500],
)
def test_noise_and_long_harmless_text_are_not_emergencies(message):
    assert detect_emergency(message) is None


def test_no_str_makes_it_raise():
    rng = random.Random(12)
    alphabet = [chr(c) for c in range(32, 127)] + list("éèçñüößœæ¿¡’‘´`\n\t\x00") + [
        "\u200b", "\u200d", "\u202e", "\ufeff", "\u00ad", "\ud800", "\udfff", "\U0001f600", "\u0301", "\U000e0041",
    ]
    words = ["chest", "pain", "not", "breathing", "if", "my", "took", "40", "pills", "ago", "what", "is", "?", "!"]
    for _ in range(300):
        length = rng.randint(0, 400)
        pieces = [rng.choice(alphabet) if rng.random() < 0.7 else f" {rng.choice(words)} " for _ in range(length)]
        assert detect_emergency("".join(pieces)) in (None, *EMERGENCY_KINDS)
    assert detect_emergency(None) is None  # not a str: not a message


def test_the_fixed_reply_does_not_depend_on_the_length_check():
    message = FILLER * 100 + " my friend is not breathing"
    assert check_message(message) is not None  # too long for the model...
    assert emergency_reply(message, []) == EMERGENCY_GUIDANCE["breathing"]  # ...but not for the fixed reply


def test_the_word_prefilter_never_skips_a_pattern_that_would_match():
    """Each sign pattern runs only when a string every match of it contains is present: check that on real text."""
    rows = [json.loads(line)["text"] for path in LABELLED_FILES
            for line in path.read_text().splitlines() if line.strip()]
    texts = rows + [text for text, _ in ALL_EMERGENCIES]
    texts += ALL_QUESTIONS
    matched = 0
    for text in texts:
        flat = emergency.flatten(emergency.normalize(text))
        present = set().union(*(emergency._PREFIXES[match.group(1)] for match in emergency._NEEDLE_SEARCH.finditer(flat)))
        assert present == {needle for needle in emergency._ALL_NEEDLES if needle in flat}, text  # the one-pass search
        for _, _, pattern, needles in emergency.SIGN_NEEDLES:
            if pattern.search(flat):
                matched += 1
                assert needles is None or any(needle in flat for needle in needles), (pattern.pattern, text)
    assert matched > len(texts) / 2


@pytest.mark.parametrize(("word", "read"), [
    ("Glasreiniger", "glas reiniger"), ("Abschiedsbriefe", "abschieds briefe"), ("Brustschmerzen", "brust schmerzen"),
    ("Wespenstich", "wespen stich"), ("brustschmertzen", "brust schmerzen"),  # corrected, then split
    ("Atemnot", "atemnot"), ("Herzinfarkt", "herzinfarkt"), ("Herzschmerz", "herzschmerz"),  # spelled out by a sign
    ("Schnappatmung", "schnappatmung"), ("gift", "gift"), ("regift", "regift"),  # no head, or too short before it
])
def test_german_compounds_are_read_at_their_keyword(word, read):
    assert emergency.flatten(emergency.normalize(word)) == read


# --------------------------------------------------------------------------------------------
# Conversation mode

EMERGENCY = "my friend is not breathing"
STILL_IN = f"{EMERGENCY_REMINDER}\n\n{EMERGENCY_GUIDANCE['breathing']}"


@pytest.mark.parametrize(
    "follow_up",
    ["what should I do while I wait?", "is he going to be ok", "the ambulance is coming, what now",
     "should I give water?", "thanks", "ok", "how long does it take?",
     "¿y ahora qué?", "il respire un peu maintenant", "soll ich ihn hinlegen?"],
)
def test_a_follow_up_stays_in_emergency_mode(follow_up):
    assert emergency_reply(follow_up, [EMERGENCY]) == STILL_IN


def test_a_new_emergency_in_a_follow_up_gets_its_own_guidance():
    assert emergency_reply("they still aren't breathing", [EMERGENCY]) == EMERGENCY_GUIDANCE["breathing"]
    assert emergency_reply("now she's having a seizure", [EMERGENCY]) == EMERGENCY_GUIDANCE["unconscious_seizure"]


@pytest.mark.parametrize(
    "new_question",
    ["ok thanks, different question: what is the mechanism of metformin?", "new question: what does TSH measure?",
     "What does TSH measure?", "otra pregunta: ¿qué es la metformina?"],
)
def test_a_clear_new_question_moves_on(new_question):
    assert emergency_reply(new_question, [EMERGENCY]) is None
    assert emergency_reply(new_question, [EMERGENCY, "is he going to be ok", "the ambulance is here"]) is None


def test_emergency_mode_lasts_until_the_user_moves_on():
    history = [EMERGENCY, "what should I do while I wait?", "is he going to be ok"]
    assert emergency_reply("is that normal?", history) == STILL_IN
    moved = [EMERGENCY, "new question: what does TSH measure?", "and T4?"]
    assert emergency_reply("what about T3?", moved) is None
    long_ago = [EMERGENCY] + [f"question {n} about diabetes?" for n in range(safety.EMERGENCY_MEMORY)]
    assert emergency_reply("thanks", long_ago) is None


def test_a_question_on_the_emergencys_topic_stays_in_emergency_mode():
    history = ["my roommate took way too much heroin"]
    assert emergency_reply("Which drug reverses a heroin overdose?", history).startswith(EMERGENCY_REMINDER)


def test_after_a_suicidal_crisis_only_an_announced_change_of_subject_moves_on():
    history = ["I want to kill myself"]
    assert emergency_reply("What is the first-line treatment for anaphylaxis?", history).startswith(EMERGENCY_REMINDER)
    assert emergency_reply("ok, different question: what does TSH measure?", history) is None


def test_no_earlier_emergency_means_the_model_answers():
    assert emergency_reply("What does TSH measure?", ["What is metformin?", "And insulin?"]) is None
    assert emergency_reply("What does TSH measure?", []) is None


# --------------------------------------------------------------------------------------------
# The fixed texts


@pytest.mark.parametrize("kind", EMERGENCY_KINDS)
def test_each_guidance_says_ai_and_emergency_numbers_and_is_short(kind):
    text = EMERGENCY_GUIDANCE[kind]
    assert text.startswith("**MedAssist is an AI and cannot assess an emergency.**")
    for number in ("911", "112", "999"):
        assert number in text
    assert len(re.findall(r"[\w'-]+", text)) <= 130
    assert "Do **not**" in text or kind == "suicide_self_harm"


def test_crisis_and_poison_lines():
    assert "988" in EMERGENCY_GUIDANCE["suicide_self_harm"]
    assert "116 123" in EMERGENCY_GUIDANCE["suicide_self_harm"]
    assert "1-800-222-1222" in EMERGENCY_GUIDANCE["overdose_poisoning"]
    for number in ("911", "112", "999"):
        assert number in EMERGENCY_REMINDER


def test_each_guidance_names_the_advice_it_follows():
    source = inspect.getsource(safety)
    for kind in EMERGENCY_KINDS:
        before = source[: source.index(f'    "{kind}": (')].rstrip().splitlines()
        comment = [line.strip() for line in before[-2:] if line.strip().startswith("#")]
        assert comment and comment[0].startswith("# Follows: "), kind


# --------------------------------------------------------------------------------------------
# The labelled sets (dev, the old holdout and every fresh file): a regression gate over all of them together, not the
# reported figure (bench/emergency_detector.py reports the newest fresh file with confidence intervals).


def test_recall_and_false_positive_rate_on_the_labelled_sets():
    assert LABELLED in LABELLED_FILES and len(LABELLED_FILES) >= 3, LABELLED_FILES  # dev + holdout, fresh, fresh2
    rows = [json.loads(line) for path in LABELLED_FILES for line in path.read_text().splitlines() if line.strip()]
    emergencies = [row for row in rows if row["emergency"]]
    others = [row for row in rows if not row["emergency"]]
    missed = [row["id"] for row in emergencies if detect_emergency(row["text"]) is None]
    false_alarms = [row["id"] for row in others if detect_emergency(row["text"]) is not None]
    recall, false_positive_rate = 1 - len(missed) / len(emergencies), len(false_alarms) / len(others)
    assert recall >= 0.95, f"recall {recall:.3f}, missed {missed}"
    assert false_positive_rate <= 0.08, f"false-positive rate {false_positive_rate:.3f}: {false_alarms}"


def test_the_rules_alone_still_fit_the_labelled_sets():
    """The classifier must not hide a regression of the rules: they are the explainable first stage."""
    rows = [json.loads(line) for path in LABELLED_FILES for line in path.read_text().splitlines() if line.strip()]
    verdicts = [(row, emergency.detect_by_rules(row["text"])) for row in rows]
    missed = [row["id"] for row, kind in verdicts if row["emergency"] and kind is None]
    false_alarms = [row["id"] for row, kind in verdicts if not row["emergency"] and kind is not None]
    # Rounds 1-6 fitted the rules to their misses; from fresh7 on the classifier catches what they miss (37 of 1,081).
    assert len(missed) <= 0.05 * sum(row["emergency"] for row in rows), missed
    assert len(false_alarms) <= 0.03 * sum(not row["emergency"] for row in rows), false_alarms
    for row, kind in verdicts[::7]:  # the classifier only adds: what the rules flag keeps their kind
        if kind is not None:
            assert detect_emergency(row["text"]) == kind, row["id"]


def test_the_classifier_recognises_emergencies_in_a_set_it_never_saw():
    """Trained without the newest blind set, at RESCUE_PROBABILITY, on that set: what a blind round measures."""
    held_out = [name for name in TRAINING_SETS if name.startswith("emergency_messages_fresh")][-1]
    model = EmergencyClassifier.train(emergency.normalize, load_messages(tuple(n for n in TRAINING_SETS if n != held_out)))
    rows = load_messages((held_out,))
    flagged = [model.rescue([emergency.normalize(row["text"])]) for row in rows]  # short ones: None (left to the rules)
    emergencies = [kind for row, kind in zip(rows, flagged) if row["emergency"]]
    others = [kind for row, kind in zip(rows, flagged) if not row["emergency"]]
    assert sum(kind is not None for kind in emergencies) >= 0.8 * len(emergencies)
    assert sum(kind is not None for kind in others) <= 0.05 * len(others)
    right_kind = [kind == row["kind"] for row, kind in zip(rows, flagged) if row["emergency"] and kind]
    assert sum(right_kind) >= 0.8 * len(right_kind)


def test_a_laugh_is_hyperbole_only_for_ones_own_single_sign():
    def laughing(text: str) -> bool:
        return emergency.laughing([emergency.normalize(text)])

    assert laughing("that exam nearly gave me a heart attack \U0001f602") and laughing("mdr")
    assert not laughing("my son is choking")
    assert detect_emergency("that exam nearly gave me a heart attack \U0001f602") is None
    assert detect_emergency("my dad is clutching his chest and sweating lol") == "chest_pain"  # someone else
    assert detect_emergency("i want to kill myself lol") == "suicide_self_harm"  # intent is never a joke
    sure = "my mum swallowed a whole box of her sleeping tablets and wont wake up"
    assert detect_emergency(sure + " lol") == detect_emergency(sure + " \U0001f602") == "overdose_poisoning"


def test_the_classifier_trains_only_on_shipped_sets_and_is_sure_before_it_flags():
    assert all((MESSAGES / name).is_file() for name in TRAINING_SETS)
    assert set(TRAINING_SETS) <= {path.name for path in LABELLED_FILES} | {"handwritten.jsonl"}
    assert 0.5 <= RESCUE_PROBABILITY < 1
    model = emergency.classifier()
    def rescue(text: str) -> str | None:
        return model.rescue([emergency.normalize(text)])

    assert rescue("What is the first-line treatment for anaphylaxis?") is None
    assert rescue("my mum swallowed a whole box of her sleeping tablets and wont wake up") == "overdose_poisoning"
    assert rescue("is he going to be ok") is None  # short: the rules' call


# --------------------------------------------------------------------------------------------
# Public names, module sizes and the settings checks (issue 16.5)


def test_the_public_names_still_come_from_safety():
    assert safety.detect_emergency is emergency.detect_emergency
    assert safety.EMERGENCY_KINDS is emergency.EMERGENCY_KINDS
    assert DISCLAIMER and EMPTY_MESSAGE_REPLY and MAX_MESSAGE_CHARS > 0 and issubclass(ChatError, ValueError)
    assert encodable("a\ud800b") == "a\ufffdb" and LONE_SURROGATE.search("\udfff")


@pytest.mark.parametrize("settings", [
    GenerationSettings(), GenerationSettings(temperature=0.0), GenerationSettings(temperature=0.01),
    GenerationSettings(temperature=2.0, top_p=1.0, max_new_tokens=1, repetition_penalty=0.5),
])
def test_usable_settings_pass(settings):
    check_settings(settings)


REFUSED = [  # (setting, value, what the message names)
    ("temperature", 1e-45, "exactly 0"), ("temperature", 0.005, "at least 0.01"), ("temperature", float("nan"), "finite"),
    ("temperature", float("inf"), "finite"), ("temperature", "hot", "temperature"), ("temperature", True, "temperature"),
    ("temperature", 2.5, "temperature"), ("temperature", -0.1, "temperature"), ("top_p", 0.0, "top_p"),
    ("top_p", float("nan"), "top_p"), ("max_new_tokens", float("nan"), "max_new_tokens"), ("max_new_tokens", 12.0, "whole"),
    ("max_new_tokens", "12", "max_new_tokens"), ("max_new_tokens", True, "max_new_tokens"), ("max_new_tokens", 0, "at least 1"),
    ("repetition_penalty", float("inf"), "repetition_penalty"), ("repetition_penalty", float("nan"), "repetition_penalty"),
    ("repetition_penalty", 0, "positive"), ("repetition_penalty", None, "repetition_penalty"),
]


@pytest.mark.parametrize(("name", "value", "named"), REFUSED)
def test_settings_no_backend_can_use_are_refused_with_their_name(name, value, named):
    with pytest.raises(ChatError, match=named):
        check_settings(GenerationSettings(**{name: value}))
