"""The signs `medassist.emergency` looks for, and the spelling help it needs: plain data, compiled there.

Three sections: spelling (what is corrected, joined and split before matching), signs (VOCABULARY and SIGNS, per
kind) and framing (DISCOUNTS and FRAMING: is it explained otherwise, is it happening now). The long pattern lists
are text files in `assets/emergency/` (one per kind for the signs), so that a rule for one kind is edited in one file.

Patterns are matched on flattened text (lower-case ASCII words, single spaces, accents and punctuation gone,
misspellings corrected, German compounds split). "~N" stands for "up to N words", "$NAME" for an alternation from
VOCABULARY, and "A <N> B" for "A and B within N words of each other, in either order". Each line of SIGNS is
"WEIGHT PATTERN" (a line indented by two spaces continues the one before, joined without a space; a line starting
with "#" is a comment; each top-level alternative is a sign of its own): weight 3 is enough on its own, 2 enough
unless discounted, 1 only adds to a kind that has a sign of weight 2 or more. Written for recall, a class of
phrasings at a time and in all four languages (English, Spanish, French, German): lay and indirect descriptions,
named or not. Whether it is happening now is the framing rules' question (medassist.emergency).
"""

from __future__ import annotations

from importlib.resources import files

# The eight kinds of emergency, each with its own fixed guidance (medassist.safety) and signs file.
KINDS = ("chest_pain", "stroke", "breathing", "bleeding", "overdose_poisoning", "allergic_reaction",
         "unconscious_seizure", "suicide_self_harm")


def data_lines(block: str) -> list[str]:
    """The lines of a block of this data; a line indented by two spaces continues the one before, "#" starts a
    comment line."""
    lines: list[str] = []
    for line in block.strip("\n").splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("  ") and lines:
            lines[-1] += line[2:]
        elif line.strip():
            lines.append(line)
    return lines


