"""Does a message describe a medical emergency happening now? `detect_emergency(text)` answers with its kind.

Built for recall (issue 12): a missed emergency can cost a life, a false alarm one fixed guidance text. Two rule
stages, each a list of regular expressions a reviewer can read, then a trained second opinion:
1. Signs (medassist.emergency_patterns): does the text describe a sign of one of the eight kinds, named or not, in
   English, Spanish, French or German? Lay and indirect descriptions count ("words all jumbled", "lips going blue",
   "took the whole pack", "can't wake him"). Each sign has a kind and a weight; the kind with the highest total
   wins (self-harm and overdose outrank the states they cause). A sign inside an if-clause does not count (up to
   its "but": "sorry if this is silly but my chest ..."; a hedge such as "not sure if" is no if-clause), nor does
   one named only to be denied ("no chest pain", "not suicidal", "keine Atemnot").
2. Framing: a text with a sign is an emergency UNLESS its framing clearly says it is not happening now: exam, quiz,
   essay or fiction; past and resolved or historical ("last year", "in 2015", "it went away", "they said it was
   reflux", "got 3 stitches", "on Sunday") unless it is back now or still going on; recurring or long-standing
   ("every winter", "when I run", "for years", "is it normal that"; but "going for ages" is now); a question about
   causes; a question or statement with nobody in it ("What is the first-line treatment for anaphylaxis?"); a
   question passed on ("my friend asked whether"); one ordinary sign of one's own with a laugh ("lmao", a laughing
   emoji). Anything else with a sign, however short or unpunctuated, is an emergency.
3. A second opinion (medassist.emergency_classifier), trained on our labelled messages, flags what the rules missed
   when it is sure; it never clears what they flagged, nor judges a laughing message. `detect_by_rules`: rules alone.
Text is normalised first: invisible characters removed, case, accents and apostrophes folded, emoji dropped (laughing
ones read "lol"), s p a c e d letters joined, misspellings corrected (one edit from a keyword, spellings by ear,
text-speak), German compounds split at a keyword ("Rohrreiniger" reads "rohr reiniger"). A message longer than
WINDOW_CHARS is judged sentence by sentence, up to SCAN_CHARS. Deterministic; never raises on a str.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from . import emergency_patterns as P
from .emergency_classifier import EmergencyClassifier

try:  # the regular-expression parser, to read which words a sign pattern needs (Python 3.11+, then 3.10)
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre
    import sre_parse as _sre_parse

EMERGENCY_KINDS = P.KINDS
SCAN_CHARS = 120_000  # longer text: the first and last SCAN_CHARS // 2 characters are examined
WINDOW_CHARS = 800  # a longer message is judged sentence by sentence
DISCOUNTED_MIN = 6  # a kind whose signs something else explains (P.DISCOUNTS: a sore throat, a cold) needs this

# --------------------------------------------------------------------------------------------
# Normalisation: what the rules see

# Invisible format characters (Unicode category Cf: zero-width space and joiners, bidi marks, soft hyphen,
# word joiner, BOM, tags) are removed, so "ch\u200best" reads "chest".
_INVISIBLE = re.compile(
    "["
    + "".join(chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) == "Cf")
    + "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    + "\U000e0020-\U000e007f]"
)
_FOLD = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'", "\u0153": "oe", "\u00e6": "ae",
     "\u00f8": "o"} | dict.fromkeys("\U0001f602\U0001f923\U0001f480\U0001f606\u2620", " lol ")  # laughing emoji
)
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CONTRACTION = re.compile(r"'(?=(s|t|m|d|re|ve|ll)\b)")  # English: "can't" -> "cant"; French: "l'air" -> "l air"
_WE_ARE = re.compile(r"\bwe're\b")  # not "were", a question's first word
_SPACED = re.compile(r"(?<![a-z])(?:[a-z] ){2,}[a-z](?![a-z])")  # "c h e s t" (3+ single letters)
_SPACED_PAIR = re.compile(r"(?<![a-z])[a-z] [a-z](?![a-z])")  # "m y", once the text is known to be spaced out
_BLANKS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?\n;])\s+")
_CLAUSE_END = re.compile(r"(?<=[.!?\n;,])\s+")
_BUT = re.compile(r" (but|pero|mais|aber) ")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"\b[a-z]{4,20}\b")  # the corrector reads words of 4 to 20 letters (one edit from 5 up)
_SHORT = re.compile(r"\b(" + "|".join(sorted(P.SHORT_FIXES, key=len, reverse=True)) + r")\b")
_COMPOUND = re.compile(P.COMPOUNDS)


def normalize(text: str) -> str:
    """Lower-case ASCII with sentence punctuation kept: what the framing rules read."""
    text = text.translate(_FOLD)
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = _CONTRACTION.sub("", _WE_ARE.sub("we are", _MARKS.sub("", text))).replace("'", " ")
    text = _NON_ASCII.sub(" ", text)
    text, spaced = _SPACED.subn(lambda match: match.group(0).replace(" ", ""), text)
    if spaced >= 2:
        text = _SPACED_PAIR.sub(lambda match: match.group(0).replace(" ", ""), text)
    return _BLANKS.sub(" ", text).strip()


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


# Spellings by ear (Spanish "pastiyas", "kiero", "muxo"): tried when the word itself is no keyword's near miss.
_BY_EAR = (("y", "ll"), ("k", "qu"), ("x", "ch"), ("ph", "f"), ("f", "ph"))


@lru_cache(maxsize=65536)
def _correct(word: str) -> str:
    if _FUZZY_INDEX.get(word) == word or word in _KEEP:
        return word
    if len(word) >= 5:
        for key in [word, *sorted(_deletes(word))]:
            if key in _FUZZY_INDEX:
                return _FUZZY_INDEX[key]
    for heard, written in _BY_EAR:
        spelt = word.replace(heard, written)
        if heard in word and (spelt in _KEEP or _FUZZY_INDEX.get(spelt) == spelt):
            return spelt
    return word


def flatten(text: str) -> str:
    """Words only, single-spaced, misspellings corrected, English compounds joined and German ones split: what the
    sign rules read."""
    flat = _NOT_WORD.sub(" ", text).strip()
    flat = _WORD.sub(lambda match: _correct(match.group(0)), flat)
    flat = _SHORT.sub(lambda match: P.SHORT_FIXES[match.group(0)], flat)
    flat = _HEADS.sub(lambda match: match.group(0) if match.group(0) in _KEEP else f"{match[1]} {match[2]}", flat)
    return _COMPOUND.sub(lambda match: match.group(0).replace(" ", ""), flat)


# --------------------------------------------------------------------------------------------
# Compiling the signs. Patterns are matched on flattened text; "~N" stands for "up to N words".


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"~(\d+)", r"(?:\\w+ ){0,\1}", pattern))


def _near(first: str, second: str, words: int) -> str:
    first, second = (part if part.startswith(r"\b") else rf"\b{part}\b" for part in (first, second))
    return f"(?:{first}) ~{words}(?:{second})|(?:{second}) ~{words}(?:{first})"


def _needles(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings of which every match of `pattern` contains at least one (None: no such set found), read from the
    parsed pattern: a sequence needs only its most selective part, an alternation one string per branch."""

    def sequence(items: list) -> set[str] | None:
        options, run = [], ""
        for op, value in items:
            if op is _sre.LITERAL:
                run += chr(value)
                continue
            if run:
                options.append({run})
                run = ""
            needed = node(op, value)
            if needed:
                options.append(needed)
        if run:
            options.append({run})
        return max(options, key=lambda option: (min(map(len, option)), -len(option)), default=None)

    def node(op, value) -> set[str] | None:
        if op is _sre.SUBPATTERN:
            return sequence(value[-1])
        if op is _sre.BRANCH:
            branches = [sequence(branch) for branch in value[1]]
            return None if any(branch is None for branch in branches) else set().union(*branches)
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and value[0] >= 1:
            return sequence(value[2])
        return None  # character classes, anchors, look-arounds, optional parts

    needed = sequence(_sre_parse.parse(pattern.pattern))
    return frozenset(needed) if needed else None


