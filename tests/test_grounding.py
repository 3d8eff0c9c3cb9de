"""Grounded answers: RAFT training rows, the question set and its measures, and the engine answering from sources."""

from __future__ import annotations

from collections import Counter

import pytest

from medassist.chat import SOURCES_HEADING, ChatEngine, history_pairs
from medassist.config import TINY, GenerationSettings, GroundingConfig
from medassist.grounded_eval import calibrate_min_score, has_key_fact, load_questions, top_score
from medassist.grounding import ABSTAIN_ANSWER, SOURCE_CHARS, grounded_question, is_abstention, raft_rows, retrieve
from medassist.retrieval import KnowledgeBase
from medassist.safety import DISCLAIMER

GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=6, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> KnowledgeBase:
    return KnowledgeBase.load(cache=tmp_path_factory.mktemp("retrieval"))


def test_raft_rows_show_the_own_card_most_of_the_time_and_otherwise_teach_abstention(kb):
    rows = [{"instruction": "", "question": card.question, "answer": card.answer} for card in kb.cards[:200]]
    grounding = GroundingConfig(k=3, own_card_rate=0.8)
    grounded = raft_rows(rows, kb, grounding, seed=0)
    abstaining = [row for row in grounded if row["answer"] == ABSTAIN_ANSWER]
    assert 0.1 < len(abstaining) / len(rows) < 0.3
    positions = Counter()
    for row, source in zip(grounded, rows):
        assert row["question"].startswith("Sources:\n[1] ") and row["question"].endswith(f"Question: {source['question']}")
        assert row["question"].count("\n[") == 3  # k = 3 numbered sources
        if row["answer"] != ABSTAIN_ANSWER:
            number = int(row["answer"].rsplit("[", 1)[1].rstrip("]"))
            positions[number] += 1
            assert f"[{number}] {source['answer'][:SOURCE_CHARS]}" in row["question"]
            assert row["answer"] == f"{source['answer'][:SOURCE_CHARS].rstrip()} [{number}]"
        else:  # the own card is absent: only distractors
            assert f"] {source['answer'][:SOURCE_CHARS]}" not in row["question"]
    # Retrieval order, as serving shows it: a card's own question ranks it first almost always.
    assert positions[1] > 0.9 * sum(positions.values())
    assert raft_rows(rows, kb, grounding, seed=0) == grounded  # deterministic


def test_question_set_has_the_sizes_the_measures_need_and_keys_come_from_their_cards(kb):
    questions = load_questions(split=None)
    in_base = [q for q in questions if q.in_base]
    assert len(in_base) >= 150 and sum(not q.in_base for q in questions) >= 60
    assert len(load_questions("test")) + len(load_questions("calibration")) == len(questions)
    answers = {card.question: card.answer for card in kb.cards}
    for question in in_base:
        assert question.card in answers and question.question != question.card
        assert has_key_fact(answers[question.card], question.key_terms)  # quoting the card is a correct answer


def test_key_fact_needs_every_group():
    terms = [["protamine"], ["heparin", "unfractionated"]]
    assert has_key_fact("Protamine sulfate binds heparin [1]", terms)
    assert not has_key_fact("Protamine sulfate [1]", terms)
    assert not has_key_fact("anything", [])


def test_the_threshold_refuses_few_answerable_calibration_questions(kb):
    calibration = load_questions("calibration")
    threshold = calibrate_min_score(kb, calibration)
    in_base = [top_score(kb, q.question) for q in calibration if q.in_base]
    assert 0 < threshold and sum(score < threshold for score in in_base) <= 0.05 * len(in_base)
    # With the model's own abstentions, only questions it would have answered count against the threshold.
    abstains = [q.in_base and i % 2 == 0 for i, q in enumerate(calibration)]
    with_model = calibrate_min_score(kb, calibration, abstains)
    taken = [top_score(kb, q.question) < with_model for q, a in zip(calibration, abstains) if q.in_base and not a]
    assert with_model >= threshold and sum(taken) <= 0.05 * sum(q.in_base for q in calibration)


def test_no_card_above_the_threshold_means_no_sources(kb):
    grounding = GroundingConfig()
    assert retrieve(kb, "What is the capital of Peru?", grounding) == []
    assert retrieve(kb, "", grounding) == []
    hits = retrieve(kb, "What reverses the effect of heparin in an overdose?", grounding)
    assert "protamine" in hits[0].card.answer.lower() and len(hits) == grounding.k
    assert grounded_question("q?", hits).count("\n[") == len(hits)


@pytest.fixture(scope="module")
def grounded_engine(kb):
    closed = ChatEngine.load(base=TINY)
    return ChatEngine(closed.backend, closed.tokenizer, knowledge_base=kb, grounding=GroundingConfig())


def test_a_question_the_knowledge_base_cannot_answer_gets_the_fixed_abstention(grounded_engine):
    replies = list(grounded_engine.turn("What is the capital of Peru?", settings=GREEDY))
    assert len(replies) == 1 and replies[0].kind == "abstain" and replies[0].sources == []
    assert replies[0].text == ABSTAIN_ANSWER + DISCLAIMER and is_abstention(replies[0].text)


def test_an_answer_comes_with_its_sources_and_they_stay_out_of_the_history(grounded_engine):
    question = "What reverses the effect of heparin in an overdose?"
    last = list(grounded_engine.turn(question, settings=GREEDY))[-1]
    assert last.done and last.sources and last.text.endswith(DISCLAIMER)
    text = grounded_engine.reply(question, settings=GREEDY)
    assert SOURCES_HEADING in text and "protamine" in text.lower() and text.endswith(DISCLAIMER)
    history = [{"role": "user", "content": question}, {"role": "assistant", "content": text},
               {"role": "assistant", "content": "card text", "metadata": {"title": "Source [1]: ..."}}]
    assert history_pairs(history) == [(question, text.split(SOURCES_HEADING)[0].rstrip())]