def _read(name: str) -> str:
    """One pattern file of assets/emergency (installed with the package)."""
    return (files("medassist") / "assets" / "emergency" / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Spelling: what medassist.emergency.flatten corrects, joins and splits before the signs are read

# Keywords whose misspellings (one insertion, deletion, substitution or swap away) are corrected.
FUZZY_WORDS = """
breathe breathing breath choking seizure seizures seizing convulsing convulsions unconscious unresponsive responding
collapsed fainted swelling swollen tongue throat bleeding spurting pouring gushing squirting overdose overdosed
swallowed paracetamol acetaminophen tylenol ibuprofen tablets poisoned bleach antifreeze allergic anaphylaxis
anaphylactic crushing pressure squeezing tightness drooping droopy slurring slurred myself himself herself properly
attack emergency inhaler wheezing headache sertraline diazepam suicide suicidal respirar respira sangre sangrando
desmayado convulsion convulsionando inconsciente pastillas suicidarme matarme hinchando hinchada garganta infarto
labios respirer respire saignement inconscient convulse etouffe gonfle poitrine suicider medicaments comprimes douleur
visage blutet bewusstlos krampft geschluckt tabletten umbringen schwillt schmerzen brustschmerzen herzinfarkt
schlaganfall lippen verschluckt suddenly sweating antidepressants daughter husband stopping squeeze struggling
breathless consciousness minutes speaking talking bottle chest tonight weird moving respond quiero hablar muchisimo
torcida beaucoup arrive repond reagiert umgekippt ahogando atragantado hinchado desmayada kriegt schluckt bouche gorge
cachets morirme lengua convulsiona everywhere instead accidentally
""".split()
# Real words one edit from a keyword, never "corrected" (found by running the corrector over medical text).
KEEP_WORDS = set("""
asking attach attached axes blurred blurring blushing botte bottles boving breadth breast breasts breeding brushing
caches chopping collapse collapses cooking crashing crusting cushing cushings daughters drooling dropping dwelling
emergence flopping flushing forge husbands infarct inhale inhaled krampf krampfe lange levels lipped loving mining
minute mopping moving mowing mucor ovale padre property purging pushing reassure rippen roving rushing saline selling
shopping signes signet smelling sollen spare spelling squinting stopper strike stroked sweeting tables talents telling
threat threats topping tweeting value valve walking waxing weirs welling wider winking wired yelling
""".split())
# Short misspellings and text-speak the one-edit corrector leaves alone.
SHORT_FIXES = {
    "tuk": "took", "tok": "took", "strok": "stroke", "stoke": "stroke", "hart": "heart", "pils": "pills", "blud": "blood",
    "blod": "blood", "alot": "a lot", "pian": "pain", "kil": "kill", "cnt": "cant", "wnt": "want", "dnt": "dont",
    "tonite": "tonight", "2nite": "tonight", "plz": "please", "pls": "please", "halp": "help", "hlp": "help", "u": "you",
    "ur": "your", "bc": "because", "cuz": "because", "ded": "dead", "breth": "breath", "brethe": "breathe",
    "nich": "nicht", "nen": "einen", "ner": "einer", "kms": "kill myself", "kmsf": "kill myself", "grad": "gerade", "jsuis": "je suis", "chui": "je suis", "luf": "luft",
    "bocoup": "beaucoup", "boucoup": "beaucoup", "jveux": "je veux", "jviens": "je viens", "jpeux": "je peux",
    "jarrive": "j arrive", "jai": "j ai", "jen": "j en", "q": "que", "xq": "porque", "pq": "porque",
}
# Two words read as one, so that "blood pressure is so much higher" is not blood "so much".
COMPOUNDS = (
    r"\bblood (pressure|presure|sugar|sugars|test|tests|thinner|thinners|thiners|donation|donor|type|count|clot|clots|cells|"
    r"vessels?|glucose|levels?|work|results|bank|orange|oranges)\b|\bside (effects?)\b|\bchest (infection|infections|"
    r"x ray|xray|drain|physio)\b|\bmal au coeur\b|\bheart (rate|beat|murmur)\b|\bangine de poitrine\b|\bangina de pecho\b"
)

# German compounds: a word ending in one of these heads after at least three letters, and not spelled out whole by a
# sign, is read as two words ("rohrreiniger" -> "rohr reiniger", "abschiedsbriefe" -> "abschieds briefe",
# "brustschmerzen" -> "brust schmerzen", "wespenstich" -> "wespen stich"), so that signs match inside compounds.
COMPOUND_HEADS = """
schmerz schmerzen brief briefe nachricht nachrichten reiniger tabletten tablette pillen kapseln tropfen gift batterie
batterien spray stich wunde blutung blutungen bluten anfall seil strick klinge klingen luft
"""

# --------------------------------------------------------------------------------------------
# Signs

# Alternations shared by several signs, any language: "NAME (alternation)" (assets/emergency/vocabulary.txt).
VOCABULARY = _read("vocabulary.txt")

# The signs of each kind, one file per kind (assets/emergency/signs_<kind>.txt): "WEIGHT PATTERN" lines.
SIGNS = {kind: _read(f"signs_{kind}.txt") for kind in KINDS}

# --------------------------------------------------------------------------------------------
# Discounts and framing

# Cues that explain a kind's signs otherwise (a sore throat, an accidental cut, a blocked nose): the kind then needs
# DISCOUNTED_MIN.
DISCOUNTS = {
    "allergic_reaction": (r"\b(sore|tonsil\w*|strep|glands?|cold|flu|infection|toothache|tooth|dentist|mumps|stye|"
                          r"bumped|banged|knocked|punched|bruised?|golpe\w*|cogne\w*|gestossen|prellung|"
                          r"conjunctivitis|pink eye|sunburn|black eye|hay fever|hayfever|pollen|fiebre del heno|"
                          r"rhume des foins|heuschnupfen|mal a la gorge|angine|rhume|dolor de garganta|anginas|"
                          r"resfriado|halsschmerzen|erkaltung|mandel\w*)\b"),
    # an accident with a tool, or a farewell to a job: not self-harm
    "suicide_self_harm": (r"\b(cooking|shaving|kitchen|accident|accidentally|by accident|chopping|slipped|chainsaw|"
                          r"on (a |an |the |some )?(broken |sharp |rusty )?(glass|knife|blade|tin|metal|window|fence|"
                          r"nail|saw|wire|machine|rock|edge|corner|tool|axe|grinder)|sierra|radial|motosierra|hacha|"
                          r"amoladora|scie|tronconneuse|hache|disqueuse|sage|kreissage|kettensage|axt|flex|retir\w*|"
                          r"retirement|rente|ruhestand|jubila\w*|retraite|leaving (do|party|card)|farewell party|"
                          r"abschiedsfeier)\b"),
    "breathing": (r"\b(blocked|stuffy|congested|sinus\w*|through (my|his|her) nose|nez bouche|rhume|nariz tapada|"
                  r"panic attacks?|ataques? de (panico|ansiedad)|crises? d angoisse|crises? de panique|panikattacke\w*|"
                  r"angstattacke\w*|hyperventil\w*|hiperventil\w*|congestionad[oa]|resfriad[oa]|verstopfte? nase|"
                  r"schnupfen)\b"),
    "stroke": r"\b(dentist|anaesthetic|anesthetic|filling|numbing)\b",
    # eyes that will not open from an infection
    "unconscious_seizure": (r"\b(conjunctivitis|pink eye|sticky eyes?|crusty|stye|eye infection|conjuntivitis|"
                            r"conjonctivite|bindehaut\w*)\b"),
    "bleeding": (r"\b(period|periods|menstrua\w*|regla|regles|menstruation|gums|encias|gencives|zahnfleisch|small|"
                 r"slight|tiny|minor|a bit of|a little|pequen[oa]|poco|petit|peu|leicht|bisschen)\b"),
    # it did not go down: "licked a battery but didn't swallow it"
    "overdose_poisoning": (r"\b((didnt|did not|hasnt|has not|not) (swallow|swallowed|eat|eaten|drink|drunk|take|taken|"
                           r"touch)|spat (it )?out|no (se )?(lo|la) (trago|ha tragado)|n a pas avale|"
                           r"nicht (geschluckt|verschluckt))\b"),
    "chest_pain": r"\b((?<!like )heartburn(?! ~4(wont|not|doesnt|isnt|like this))|reflux|pulled (a )?muscle|costochondritis|chestinfection|coughing|cough)\b",
}

# Framing cues (medassist.emergency decides with them whether a sign is happening now), "NAME pattern" lines
# matched on the flattened window (assets/emergency/framing.txt).
FRAMING = _read("framing.txt")