def _trie(words: list[str]) -> str:
    """A pattern matching the longest of `words` at a position, written as a trie (fast: one branch per letter)."""
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and "" not in node else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(root)


_VOCABULARY = dict(line.split(" ", 1) for line in P.data_lines(P.VOCABULARY))


def _expand(text: str) -> str:
    """`text` with each $NAME replaced by its alternation, and "A <N> B" by the either-order pattern."""
    text = re.sub(r"\$([A-Z_]+)", lambda match: _VOCABULARY[match.group(1)], text)
    near = re.fullmatch(r"(.+) <(\d+)> (.+)", text)
    return _near(near.group(1), near.group(3), int(near.group(2))) if near else text


def _alternatives(pattern: str) -> list[str]:
    """`pattern` cut at its top-level "|": each part is searched (and prefiltered) on its own."""
    parts, depth, start, escaped, in_class = [], 0, 0, False, False
    for at, char in enumerate(pattern):
        if escaped or char == "\\":
            escaped = not escaped
        elif in_class or char in "[]":
            in_class = char != "]"
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:at])
            start = at + 1
    return [*parts, pattern[start:]]


SIGN_SOURCES = [(kind, int(line[0]), _expand(line[2:])) for kind, block in P.SIGNS.items() for line in P.data_lines(block)]
# Each alternative of a sign line is a sign of its own (and counts once).
SIGNS = [(kind, weight, rx(part)) for kind, weight, text in SIGN_SOURCES for part in _alternatives(text)]

