"""Grounded answers: retrieved cards go into the prompt as numbered sources, the answer cites them, and a
question the knowledge base cannot answer gets a fixed abstention instead of generated text.

A 135M-parameter model cannot hold medical facts, so it is trained to copy them from the sources in its
prompt (retrieval-augmented fine-tuning, RAFT: Zhang et al., 2024). Each training question is paired with
`k` retrieved cards in retrieval order, as serving shows them: most of the time its own card is among
them, beside distractors, and the target is that card's answer with its citation; otherwise only
distractors are shown and the target is the abstention. (A first version put the own card at a random
position; that model often copied a distractor on reworded questions: key fact in 0.37 of answers.)
At inference the retriever decides first: when no card scores `min_score` or more, the model is not
asked at all.
"""

from __future__ import annotations

import random

from .config import ANSWER, QUESTION, GroundingConfig
from .retrieval import Hit, KnowledgeBase

ABSTAIN_ANSWER = (
    "My sources have nothing on this question, so I cannot answer it reliably. "
    "Please ask a qualified healthcare professional or check a trusted medical reference."
)
ABSTAIN_PREFIX = "My sources have nothing"  # how an abstention is recognised, generated or fixed
SOURCE_CHARS = 400  # a card's answer is cut here in the prompt, so k sources stay a bounded number of tokens

Row = dict[str, str]


def format_sources(hits: list[Hit]) -> str:
    """The numbered Sources block the model reads (and cites as [1], [2], ...): each card's answer only.

    The card's own question is left out on purpose: with it, a model learns to copy when the source's question
    matches the user's word for word and to abstain otherwise, and users do not word questions like the cards.
    """
    return "\n".join(f"[{number}] {hit.card.answer[:SOURCE_CHARS]}" for number, hit in enumerate(hits, start=1))


def grounded_question(question: str, hits: list[Hit]) -> str:
    """The user turn of a grounded prompt: the sources, then the question."""
    return f"Sources:\n{format_sources(hits)}\n\nQuestion: {question}"


def cited_answer(answer: str, number: int) -> str:
    """A training target: the source card's answer, cited."""
    return f"{answer.rstrip()} [{number}]"


def is_abstention(answer: str) -> bool:
    return answer.lstrip().startswith(ABSTAIN_PREFIX)


def retrieve(kb: KnowledgeBase, question: str, grounding: GroundingConfig) -> list[Hit]:
    """The cards a grounded prompt shows: the top k, or none when the best scores below `min_score`."""
    hits = kb.search(question, grounding.k)
    return hits if hits and hits[0].score >= grounding.min_score else []


def raft_rows(rows: list[Row], kb: KnowledgeBase, grounding: GroundingConfig, seed: int) -> list[Row]:
    """Training rows whose question carries k sources in retrieval order: the row's own card (at its rank) with
    probability `own_card_rate`, else distractors only and the abstention as the target."""
    if len(kb) <= grounding.k:
        raise ValueError(f"grounded training needs more than k={grounding.k} cards in the knowledge base, it has {len(kb)}")
    rng = random.Random(seed)
    grounded = []
    for row in rows:
        own = row[QUESTION].casefold()
        found = kb.search(row[QUESTION], grounding.k + 3)
        own_hit = next((hit for hit in found if hit.card.question.casefold() == own), None)
        distractors = [hit for hit in found if hit.card.question.casefold() != own][: grounding.k]
        while len(distractors) < grounding.k:  # too few related cards: random ones fill the prompt
            card = kb.cards[rng.randrange(len(kb.cards))]
            if card.question.casefold() != own and all(card != hit.card for hit in distractors):
                distractors.append(Hit(card, 0.0))
        if own_hit is not None and rng.random() < grounding.own_card_rate:
            # Sources in retrieval order, as the model will see them when serving; the own card keeps its rank.
            hits = sorted(distractors[: grounding.k - 1] + [own_hit], key=lambda hit: -hit.score)
            position = hits.index(own_hit)
            target = cited_answer(own_hit.card.answer[:SOURCE_CHARS], position + 1)
        else:
            hits, target = distractors, ABSTAIN_ANSWER
        grounded.append({**row, QUESTION: grounded_question(row[QUESTION], hits), ANSWER: target})
    return grounded


def ground_rows(rows: list[Row], kb: KnowledgeBase, grounding: GroundingConfig) -> list[Row]:
    """Evaluation rows as they would be served: the question with what retrieval finds (the reference answer kept)."""
    return [{**row, QUESTION: grounded_question(row[QUESTION], retrieve(kb, row[QUESTION], grounding))} for row in rows]
