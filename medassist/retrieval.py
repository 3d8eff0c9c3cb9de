"""A knowledge base of question/answer cards, searched with BM25 so answers can cite their sources.

Cards come from any source the data pipeline reads (`data.load_records` + `data.clean`), so a file
that the pipeline refuses is refused here with the same `DataError`. Each card is indexed as its
question (twice: question words say what a card is about) followed by its answer, with `tokenize`,
a tokeniser for medical text that also folds British spellings, brand names, lay phrases and common
abbreviations onto one form (paracetamol -> acetaminophen, "low blood sugar" -> hypoglycemia).
The bm25s index is cached on disk under a key that hashes the cards, the tokeniser (version, tables
and output on a probe sentence) and the index settings: a changed source gets a new index, and a
cached index that fails any check (manifest, checksums, card count, array shapes) is rebuilt, never
half-used. Settings were tuned on the calibration split of assets/grounded_questions.jsonl only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from .config import ANSWER, INSTRUCTION, QUESTION, SAMPLE_FLASHCARDS
from .data import clean, load_records
from .files import atomic_directory, cache_root, write_text

logger = logging.getLogger(__name__)

MIN_CHARS = 5  # the data pipeline's rule: a card's question and answer each need this many characters
TOKENIZER_VERSION = "1"  # bump when tokenize()'s code changes (its tables are hashed into the cache key anyway)
QUESTION_REPEATS = 2  # a card's question is indexed this many times, its answer once
BM25_PARAMS = {"k1": 1.2, "b": 0.5, "method": "lucene"}
MANIFEST = "manifest.json"
CACHE_FORMAT = 1


class RetrievalError(ValueError):
    """The knowledge base cannot be built or searched as asked; the message names the source."""


@dataclass(frozen=True)
class Card:
    id: int  # position in the knowledge base (stable for a given source content)
    question: str
    answer: str


@dataclass(frozen=True)
class Hit:
    card: Card
    score: float  # raw BM25 score (higher = better); 0 when nothing matches


# --- tokenisation -------------------------------------------------------------------------------

_GREEK = str.maketrans({"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda", "μ": "mu"})
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")  # hyphen, non-breaking hyphen, figure/en/em dashes, minus
_CONTRACTION = re.compile(r"(?<=[a-z])(?:n't|'(?:s|re|ve|ll|d|m))\b")  # "don't" -> "do", "Crohn's" -> "Crohn"
# A decimal number ("6.5"), or alphanumeric runs joined by single hyphens ("5-ht3", "beta-2", "t-cell").
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+(?:-[a-z0-9]+)*")
# Function words, but single letters are kept (vitamin D, T cells, protein C): only "a", "i" and "s" go.
STOPWORDS = frozenset(w for w in STOPWORDS_EN_PLUS if "'" not in w and (len(w) > 1 or w in "ais"))
_STEMMER = Stemmer.Stemmer("english")


# Spelling and wording folded to one form before tokenising, in index and query alike, so a question
# asked in British spelling, with a brand name or in lay words meets the card that uses the other.
# "canonical: variant, variant": each variant (a word or phrase, plural -s/-es included) becomes the
# canonical text. Written in American spelling (British spellings are folded first, by _BRITISH).
_SYNONYMS = """
acetaminophen: paracetamol, tylenol, panadol, apap
epinephrine: adrenaline, adrenalin, epipen
norepinephrine: noradrenaline, noradrenalin
albuterol: salbutamol, ventolin
furosemide: frusemide, lasix
lidocaine: lignocaine, xylocaine
meperidine: pethidine, demerol
glyburide: glibenclamide
cyclosporine: ciclosporin
rifampin: rifampicin
isoproterenol: isoprenaline
succinylcholine: suxamethonium
phenobarbital: phenobarbitone
amoxicillin: amoxycillin
cephalexin: cefalexin, keflex
trimethoprim-sulfamethoxazole: co-trimoxazole, cotrimoxazole, bactrim, septra, tmp-smx
nitroglycerin: glyceryl trinitrate, gtn
aspirin: acetylsalicylic acid
valproate: valproic acid, sodium valproate, depakote
sildenafil: viagra
tadalafil: cialis
warfarin: coumadin
ibuprofen: advil, motrin, nurofen
naproxen: aleve
sertraline: zoloft
fluoxetine: prozac
alprazolam: xanax
diazepam: valium
lorazepam: ativan
metformin: glucophage
atorvastatin: lipitor
simvastatin: zocor
clopidogrel: plavix
apixaban: eliquis
rivaroxaban: xarelto
naloxone: narcan
diphenhydramine: benadryl
ondansetron: zofran
levothyroxine: synthroid
levetiracetam: keppra
phenytoin: dilantin
carbamazepine: tegretol
buprenorphine: suboxone, subutex
semaglutide: ozempic, wegovy
adalimumab: humira
ciprofloxacin: cipro
azithromycin: zithromax, z-pack
metronidazole: flagyl
omeprazole: prilosec
esomeprazole: nexium
loperamide: imodium
oseltamivir: tamiflu
isotretinoin: accutane
methylphenidate: ritalin
pseudoephedrine: sudafed
benzodiazepine: benzo
opioid: opiate
anticoagulant: blood thinner
diuretic: water pill
analgesic: painkiller, pain killer, pain reliever
nsaid: nonsteroidal anti-inflammatory drug, non-steroidal anti-inflammatory drug
ppi: proton pump inhibitor, proton-pump inhibitor
ssri: selective serotonin reuptake inhibitor
tca: tricyclic antidepressant
mi: myocardial infarction, heart attack
tia: transient ischemic attack, mini-stroke
hypertension: high blood pressure
hypotension: low blood pressure
hypoglycemia: low blood sugar, low blood glucose
hyperglycemia: high blood sugar, high blood glucose
blood glucose: blood sugar
hypercholesterolemia: high cholesterol
unconscious: passed out, passing out, pass out, blacked out, knocked out, unresponsive
syncope: fainting, fainted, fainting spell
sublingual: under the tongue
kidney: renal
liver: hepatic
heart: cardiac
lung: pulmonary, pulmonic
stomach: gastric
brain: cerebral
skin: cutaneous, dermal
intestine: bowel, gut, intestinal
uterus: womb, uterine
larynx: voice box
trachea: windpipe
esophagus: gullet, food pipe
abdomen: belly, tummy
clavicle: collarbone, collar bone
patella: kneecap
femur: thighbone, thigh bone
sternum: breastbone
neonate: newborn, neonatal
child: children, kid, kids
bleeding: hemorrhage, hemorrhagic
thrombus: blood clot
coagulation: clotting
pruritus: itching, itchiness
urticaria: hives
fever: pyrexia, febrile
dyspnea: shortness of breath, short of breath, breathlessness
hemoptysis: coughing up blood
hematemesis: vomiting blood, vomiting of blood
hematuria: blood in the urine, blood in urine
epistaxis: nosebleed, nose bleed
gerd: gastroesophageal reflux disease, gastro-esophageal reflux disease, gord, acid reflux, heartburn
vomiting: throwing up
enuresis: bedwetting, bed wetting
diplopia: double vision
alopecia: hair loss
varicella: chickenpox, chicken pox
herpes zoster: shingles
infectious mononucleosis: glandular fever
rubella: german measles
pertussis: whooping cough
tetanus: lockjaw
tuberculosis: tb
influenza: flu
conjunctivitis: pink eye
pharyngitis: sore throat
otitis media: middle ear infection
uti: urinary tract infection
clostridioides difficile: clostridium difficile, c difficile, c diff
staphylococcus: staph
streptococcus: strep
sle: systemic lupus erythematosus
copd: chronic obstructive pulmonary disease
dka: diabetic ketoacidosis
pe: pulmonary embolism, pulmonary embolus
dvt: deep vein thrombosis, deep venous thrombosis
ckd: chronic kidney disease
aki: acute kidney injury
chf: congestive heart failure
afib: atrial fibrillation, a-fib, af
vfib: ventricular fibrillation, v-fib, vf
ecg: electrocardiogram, electrocardiography, ekg
ivc: inferior vena cava
csf: cerebrospinal fluid
gi: gastrointestinal
lynch syndrome: hereditary nonpolyposis colorectal cancer, hnpcc
frc: functional residual capacity
vq: v/q, ventilation-perfusion, ventilation/perfusion
pth: parathyroid hormone
adh: antidiuretic hormone, vasopressin
g6pd: glucose-6-phosphate dehydrogenase
rate-limiting: rate limiting, control point, committed step
gluconeogenesis: new glucose
mucosa: lining
"""
# British spellings folded to American ones: haem -> hem, oedema -> edema, tumour -> tumor, ...
_BRITISH = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"(?<=[a-z])ae(?=[a-z])|\bae(?=[a-z]{3})", "e"), (r"\boe(?=[a-z])", "e"), (r"rrhoea", "rrhea"),
    (r"\bcoeliac", "celiac"), (r"\bfoet", "fet"), (r"amoeb", "ameb"), (r"sulph", "sulf"),
    (r"\b(tum|col|behavi|hum|lab|od|vap|rig)our", r"\1or"),
    (r"(?<=[a-z]{3})is(?=e\b|ed\b|es\b|ing\b|ation)", "iz"), (r"(?<=[a-z])ys(?=e\b|ed\b|es\b|ing\b)", "yz"),
)]


def _fold_british(text: str) -> str:
    for pattern, replacement in _BRITISH:
        text = pattern.sub(replacement, text)
    return text


def _compile_synonyms(table: str) -> Callable[[str], str]:
    mapping: dict[str, str] = {}
    for line in filter(None, map(str.strip, table.splitlines())):
        canonical, _, variants = line.partition(":")
        for variant in variants.split(","):
            mapping[" ".join(variant.split())] = canonical.strip()
    alternatives = sorted(mapping, key=len, reverse=True)
    words = "|".join(re.escape(v).replace(r"\ ", r"[\s-]+") for v in alternatives)
    pattern = re.compile(rf"(?<![a-z0-9])({words})(?:e?s)?(?![a-z0-9])")

    def replace(match: re.Match[str]) -> str:
        found = match.group(1)
        return mapping[found] if found in mapping else mapping[" ".join(re.split(r"[\s-]+", found))]

    def substitute(text: str) -> str:
        return pattern.sub(replace, text)

    for variant, canonical in mapping.items():  # a canonical text is itself folded: "pe" -> "lung embolism"
        for _ in range(3):
            canonical = substitute(canonical)
        mapping[variant] = canonical
    return substitute


_fold_synonyms = _compile_synonyms(_SYNONYMS)


@lru_cache(maxsize=200_000)
def _normal_form(word: str) -> str:
    """Stem an alphabetic word ("blockers" -> "blocker"); keep anything with a digit as it is (cd4, hba1c).

    Snowball turns a final y into i ("injury" -> "injuri", but "injured" -> "injur"); that i is dropped.
    """
    if not word.isalpha():
        return word
    stem = _STEMMER.stemWord(word)
    return stem[:-1] if len(stem) > 4 and stem.endswith("i") else stem


def tokenize(text: str) -> list[str]:
    """Medical tokenisation used for both index and query.

    Lower-cased; Greek letters spelled out (β -> beta); abbreviations and drug names stay whole
    (TSH -> tsh, NKCC2 -> nkcc2, HbA1c -> hba1c, 5-HT3 -> 5ht3 5 ht3); a hyphenated word gives its
    joined form and its parts ("beta-blockers" -> betablock beta blocker); English stopwords are
    dropped (single letters kept: vitamin K, T cells); ordinary words are stemmed (Snowball English),
    words with digits are kept as written. British spellings, brand names, lay phrases and some
    abbreviations are folded first (_SYNONYMS), so "paracetamol" and "acetaminophen" are one token.
    """
    text = unicodedata.normalize("NFKC", text).translate(_GREEK).lower()
    text = _CONTRACTION.sub("", _DASHES.sub("-", text.replace("\u2019", "'")))
    text = _fold_synonyms(_fold_british(text))
    tokens: list[str] = []
    for match in _TOKEN.findall(text):
        if "-" not in match:
            if match not in STOPWORDS:
                tokens.append(_normal_form(match))
            continue
        parts = match.split("-")
        tokens.append(_normal_form("".join(parts)))
        tokens.extend(_normal_form(part) for part in parts if part not in STOPWORDS)
    return tokens


# --- the knowledge base -------------------------------------------------------------------------


def _document(card: Card) -> list[str]:
    return tokenize(card.question) * QUESTION_REPEATS + tokenize(card.answer)


_PROBE = ("Haemorrhage after paracetamol: β-blockers, 5-HT3, HbA1c 6.5%, NKCC2, CD4+ T-cells, TSH, "
          "Crohn's disease and the patient's low blood sugar don't respond to NSAIDs or V/Q testing.")


def _tokenizer_fingerprint() -> str:
    """The tokeniser's version, tables and output on a probe: any change to them invalidates cached indexes."""
    parts = [TOKENIZER_VERSION, _SYNONYMS, " ".join(sorted(STOPWORDS)), _TOKEN.pattern, _CONTRACTION.pattern,
             *(pattern.pattern + replacement for pattern, replacement in _BRITISH), " ".join(tokenize(_PROBE))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _content_key(cards: list[Card]) -> str:
    """Hash of everything the index depends on: the cards, the tokeniser and the index settings."""
    digest = hashlib.sha256()
    settings = {"format": CACHE_FORMAT, "tokenizer": _tokenizer_fingerprint(), "question_repeats": QUESTION_REPEATS,
                "bm25": BM25_PARAMS, "bm25s": bm25s.__version__}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for card in cards:
        digest.update(json.dumps([card.question, card.answer], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(cards: list[Card]) -> bm25s.BM25:
    retriever = bm25s.BM25(**BM25_PARAMS)
    retriever.index([_document(card) for card in cards], show_progress=False)
    return retriever


def _save(retriever: bm25s.BM25, directory: Path, key: str, count: int) -> None:
    with atomic_directory(directory) as staging:
        retriever.save(staging, show_progress=False)
        files = {path.name: {"bytes": path.stat().st_size, "sha256": _file_digest(path)}
                 for path in sorted(staging.iterdir())}
        manifest = {"format": CACHE_FORMAT, "key": key, "cards": count, "tokenizer": TOKENIZER_VERSION,
                    "bm25s": bm25s.__version__, "files": files}
        write_text(staging / MANIFEST, json.dumps(manifest, indent=2))  # last: its presence means complete


def _load_cached(directory: Path, key: str, count: int) -> bm25s.BM25:
    """The cached index in `directory`; raises if anything about it is off (the caller then rebuilds)."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key or manifest.get("cards") != count:
        raise ValueError("manifest does not match the cards")
    for name, expected in manifest["files"].items():
        path = directory / name
        if path.stat().st_size != expected["bytes"] or _file_digest(path) != expected["sha256"]:
            raise ValueError(f"{name} is damaged (size or checksum differs from the manifest)")
    retriever = bm25s.BM25.load(directory, show_progress=False)
    scores = retriever.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    terms = [i for token, i in retriever.vocab_dict.items() if token != ""]
    if (scores["num_docs"] != count or data.shape != indices.shape or indptr.ndim != 1
            or len(indptr) != max(terms, default=-1) + 2 or int(indptr[-1]) != len(data)
            or (len(indices) and int(indices.max()) >= count)):
        raise ValueError("index arrays do not fit the cards")
    return retriever


class KnowledgeBase:
    """Cards plus their BM25 index. Build with `load` (a data source) or `from_cards` (in memory)."""

    def __init__(self, cards: list[Card], source: str | list[str], retriever: bm25s.BM25, from_cache: bool):
        self.cards = cards
        self.source = source
        self.from_cache = from_cache  # True when the index was read from the cache rather than built
        self._retriever = retriever
        self._vocab = retriever.vocab_dict

    def __len__(self) -> int:
        return len(self.cards)

    def __repr__(self) -> str:
        return f"KnowledgeBase({len(self.cards)} cards from {self.source!r})"

    @classmethod
    def load(cls, source: str | list[str] = SAMPLE_FLASHCARDS, columns: dict[str, str] | None = None,
             cache: Path | None = None) -> KnowledgeBase:
        """Cards from the source(s) (data.load_records + data.clean, min_chars 5), with a BM25 index that is cached under
        cache (default cache_root() / "retrieval") keyed by a content hash of the cards + tokenizer version; rebuilt when the
        source changes; a corrupt or stale cached index (truncated file, wrong card count, unreadable) is rebuilt, never half-used."""
        sources = [source] if isinstance(source, (str, Path)) else list(source)
        if not sources:
            raise RetrievalError("no knowledge base source given")
        rows = [row for item in sources for row in load_records(str(item), columns)]
        cards = _cards_from_rows(rows)
        if not cards:
            raise RetrievalError(
                f"{source}: no usable cards (each needs a question and an answer of at least {MIN_CHARS} characters)")
        return cls._indexed(cards, source, Path(cache) if cache is not None else cache_root() / "retrieval")

    @classmethod
    def from_cards(cls, cards: list[tuple[str, str]] | list[Card], cache: Path | None = None) -> KnowledgeBase:
        """A knowledge base from (question, answer) pairs or Cards, cleaned as `load` cleans rows.

        Cards are renumbered by position. Without `cache` the index is built in memory and not saved.
        """
        rows = []
        for index, item in enumerate(cards):
            question, answer = (item.question, item.answer) if isinstance(item, Card) else (
                item if isinstance(item, (tuple, list)) and len(item) == 2 else (None, None))
            if not isinstance(question, str) or not isinstance(answer, str):
                raise RetrievalError(f"card {index} must be a Card or a (question, answer) pair of strings, got {item!r}")
            rows.append({INSTRUCTION: "", QUESTION: question, ANSWER: answer})
        kept = _cards_from_rows(rows)
        if not kept:
            raise RetrievalError(
                f"no usable cards among the {len(rows)} given (each needs a question and an answer of at least "
                f"{MIN_CHARS} characters)")
        return cls._indexed(kept, "<cards>", Path(cache) if cache is not None else None)

    @classmethod
    def _indexed(cls, cards: list[Card], source: str | list[str], cache: Path | None) -> KnowledgeBase:
        if cache is None:
            return cls(cards, source, _build(cards), from_cache=False)
        key = _content_key(cards)
        directory = cache / f"bm25-{key[:24]}"
        if (directory / MANIFEST).exists():
            try:
                return cls(cards, source, _load_cached(directory, key, len(cards)), from_cache=True)
            except Exception as error:  # any damage at all: rebuild rather than use part of it
                logger.warning("rebuilding the retrieval index in %s: %s: %s", directory, type(error).__name__, error)
        retriever = _build(cards)
        try:
            _save(retriever, directory, key, len(cards))
        except OSError as error:  # a read-only or full cache only costs the next start a rebuild
            warnings.warn(f"could not cache the retrieval index in {directory}: {error}", stacklevel=3)
        return cls(cards, source, retriever, from_cache=False)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """Top-k cards by BM25 over question + answer text, best first; fewer than k when fewer cards have a positive score;
        an empty list for a query that matches nothing (empty, punctuation only, stopwords only, unknown words) — never an error."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if k < 1:
            raise RetrievalError(f"k must be at least 1, got {k}")
        ids = [self._vocab[token] for token in tokenize(query) if token in self._vocab]
        if not ids:
            return []
        scores = self._retriever.get_scores_from_ids(ids)
        matched = np.flatnonzero(scores > 0)
        if len(matched) > k:  # only the k best (and any tied with the k-th) need sorting
            kth = np.partition(scores[matched], len(matched) - k)[len(matched) - k]
            matched = matched[scores[matched] >= kth]
        best = sorted(matched.tolist(), key=lambda i: (-scores[i], i))[:k]
        return [Hit(self.cards[i], float(scores[i])) for i in best]


def _cards_from_rows(rows: list[dict[str, str]]) -> list[Card]:
    kept, _ = clean(rows, MIN_CHARS)
    cards: list[Card] = []
    seen: set[tuple[str, str]] = set()
    for row in kept:
        pair = (row[QUESTION], row[ANSWER])
        if pair not in seen:  # the same card under two instructions is one card
            seen.add(pair)
            cards.append(Card(len(cards), *pair))
    return cards