# Words the sign patterns spell out (in any language) are never "corrected" into another language's keyword.
_KEEP = P.KEEP_WORDS | {word for *_, text in SIGN_SOURCES for word in re.findall(r"[a-z]{5,}", re.sub(r"\\[a-zA-Z]", " ", text))}
_HEADS = re.compile(rf"\b([a-z]{{3,}}?)({_trie(P.COMPOUND_HEADS.split())})\b")  # a German compound: modifier, head
_FUZZY_INDEX: dict[str, str] = {keyword: keyword for keyword in P.FUZZY_WORDS}
for _keyword in P.FUZZY_WORDS:
    for _key in sorted(_deletes(_keyword)):
        _FUZZY_INDEX.setdefault(_key, _keyword)
SIGN_NEEDLES = [(kind, weight, pattern, _needles(pattern)) for kind, weight, pattern in SIGNS]
# All the strings in one search: at each position the longest string found, and every string that is a prefix of it.
_ALL_NEEDLES = sorted({needle for *_, needles in SIGN_NEEDLES if needles for needle in needles}, key=len, reverse=True)
_NEEDLE_SEARCH = re.compile(f"(?=({_trie(_ALL_NEEDLES)}))")
_PREFIXES = {needle: {other for other in _ALL_NEEDLES if needle.startswith(other)} for needle in _ALL_NEEDLES}

# Ties go to the kind listed first: a swollen tongue with breathlessness is an allergic reaction, pills with a
# wish to die are a suicide attempt.
PRIORITY = ("suicide_self_harm", "overdose_poisoning", "allergic_reaction", "chest_pain", "stroke", "bleeding",
            "unconscious_seizure", "breathing")

# A kind scoring 3 or more outranks the others: self-harm or an overdose is what the guidance must address.
DOMINANT = ("suicide_self_harm", "overdose_poisoning")

_DISCOUNTS = {kind: rx(pattern) for kind, pattern in P.DISCOUNTS.items()}

# --------------------------------------------------------------------------------------------
# Framing cues (medassist.emergency_patterns.FRAMING), matched on the flattened window

