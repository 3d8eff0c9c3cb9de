"""Medical text to search terms, for the knowledge base's BM25 index (medassist.retrieval).

Lower case, accents and dashes folded, contractions and possessives dropped, English stop words removed,
Snowball-stemmed; British spellings, brand names, lay phrases and common abbreviations are folded onto one
form first (paracetamol -> acetaminophen, "low blood sugar" -> hypoglycemia), so that a question and the card
that answers it share terms however either is worded. `fingerprint` hashes all of it: a change here rebuilds
cached indexes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

TOKENIZER_VERSION = "1"  # bump when tokenize()'s code changes (its tables are hashed into the cache key anyway)

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


_PROBE = ("Haemorrhage after paracetamol: β-blockers, 5-HT3, HbA1c 6.5%, NKCC2, CD4+ T-cells, TSH, "
          "Crohn's disease and the patient's low blood sugar don't respond to NSAIDs or V/Q testing.")


def fingerprint() -> str:
    """The tokeniser's version, tables and output on a probe: any change to them invalidates cached indexes."""
    parts = [TOKENIZER_VERSION, _SYNONYMS, " ".join(sorted(STOPWORDS)), _TOKEN.pattern, _CONTRACTION.pattern,
             *(pattern.pattern + replacement for pattern, replacement in _BRITISH), " ".join(tokenize(_PROBE))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
