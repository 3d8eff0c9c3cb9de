"""Round two, serving and command line: paths are plain strings, the history API refuses what it does not document,
one client's history cannot make prompt building expensive, and an emergency is never hidden by another check."""

from __future__ import annotations

import json

import pytest

from medassist import cli
from medassist.chat import ChatEngine, history_pairs
from medassist.config import TINY, GenerationSettings
from medassist.safety import DISCLAIMER, EMERGENCY_GUIDANCE, ChatError

GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=4, repetition_penalty=1.0)
CARD = {"instruction": "Answer this question truthfully", "input": "What is the antidote for heparin?",
        "output": "Protamine sulfate binds heparin."}

# Source file names a shell passes through unchanged but YAML would have read as a comment, a mapping or a list.
AWKWARD_NAMES = ["cards #2.jsonl", "v1: final.jsonl", "[v2] cards.jsonl", "{x} cards.jsonl", "a, b.jsonl", "- dash.jsonl",
                 "null.jsonl", "yes.jsonl", "1e-4.jsonl", "caf\u00e9 \u2695 cards.jsonl"]


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_a_source_path_is_taken_as_written(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_text(json.dumps(CARD) + "\n")
    assert cli.main(["data", "--profile", "smoke", "--no-tokens", "--source", str(path)]) == 0
    assert str(path) in capsys.readouterr().out


@pytest.mark.parametrize("option", ["--source", "--output", "--model"])
def test_an_empty_path_option_is_refused_not_replaced_by_the_default(capsys, option):
    command = "train" if option == "--output" else "data"
    assert cli.main([command, "--profile", "smoke", "--no-tokens", option, ""] if command == "data"
                    else [command, "--profile", "smoke", option, ""]) == 2
    assert f"{option} is empty" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["exp #2", "v1: final", "[v3]"])
def test_an_output_path_is_taken_as_written(tmp_path, name):
    output = tmp_path / "runs" / name
    assert cli.main(["train", "--profile", "smoke", "--output", str(output), "--set", "train.max_steps=1"]) == 0
    assert (output / "adapter" / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [name]


@pytest.fixture(scope="module")
def engine() -> ChatEngine:
    return ChatEngine.load(base=TINY, context_tokens=256)


BAD_HISTORIES = [
    [None], [("hello",)], [("a", "b", "c")], [("hello", 5)], [(1, "b")], ["ab"], {"role": "user", "content": "x"},
    "hello", [{"role": "user", "content": 7}], [{"role": "user", "content": [{"type": "text", "text": None}]}],
    [{"role": "user", "content": [{"type": "text", "text": 3}]}], [{"role": "robot", "content": "x"}], [{"content": "x"}],
    [{"role": "user", "content": {"nested": "dict"}}], 42,
]


@pytest.mark.parametrize("history", BAD_HISTORIES, ids=[repr(h)[:40] for h in BAD_HISTORIES])
def test_an_undocumented_history_is_refused_with_a_chat_error(engine, history):
    with pytest.raises(ChatError):
        history_pairs(history)
    reply = engine.reply("What is asthma?", history, GREEDY)  # the engine answers with the reason, never a traceback
    assert "history" in reply or "message" in reply


GOOD_HISTORIES = [
    ([("What is asthma?", "A lung disease.")], [("What is asthma?", "A lung disease.")]),
    ([["What is asthma?", "A lung disease."]], [("What is asthma?", "A lung disease.")]),
    ([("What is asthma?", None)], []),  # Gradio's unanswered pair
    ([{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"path": "/tmp/scan.png"}]},
      {"role": "assistant", "content": "Hello." + DISCLAIMER}], [("Hi", "Hello.")]),
    (None, []), ([], []),
]


@pytest.mark.parametrize(("history", "pairs"), GOOD_HISTORIES)
def test_the_documented_history_formats_are_normalised(history, pairs):
    assert history_pairs(history) == pairs


def test_a_huge_or_refused_turn_never_enters_the_prompt(engine):
    huge = ("x" * 5_000_000, "Your message is too long.")
    ordinary = ("What is the liver for?", "It makes bile.")
    assert engine.recent_turns([ordinary, huge, ordinary]) == [ordinary, ordinary]  # a refused message is skipped
    long_answer = ("What is the kidney for?", "z" * 5_000_000)
    assert engine.recent_turns([ordinary, long_answer, ordinary]) == [ordinary]  # too big: the walk back ends there
    over_limit = ("y" * (engine.max_message_chars + 1), "refused")
    assert engine.recent_turns([ordinary, over_limit]) == [ordinary]
    assert len(engine.recent_turns([ordinary] * 10_000)) < 200  # bounded by characters, whatever the count


@pytest.mark.parametrize("settings", [
    GenerationSettings(max_new_tokens=float("nan")), GenerationSettings(temperature=float("nan")),
    GenerationSettings(temperature=1e-45), GenerationSettings(repetition_penalty=float("inf")),
    GenerationSettings(repetition_penalty=float("nan")), GenerationSettings(max_new_tokens="12"),
    GenerationSettings(temperature="hot"), GenerationSettings(top_p=0.0),
])
def test_settings_that_cannot_work_are_refused_by_the_engine(engine, settings):
    reply = engine.reply("What is asthma?", settings=settings)
    assert not reply.endswith(DISCLAIMER) and any(word in reply for word in ("temperature", "max_new_tokens",
                                                                            "repetition_penalty", "top_p"))


def test_an_emergency_is_answered_before_any_other_check(engine):
    long_overdose = "I need to explain everything. " * 80 + "I took 40 paracetamol an hour ago and feel sick."
    assert engine.reply(long_overdose, settings=GREEDY) == EMERGENCY_GUIDANCE["overdose_poisoning"] + DISCLAIMER
    bad_settings = GenerationSettings(temperature=float("nan"))
    assert engine.reply("I want to kill myself", settings=bad_settings) == EMERGENCY_GUIDANCE["suicide_self_harm"] + DISCLAIMER