_F = {name: rx(text) for name, text in (line.split(" ", 1) for line in P.data_lines(P.FRAMING))}
INTERROGATIVE, FIRST_PERSON, COMPANION = _F["INTERROGATIVE"], _F["FIRST_PERSON"], _F["COMPANION"]


# --------------------------------------------------------------------------------------------
# Detection


def _windows(text: str) -> list[str]:
    """The parts of `text` judged one by one: a message of up to WINDOW_CHARS is judged whole, so its framing
    ("Quiz: ...", "last year ...") applies to all of it; a longer one sentence by sentence, so that a cue in
    unrelated text around an emergency cannot hide it. A run-on sentence is cut into overlapping pieces."""
    if len(text) <= WINDOW_CHARS:
        return [text]
    windows = []
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > WINDOW_CHARS:
            windows.append(sentence[:WINDOW_CHARS])
            sentence = sentence[WINDOW_CHARS - 100 :]
        windows.append(sentence)
    return windows


def _hypothetical_spans(window: str, flat: str) -> list[tuple[int, int]]:
    """(from, to) spans of `flat` from a hypothetical marker ("if", "in case", "what would") to the end of its clause
    ("how do I know if he is having a heart attack, he has crushing chest pain": the pain is no hypothesis)."""
    spans, start = [], 0
    for sentence in _CLAUSE_END.split(window):
        flat_sentence = flatten(sentence)
        at = flat.find(flat_sentence, start) if flat_sentence else -1
        if at < 0:
            continue
        marker = _F["HYPOTHETICAL"].search(flat_sentence)
        if marker:  # the hypothesis ends with its clause, or at "but" ("sorry if this is silly but my chest ...")
            but = _BUT.search(flat_sentence, marker.end())
            spans.append((at + marker.start(), at + (but.start() if but else len(flat_sentence))))
        start = at + len(flat_sentence)
    return spans


def _negated(flat: str, start: int) -> bool:
    """Whether the sign at `start` is named only to be denied ("no chest pain", "not suicidal", "keine Atemnot"):
    the words just before it end in a negation (P.FRAMING's NEGATED). A sign that holds its own negation ("not
    breathing", "no puede respirar") starts at it, so it is never denied this way."""
    return bool(_F["NEGATED"].search(flat, max(0, start - 40), start))


def sign_scores(window: str, flat: str) -> dict[str, int]:
    """Kind -> total weight of the signs in `window` (each counted once) that are not denied ("no chest pain")
    and not inside an if-clause or other hypothetical. A pattern runs only when one of the strings every match of it contains is present."""
    spans: list[tuple[int, int]] | None = None
    scores: dict[str, int] = {}
    strong: set[str] = set()
    present = set().union(*(_PREFIXES[match.group(1)] for match in _NEEDLE_SEARCH.finditer(flat)))
    for kind, weight, pattern, needles in SIGN_NEEDLES:
        if needles is not None and present.isdisjoint(needles):
            continue
        for match in pattern.finditer(flat):
            if spans is None:
                spans = _hypothetical_spans(window, flat)
            if _negated(flat, match.start()):
                continue
            if not any(lo <= match.start() <= hi for lo, hi in spans):
                scores[kind] = scores.get(kind, 0) + weight
                if weight >= 2:
                    strong.add(kind)
                break
    for kind, discount in _DISCOUNTS.items():  # explained by something else, unless many signs say otherwise
        if kind in scores and scores[kind] < DISCOUNTED_MIN and discount.search(flat):
            del scores[kind]
    return {kind: score for kind, score in scores.items() if kind in strong and score >= 2}


def not_now(window: str, flat: str, intent: bool = False) -> bool:
    """Whether the framing of `window` clearly says that what it describes is not happening now (stage 2). With
    `intent` (signs of self-harm or overdose, or more than one sign) a laugh is no joke: humour can mask intent."""
    companion = bool(COMPANION.search(flat))
    personal = companion or bool(FIRST_PERSON.search(flat))
    bystander = bool(_F["BYSTANDER"].search(flat))
    flat = _F["PREVENT"].sub(" ", flat)  # "how do I stop it happening again" looks ahead, not at now
    explicit = bool(_F["EXPLICIT"].search(flat))
    now = explicit or any(rule.search(flat) for rule in (_F["AGAIN"], _F["RECENT"], _F["RIGHT_NOW"]))
    if _F["RESOLVED"].search(flat) and not (now or _F["ONGOING"].search(flat)):
        return True
    now = now or bool(_F["NOW"].search(flat))
    if (_F["PAST"].search(flat) or _F["CHRONIC"].search(flat)) and not now:
        return True
    if (explicit or _F["WHAT_TO_DO"].search(flat)) and (personal or bystander):  # a call for help: nothing below applies
        return False
    if _F["LAUGH"].search(flat) and not (intent or now or companion or bystander or " help" in f" {flat}"):
        return True  # "couldnt breathe for a sec lmao": hyperbole about oneself, when nothing else says now
    if _F["EXAM"].search(flat) or _F["FICTION"].search(flat):
        return True
    if _F["CAUSAL"].search(flat) or _F["INFO"].search(flat):
        return True
    question = "?" in window or bool(INTERROGATIVE.search(flat))
    if question and (not personal or _F["GENERIC_SUBJECT"].search(flat) and not companion):
        return True
    return not (personal or bystander or now) and bool(_F["GENERIC"].search(flat))


def laughing(windows: list[str]) -> bool:  # lol, mdr, jaja, a laughing emoji in normalised text: the LAUGH line
    return any(_F["LAUGH"].search(flatten(window)) for window in windows)


def _judge(window: str) -> tuple[str, int] | None:
    """(kind, score) when `window` describes an emergency happening now, else None."""
    flat = flatten(window)
    if not flat:
        return None
    scores = sign_scores(window, flat)
    intent = any(scores.get(kind, 0) for kind in DOMINANT) or max(scores.values(), default=0) > 3  # more than one sign
    if not scores or not_now(window, flat, intent=intent):
        return None
    dominant = [kind for kind in DOMINANT if scores.get(kind, 0) >= 3]  # self-harm and overdose outrank their effects
    kind = dominant[0] if dominant else max(scores, key=lambda k: (scores[k], -PRIORITY.index(k)))
    return kind, scores[kind]


def _scanned(text: str) -> str:
    if len(text) <= SCAN_CHARS:
        return text
    half = SCAN_CHARS // 2
    return f"{text[:half]}\n{text[-half:]}"


def _windows_of(text: object) -> list[str]:  # the normalised windows a message is judged in; none for a non-str
    return [w for w in _windows(normalize(_scanned(text))) if w.strip()] if isinstance(text, str) and text.strip() else []


def _rules_verdict(windows: list[str]) -> str | None:
    best: tuple[str, int] | None = None
    for window in windows:
        verdict = _judge(window)
        if verdict and (best is None or verdict[1] >= best[1]):
            best = verdict
    return best[0] if best else None


def detect_by_rules(text: str) -> str | None:
    """The rules' verdict alone: the kind of emergency `text` describes as happening now, or None."""
    return _rules_verdict(_windows_of(text))


@lru_cache(maxsize=1)
def classifier() -> EmergencyClassifier:  # fitted once per process (ChatEngine.load fits it before the first message)
    return EmergencyClassifier.train(normalize)


def detect_emergency(text: str) -> str | None:
    """The kind of emergency (EMERGENCY_KINDS) `text` describes as happening now: the rules' verdict, else the
    classifier's when it is sure; or None. Never raises on a str; anything else is not a message: None."""
    windows = _windows_of(text)  # normalised once, for the rules and the classifier
    kind = _rules_verdict(windows)
    return kind if kind or not windows or laughing(windows) else classifier().rescue(windows)  # a laugh: rules alone
