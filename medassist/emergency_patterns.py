"""The signs `medassist.emergency` looks for, and the spelling help it needs: plain data, compiled there.

Three sections: spelling (what is corrected, joined and split before matching), signs (VOCABULARY and SIGNS, per
kind) and framing (DISCOUNTS and FRAMING: is it explained otherwise, is it happening now).

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
cachets morirme lengua convulsiona everywhere
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
    "nich": "nicht", "nen": "einen", "grad": "gerade", "jsuis": "je suis", "chui": "je suis", "luf": "luft",
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

# Alternations shared by several signs, any language: "NAME (alternation)".
VOCABULARY = r"""
MEDS (pills?|pils|tablets?|capsules?|meds|medication|medications|medicine|medicines|drugs|paracetamol|acetaminophen|tylenol|panadol|
  ibuprofen|advil|nurofen|aspirin|co codamol|sertraline|fluoxetine|citalopram|amitriptyline|mirtazapine|diazepam|valium|xanax|
  alprazolam|lorazepam|clonazepam|benzos|codeine|tramadol|oxycodone|oxycontin|oxy|morphine|fentanyl|heroin|methadone|insulin|lithium|
  antidepressants?|cough (syrup|medicine)|jarabe|sirop|hustensaft|painkillers|pain killers|vitamins|iron|opioids|opiates|cocaine|
  ketamine|mdma|ecstasy|meth|ghb|gbl|digoxin|warfarin|metformin|quetiapine|zopiclone|zolpidem|ambien|pregabalin|gabapentin|
  propranolol|beta blockers|sleeping (pills|tablets)|gummies|edibles|pastillas|pastilla|comprimidos|pildoras|medicamentos|medicinas|
  drogas?|paracetamoles|ibuprofenos|ibuprofeno|aspirinas?|nolotil|somniferos|antidepresivos|calmantes|tranquilizantes|orfidal|
  trankimazin|tranxilium|lorazepam|heroina|cocaina|fentanilo|metadona|morfina|ketamina|extasis|insulina|litio|cachets|comprimes|
  pilules|gelules|medicaments|drogues?|doliprane|dafalgan|efferalgan|ibuprofene|somniferes|antidepresseurs|anxiolytiques|lexomil|
  stilnox|seresta|subutex|heroine|morphine|methadone|insuline|tabletten|pillen|kapseln|tropfen|medikamente|drogen|schlaftabletten|
  antidepressiva|schmerztabletten|schmerzmittel|beruhigungsmittel|schlafmittel|tavor|tilidin|novalgin|metamizol|kokain|koks|morphin|
  methadon|insulin)
MUCH (too many|too much|to many|to much|way too|a lot of|lots of|loads of|a load of|load of|a bunch of|bunch of|a handful of|handful|
  whole|hole|entire|all|all of|a full|box|bottle|packet|pack|strip|blister|everything|every pill|[5-9]|\d\d+(?! ?(mg|mcg|ug|ml|g|
  milligrams?|micrograms?|units|iu|minutes?|mins?|hours?|years?)\b)|like \d+|ten|twelve|fifteen|twenty|thirty|forty|fifty|sixty|
  hundred|dozen|several|double|triple|weeks worth|week s worth|days worth|at once|in one go|zu viel|caja|frasco|monton|todas|todos|
  demasiad\w*|muchas|muchos|bote|punado|entera|entero|diez|quince|veinte|treinta|cuarenta|cincuenta|cien|toute|tout|tous|toutes|
  une boite|boite|plaquette|flacon|tube|plein de|beaucoup de|trop de|un max de|max de|dizaine|vingtaine|trentaine|ganze|ganzen|alle|
  viele|zu viele|zuviel|haufen|packung|schachtel|zwanzig|dreissig|vierzig|funfzig)
TAKE (took|taken|swallowed|swallow|swallowing|ate|eaten|had (a |some )?(sip|sips|mouthful|gulp|swig|taste) of|sipped|tasted|gulped|
  drank|drunk|downed|necked|popped|had|chewed|injected|snorted|smoked|overdosed|washed down|knocked back|got through|tooked|dropped|
  tomado|tome|tomo|tragado|trago|trague|bebido|bebio|comido|comio|ingerido|ingirio|metio|meti|metido|esnifado|inyectado|mezclado|
  mezclo|avale|avalee|pris|prise|bu|mange|ingere|gobe|sniffe|injecte|melange|
  geschluckt|genommen|eingenommen|eingeworfen|gegessen|getrunken|gekippt|gespritzt|gezogen|gemischt|genascht)
CHILD (child|kid|toddler|baby|son|daughter|grandson|granddaughter|grandchild|boy|girl|little (brother|sister)|lil (brother|sister|
  bro|sis)|hermanito|hermanita|nene|nena|petit frere|petite soeur|kleiner bruder|kleine schwester|kleinkind|niece|nephew|sobrin[oa]|
  neveu|niece|neffe|nichte|year old|yr old|month old|dog|hijo|hija|bebe|
  nino|nina|nieto|nieta|pequeno|pequena|fils|fille|enfant|petit|petite|petit fils|petite fille|kind|sohn|tochter|kleine|kleiner|
  enkel|enkelin)
# Household chemicals, garden and car products, batteries and magnets: en, es, fr, de.
CHEMICALS (bleach|antifreeze|anti freeze|weed killer|weedkiller|pesticide|insecticide|herbicide|rat poison|slug pellets|poison|
  poisonous|detergent|dishwasher (tablet|tablets|pod|pods|liquid|salt)|laundry (pod|pods|capsule|capsules|liquid)|washing (pod|pods|
  liquid|powder|up liquid)|button batter(y|ies)|batter(y|ies)|magnets?|drain (cleaner|unblocker)|unblocker|oven cleaner|
  toilet cleaner|limescale remover|descaler|caustic soda|caustic|lye|(hydrochloric|sulphuric|sulfuric|battery|drain|pool) acid|
  cleaning (product|spray|fluid|liquid|stuff)|disinfectant|dettol|domestos|white spirit|turps|turpentine|paint thinner|petrol|
  gasoline|kerosene|lamp oil|torch oil|lighter fluid|methanol|ethylene glycol|screenwash|screen wash|(windscreen|windshield) (wash|
  washer|fluid)|washer fluid|brake fluid|coolant|ammonia|chlorine|nail polish remover|acetone|hand sanitiser|hand sanitizer|e liquid|
  vape (liquid|juice)|nicotine|mothballs?|firelighters?|tea tree oil|eucalyptus oil|paraquat|cyanide|toadstools?|wild mushrooms|
  chemicals?|lejia|cloro|veneno|lavavajillas|detergente|anticongelante|matarratas|raticida|insecticida|herbicida|matahierbas|
  producto de limpieza|limpiador|limpiahornos|desatascador|salfuman|agua fuerte|aguafuerte|sosa caustica|quitagrasas|desengrasante|
  suavizante|alcohol de quemar|pila|pilas|iman|imanes|amoniaco|aguarras|disolvente|quitaesmalte|acetona|gasolina|queroseno|javel|
  eau de javel|produit\w*|nettoyant|liquide vaisselle|lave vaisselle|lave glace|antigel|liquide de refroidissement|mort aux rats|
  raticide|destop|deboucheur|soude|acide chlorhydrique|eau oxygenee|alcool a bruler|desherbant|lessive|ammoniaque|chlore|dissolvant|
  acetone|white spirit|petrole|huile (de|pour) lampe|pile bouton|piles boutons|aimants?|spulmaschinentab\w*|spultab\w*|
  geschirrspul\w*|spulmittel|weichspuler|nagellackentferner|aceton|waschmittel|putzmittel|reiniger|rohrreiniger|abflussreiniger|
  backofenreiniger|entkalker|bleiche|chlor|salzsaure|natronlauge|lauge|essigessenz|frostschutz\w*|scheibenwaschwasser|rattengift|
  mausegift|schneckenkorn|unkrautvernichter|pflanzenschutzmittel|insektenspray|batterie|knopfbatterie\w*|knopfzelle|magnete\w*|
  lampenol|feuerzeugbenzin|benzin|spiritus|terpentin|verdunner|grillanzunder|desinfektionsmittel)
ALCOHOL (alcohol|vodka|wine|beer|beers|whisky|whiskey|gin|rum|booze|drink|drinks|alk|alkohol|wodka|schnaps|bier|alcool|vin|vino|
  tequila|cerveza|wein)
CHEST (chest|heart|breastbone|sternum|ribcage|ribs|pecho|corazon|torax|esternon|poitrine|thorax|torse|coeur|brust|brustkorb|brustbein|
  herz|herzgegend)
CHEST_FEELING (pain|pains|hurts?|hurting|ache|aching|aches|pressure|tight|tightness|tightening|heavy|heaviness|burning|fire|sore|
  apret\w*|estruj\w*|squeez\w*|crush\w*|discomfort|vice|vise|band|weight|elephant|stabbing|killing|agony|dolor|dolores|duele|opresion|
  oprime|presion|presiona|aprieta|apretando|peso|pesa|ardor|arde|quema|pincha|aplast\w*|pinchazo|punzada|douleur|douleurs|mal|
  serre\w*|oppression|pression|poids|etau|barre|brule\w*|ecras\w*|comprim\w*|appuie|estalla|explota|revienta|sitting|sitzen|sitzt|
  elefant|schmerz\w*|druck\w*|enge|eng|engegefuhl|stechen|sticht|brennt|brennen|zerreisst|weh|zieht)
AUTONOMIC (sweating|sweaty|sweat|clammy|grey|gray|ashen|pale|drenched|cold sweat|sudando|sudor|palido|palida|sudo|suda|sudoros[oa]|
  transpire|sueurs?|gris|schwitzt|schweiss\w*|kreidebleich|blass|grau)
FACE (face|mouth|smile|lip|eyelid|cheek|cara|boca|sonrisa|labio|visage|bouche|sourire|gesicht|gesichtshalfte|mund|mundwinkel|lacheln)
DROOP (droop\w*|sag\w*|lopsided|crooked|uneven|fallen|dropped|twisted|slack|paralys\w*|paralyz\w*|hanging|wonky|skewed|frozen|
  torcid\w*|torcio|caid\w*|cae|desviad\w*|colgando|paralizad\w*|chueca|travers|tordu\w*|deform\w*|affaiss\w*|pend|hangt|hangend\w*|
  schief\w*|gelahmt|verzogen|runter)
LIMB (arm|arms|leg|legs|hand|hands|side|foot|face|brazo|pierna|mano|lado|bras|jambe|main|cote|bein|seite)
SPEECH (talking|speaking|speech|words|talk|speak|saying|says|habla|hablar|palabras|dice|diciendo|parle|parler|mots|dire|dit|redet|
  spricht|sprache|worte|sagt|erzahlt)
SPEECH_WRONG (nonsense|gibberish|garbled|jumbled|muddled|mumbl\w*|slurr\w*|strangely|weird|weirdly|mixed up|funny|strange|odd|wrong|
  not right|n importe quoi|cualquier cosa|tonterias|dummes zeug|sinnlos\w*|incoherent\w*|raro|rara|extrano|extrana|incoherente|
  arrastrando|trabad\w*|enredad\w*|bizar\w*|incomprehensible\w*|bafouill\w*|verwaschen|undeutlich|wirr\w*|lallend|lallt|komisch|
  unverstandlich|durcheinander|unsinn)
SUDDEN (suddenly|sudden|all of a sudden|out of nowhere|de repente|de golpe|d un coup|soudain\w*|tout a coup|plotzlich|auf einmal)
BREATH (breathe|breath|breathing|breaths|get ~2air|any air|enough air|catch ~1breath)
BODY (throat|tongue|lip|lips|face|mouth|eyes|eyelids|cheeks|airway|garganta|lengua|labios|cara|boca|ojos|parpados|gorge|langue|levre|
  levres|visage|bouche|yeux|paupieres|hals|zunge|lippen|gesicht|rachen|augen|mund)
SWELL (swell|swelling|swollen|swelled|swells|puff\w*|balloon\w*|blowing up|blown up|huge|massive|thick|big|bigger|enorme|enormous|
  hinch\w*|inflam\w*|gonfl\w*|enfl\w*|aufgequollen|quillt|aufgedunsen|schwillt|schwellen|anschwellen|geschwollen\w*|angeschwollen\w*|
  dick)
THROAT (throat|airway|garganta|gorge|hals|kehle|rachen)
CLOSING (closing|closed|close|tight|tightening|cerr\w*|cierra|ferme|serre\w*|zuschnuren|schnurt\w*)
TRIGGER (stung|sting|bee|wasp|hornet|peanuts?|nuts?|cashews?|shellfish|prawns?|shrimp|eggs?|huevos?|oeufs?|wespen|bienen|stich|
  allergic|allergy|alergic|antibiotic|penicillin|satay|sesame|avispa|abeja|picado|pico|picadura|alergi\w*|cacahuetes?|mani|marisco|
  nueces|guepe|abeille|pique\w*|allergi\w*|arachide|crevettes|fruits de mer|noix|wespe|biene|gestochen|erdnuss\w*|nuss|nusse|
  antibiotikum|hazelnuts?|almonds?|walnuts?|pistachios?|kiwi|avellanas?|almendras?|nuez|noisettes?|amandes?|haselnuss\w*|mandeln?|
  walnuss\w*|garnelen|gambas?|crustaces|mariscos)
CANT_BREATHE (cant ~3breathe|cant ~3breath|not breathing|struggling to breathe|hard to breathe|trouble breathing|choking|
  suffocat\w*|ahog\w*|asfixi\w*|\w*etouff\w*|suffoqu\w*|erstick\w*|no (puedo|
  puede) respirar|cuesta respirar|falta el aire|du mal a respirer|respire (plus|mal)|(peux|peut) plus respirer|keine luft|(nicht|
  kaum) ~1atmen|atemnot|luftnot)
BLEED (bleeding|bleed|bleeds|bled|bleedin|nosebleed\w*|blood|sangr\w*|sangre|hemorragia|saign\w*|sang|hemorragie|blut|blutet|bluten|
  blutend|blutende|blutung|blutungen|geblutet)
BLEED_MUCH (heavily|badly|a lot|profusely|everywhere|so much|loads|like crazy|non stop|nonstop|wont stop|will not stop|isnt stopping|
  not stopping|doesnt stop|hasnt stopped|not slowing|wont slow|pouring|gushing|spurting|mucha|squirting|pumping|spraying|streaming|
  pulsing|soaking|soaked|all over|pool|puddle|lots|really bad|so bad|too much|wont clot|keeps coming|losing|covered|drenched|mucho|
  muchisim\w*|sin parar|no para|a chorros|borbotones|abundante\w*|charco|por todas partes|por todos lados|demasiad\w*|empapad\w*|
  chorrea|brota|beaucoup|abondamment|enormement|sans arret|partout|trop|arrete pas|arrete plus|gicle\w*|jaillit|pisse\w*|flaque|mare|
  trempe\w*|a flots|stark|heftig|ununterbrochen|wie verruckt|extrem|ohne ende|spritzt|schiesst|stromt|quillt|sprudelt|uberall|
  lauft und lauft|hort nicht auf|viel|pfutze|lache|durchgeweicht|durchgeblutet|getrankt|pulsiert|stark\w*|heftig\w*|massiv\w*)
WOUND (cut|gash|wound|slashed|sliced|laceration|gashed|severed|corte|cortado|herida|coupure|coupe|entaille|plaie|schnitt|wunde|
  geschnitten)
DEEP (deep|artery|to the bone|wide open|gaping|huge|profunda|profundo|arteria|hueso|profonde|artere|os|tief\w*|arterie|knochen)
RESPOND (responding|respond|responsive|react\w*|waking up|wake up|woken up|woke up|woken|come round|come to|coming round|coming to|
  waking)(?! (well|to (treatment|medication|medicine|the treatment|antibiotics|therapy|meds|drugs|tablets|chemo|steroids|the cream|
  it)))
SEIZURE \b(seizure|seizures|seizing(?! up)|convuls\w*|epileptic fit|grand mal|tonic clonic|(is|hes|shes|keeps|started|been|was|baby|
  he|she|son|daughter|now|still) fitting|fitting (on|and|again|for))\b
# A blow to the head or a fall on it.
HEAD_HIT ((hit|banged|bumped|knocked|smacked|cracked) ~2(head|heads)|fell (off|down|from|out of|backwards|on (his|her|the) head)|
  (golpe\w*|golpeo|dio|pego) ~3cabeza|(cayo|caido|caida) ~4(cabeza|cama|escaleras|cambiador)|(cogne\w*|tombe\w*|chute|choc) ~4(tete|
  lit|escaliers|table a langer)|kopf ~3(gestossen|angeschlagen|aufgeschlagen|geknallt|gefallen)|(gesturzt|gefallen|runtergefallen|
  hingefallen) ~4(kopf|bett|treppe|wickeltisch))
# Plants, mushrooms and cigarettes: a poisoning when eaten and followed by feeling unwell.
PLANTS (berries|mushrooms|toadstools|plants?|leaves|seeds|cigarettes?|cigarette butts?|cannabis|edibles|gummies|weed|vape|setas|
  hongos|bayas|plantas|hojas|semillas|colillas|cigarrillos?|champignons|baies|plantes|feuilles|graines|megots|pilze|beeren|pflanzen|
  blatter|samen|zigaretten?|kippen)
# Feeling unwell after something was taken: the signs of a poisoning, en, es, fr, de.
UNWELL (dizzy|drowsy|confused|faint\w*|pulse|heart rate|vomit\w*|throwing up|being sick|sick|sleepy|floppy|collapsed|slurr\w*|
  unresponsive|unconscious|fitting|not responding|hallucinat\w*|headaches?|shaking|sweating|mareado|mareada|mareos|somnolient\w*|
  confundid\w*|vomit\w*|vomita\w*|desmay\w*|temblando|sudando|dolor de cabeza|alucina\w*|etourdi\w*|vertiges?|vomi\w*|
  confus\w*|tremble|transpire|maux de tete|mal a la tete|hallucin\w*|schwindel\w*|benommen|verwirrt|erbricht|erbrechen|kotzt|
  zittert|schwitzt|kopfschmerzen|ubel|halluzin\w*|krampft)
MEANS (rope|noose|ropes|belt|razor|blade|blades|gun|pistol|means|cuerda|soga|cuchilla|corde|lames|lame de rasoir|strick|seil|klinge|
  klingen)
"""

SIGNS: dict[str, str] = {
    "chest_pain": r"""
3 $CHEST <6> $CHEST_FEELING
2 $CHEST <20> $CHEST_FEELING
2 $CHEST <20> $AUTONOMIC
2 (malaucoeur|herzschmerz\w*) <10> $AUTONOMIC
2 (arm|jaw|arms|brazo|mandibula|bras|machoire|kiefer) <12> $AUTONOMIC
3 \b(douleur|douleurs|dolor) (thoracique|toracico)\b|\b(piedra|ladrillo|losa) ~3pecho\b|\bpressing ~3(fist|hand) ~3chest\b|
  \bcrushing ~2(pain|pressure|feeling|sensation|ache)\b|\bbrust(schmerz\w*|enge|druck|stechen)\b|\belephant ~4(on|sitting|
  standing) ~2(me|my|him|her)\b|\b(sitting|standing|kneeling) on (my|his|her) chest\b|\b(holding|clutching|clutches|clutched|gripping|
  grabbing|grabs|grabbed|grasping|rubbing|clasping|pressing on|agarra|agarrando|sujeta|sujetando|toca|tocando|tient|tenant|halt|
  greift|fasst) ~3(chest|pecho|poitrine|brust|herz)\b|\b(having|havin|think|thinks|could be|is this|is it|might be|like|maybe|
  probably) ~4heart attack\b|\b(teniendo|tiene|tengo|esta dando|dando|da|creo|parece|sea|fait|fais|faire|faisant|crois|croit|pense|
  comme|hat|habe|hab|glaube|bekommt|kriegt|wie) (?!(angst|miedo|peur|afraid|scared) )~3(infarto|ataque al corazon|ataque cardiaco|
  infarctus|crise cardiaque|herzinfarkt)\b|\b(pain|ache|pressure|heaviness|tightness|heartburn|indigestion|dolor|douleur|
  schmerz\w*) ~5(spreading|spreads|radiating|radiates|going|goes|shooting|moving|travel\w*|irradia|baja|se extiende|irradie|descend|
  monte|ausstrahl\w*|strahlt|zieht) ~4(arm|jaw|neck|shoulder|back|brazo|mandibula|cuello|bras|machoire|cou|dos|kiefer|hals|rucken)\b|
  \bworst pain (of|in) (his|her|my|their) life\b
1 \b(arm|jaw|shoulder|brazo|mandibula|bras|machoire|kiefer) ~3(numb|tingl\w*|heavy|dead|aches?|hurts?|entumecid\w*|dormid\w*|
  hormig\w*|engourdi\w*|lourd|fourmil\w*|kribbelt|taub|schwer)\b|\b$AUTONOMIC\b|\b(feels? sick|throw up|nause\w*|vomit\w*|nauseas|
  envie de vomir|ubel|left arm)\b
""",
    "stroke": r"""
3 $FACE <4> $DROOP
3 \b(moitie|un cote) (du|de son|de sa) (visage|bouche)\b|\b(mitad|un lado) de (la|su) (cara|boca)\b|\b(eine|linke|rechte) (seite|
  gesichtshalfte|halfte) ~2(hangt|hangend|gelahmt|taub)\b
2 \b(cant|cannot|can not|unable to) smile\b|\bno (puede|puedo) sonreir\b|\b(peut|arrive) (plus|pas) (a )?sourire\b|\bkann ~3(nicht|
  kaum) ~1(mehr )?lacheln\b
3 $SPEECH <3> $SPEECH_WRONG
3 \b(one|left|right|whole left|whole right) side\b <5> (weak|numb|paralys\w*|paralyz\w*|dead|limp|not working|wont move|heavy|
  droop\w*|tingl\w*)
3 (taub\w*|gelahmt|schwach|kraftlos|lahm|paralyse\w*|engourdi\w*|paralizad\w*|dormid\w*) <5> (seite|korperhalfte|halfte|cote|moitie|
  lado|mitad|medio cuerpo|cuerpo|corps|korper)
3 (headache|head) <10> (worst (ever|of (my|his|her|their) life)|thunderclap|exploding|explosion)
2 $FACE <15> $DROOP
2 $SPEECH <10> $SPEECH_WRONG
2 $LIMB <3> (limp|dead|floppy|useless|pend|dangling|mou|molle|flasque|cuelga|colgando|paralys\w*|paralyz\w*|not working|wont work|
  gone weak|gave way|muert\w*|flojo|paralizad\w*|inerte|paralyse\w*|schlaff|gelahmt|lahm|kraftlos)
2 $SUDDEN <6> (numb\w*|weak\w*|cant see|blind|lost ~2vision|double|cant walk|cant speak|cant talk|confused|confusion|dizzy|cant stand|
  fell over|collapsed|confundid\w*|desorientad\w*|ve doble|no ve|no puede (caminar|andar|hablar)|no se tiene en pie|mareado|mareada|
  confus\w*|voit (double|plus)|(peut|arrive) plus (a )?(marcher|parler)|vertiges?|verwirrt|sieht ~1(doppelt|nichts)|
  kann ~2nicht ~1(mehr )?(laufen|gehen|stehen|sprechen)|schwindelig)
1 $LIMB <3> (numb|weak|heavy|tingl\w*|dormid\w*|debil|entumecid\w*|engourdi\w*|faible|lourd|taub|schwach)
3 \b(visage|bouche|levre) ~3tomb\w*\b|\b(face|mouth|smile) ~2(has )?(gone|went|looks) ~2(funny|weird|strange|odd|wrong)\b|\b(face|
  mouth|smile|cara|boca|visage|bouche|gesicht|mund) ~4(on|to|de|d|auf) (one|un|una|einer) (side|lado|cote|seite)\b|\b(one side|half|
  side) (of )?(his|her|my|their|the) (face|mouth|smile|body)\b|\b(bras|jambe|main) ~2(ne )?(bouge|repond) (plus|pas)\b|\bslurr?(ing|
  ed|s)?\b|\b(talking|sounds?|speaking) like (hes|shes|he is|she is|im|i am|a)? ?drunk\b|\bhabla ~4borrach\w*\b|\bno (mueve|siente|
  puede mover) ~2(el |la )?(brazo|pierna|mano|lado|cara)\b|\bmots (qui )?n ?ont (aucun|pas de) sens\b|\b(talking|speech) ~1confused\b|
  \b(cant|cannot|couldnt|unable to|struggling to|trouble|hard to|not able to) ~3(get ~2words out|find ~2words|say ~2words|form words|
  (speak|talk) ~1(properly|clearly|right|straight|normally))\b|\b(cant|cannot|can not|couldnt|unable to|not able to|wont|
  struggling to|trouble|no (puede|puedo|consigue|consigo)|(peut|peux|arrive|parvient) (plus|pas)( a)?) ~3(lift|raise|move|feel|use|
  squeeze|grip|hold|mover|levantar|sentir|lever|bouger|heben|bewegen|halten|spuren) ~4$LIMB\b|\bkann ~4(arm|bein|hand|seite) ~3(nicht|
  kaum) ~2(heben|bewegen|halten|spuren)\b|\b(keeps|keep|is|started|kept) dropping ~2(things|cup|glass|stuff|fork|spoon|phone)\b|
  \b(worst|sudden|severe|thunderclap) ~1headache ~4(of|in|ever)\b|\bheadache ~4like ~3(hit|bat|thunder|explo\w*)\b|\b(having|havin|
  think|thinks|could be|is this|is it|might be|like|maybe|probably) ~4(a )?(stroke|mini stroke|tia)\b|\b(teniendo|tiene|creo|parece|
  le da|dando|sea|fait|fais|faire|faisant|crois|croit|pense|comme|hat|habe|glaube|bekommt|wie) (?!(angst|miedo|peur|afraid|
  scared) )~3(ictus|derrame|infarto cerebral|embolia|avc|attaque cerebrale|schlaganfall)\b|\bse le (cae|ha caido|tuerce|ha torcido|va|
  ha ido) (la )?(cara|boca)\b|\bno le salen ~2palabras\b|\btrouve plus ses mots\b|\b(du mal a|arrive (pas|plus) a|peut (pas|
  plus)) trouver ses mots\b|\b(ne )?sent (plus|pas) (son|sa|ses) (bras|jambe|jambes|main|visage|cote)\b|\bspurt ~2(arm|bein|hand|
  seite|gesicht) ~2nicht\b|\bdu mal a articuler\b|\bfindet ~2(keine|nicht) ~2worte\b
1 \b(doesnt|cant|does not|cannot) understand (what|a word|anything|me)\b|\bne comprend (plus|pas|rien) ~4(dit|dis|parle|
  dire)\b|\bversteht ~3nicht mehr\b
2 \b(bafouill\w*|farfull\w*|balbuce\w*|lallt|lallend)\b|\b(not making|making no|doesnt make|dont make|not make) ~1sense\b|\b(cant|
  cannot|couldnt|unable to|can barely|can hardly|struggl\w* to) (speak|talk)\b(?! (to|with|about|of|english|spanish|french|german|
  the language|in|on|at|for|much|up|openly))|\b(cant|cannot|couldnt) see ~3(out of|in|with|properly|clearly|anything)\b|
  \bvision ~3(gone|lost|double|blurr\w*)\b|\b(cant|couldnt|unable to) ~1(hold|grip|pick up) ~3(cup|glass|pen|fork|spoon|phone|
  anything|things|mug)\b|\b(sudden|suddenly) ~2(splitting|severe|excruciating|blinding|explosive|terrible|bad)? ?headache\b|
  \bno (puede|puedo) hablar\b|\bno (se le )?entiende (lo|nada|bien|cuando)\b|\bno entiende lo que\b|\b(n arrive plus a parler|
  du mal a parler|(peut|peux|arrive) plus (parler|articuler))\b|\bkann ~3(nicht|kaum) ~2(richtig )?(sprechen|reden)\b
""",
    "breathing": r"""
2 (lips|face|mouth|fingers|labios|boca|cara|levres|bouche|visage|lippen|mund|gesicht) <4> (blue|purple|bluish|azul\w*|morad\w*|
  bleu\w*|violet\w*|blau\w*|lila)
3 \b(cant|cannot|can not|couldnt|could not|unable to|not able to|struggling to|struggles to|struggle to|struggling|fighting to|
  fighting for|hard to|hardly|barely|trouble|difficulty|cant really|can only just|labou?red|straining to|straining for|
  gasping for) ~3$BREATH\b(?! (through|out of|thru) (my|his|her|the|their) nose)|\b(not|isnt|is not|arent|are not|stopped|stops|
  no longer|hasnt been|not really|stop|isnt really) breathing\b|\b(gasping|gasps|fighting|struggling|straining) ~2(for|
  between) ~2(air|breath|breaths|every word|words)\b|\b(choking|choke|choked|chokes|chocking)\b|\bsuffocat\w*\b|\bdrown(ing|ed)\b|
  \b(stuck|lodged) ~4(throat|windpipe|airway)\b|\b(piece of|bit of|something|food) ~4stuck\b|\b(clutching|grabbing|holding) (his|her|
  their|my) (throat|neck)\b|\b(inhaler|puffer|puffs|reliever|ventolin|nebuliser|nebulizer|salbutamol|albuterol) ~4(isnt|not|doesnt|
  didnt|wont|is not|does not|did not|has not|hasnt|have not|havent) ~1(working|work|helping|help|helped|worked|doing anything|
  done anything|making a difference)\b|\b(inhaler|puffer|puffs|reliever|ventolin|nebuliser|nebulizer|spray|
  salbutamol) ~3(done nothing|do nothing|doing nothing|does nothing|did nothing|no help|no use|useless)\b|\basthma attack ~4(worse|
  bad|not stopping|wont stop|severe|worst)\b|\b(having|havin) ~3asthma attack\b|\basthma ~12(worst|severe|terrible|
  really bad) ~1attack\b|\b(cant|cannot|unable to|can only|can barely|can hardly|struggling to) ~2(talk|speak|say|finish|get out|
  complete) ~3(full sentences|sentences|sentence|a few words|couple of words|few words|more than)\b|\bno (sound|noise) ~2(coming|
  comes)\b|\bnothing comes out\b|\b(ribs|chest|tummy|stomach|neck|skin) ~6(sucking|sucks|pulling|pulls|caving|sinking) in\b|
  \bnostrils ~2flaring\b|\b(head )?bobbing ~3(head|breath)\b|\btracheal tug\b|\bsee saw breathing\b|\b(finir|terminar|acabar|beenden|
  finish|complete) ~2(ses|sus|seine|ihre|his|her|my|a)? ?(phrases|frases|satze|sentences?)\b|\b(very|really|so|extremely|suddenly|
  severely|badly) (short of breath|breathless)\b|\bwheez\w* ~2(badly|so bad|really bad|terribly|a lot|loudly|so much)\b|\b(no|casi no|
  ya no) (puedo|puede|podemos|puedes|consigo|consigue) ~1respirar\b|\b(no|casi no|ya no) respira\b|\b(me|le|te|
  nos) cuesta ~1respirar\b|\b(dificultad|problemas) (para|al) respirar\b|\bdejo de respirar\b|\bsin poder respirar\b|
  \bsans pouvoir respirer\b|\bno (me|le|te|nos) llega ~1aire\b|\b(me|le|te) falta ~1aliento\b|\bjadea\w*\b|\b(me|le|
  te) falta ~1aire\b|\bno (me|le|te) entra ~1aire\b|\b(ahogando|ahoga|atragant\w*|asfixi\w*|asphyxi\w*)\b|\binhalador ~3no ~2(hace|
  funciona|ayuda|sirve)\b|\bno (le|me|te|nos) (hace|sirve|ayuda) ~2(ventolin|inhalador|spray|puff\w*)\b|\bcrisis de asma ~4(fuerte|
  grave|muy|no)\b|\bhunden ~2costillas\b|\brespira ~1(con )?(mucha |mucho |muy )?(dificultad|esfuerzo|mal|fatal|rapido|lento|despacio|
  raro|poco|entrecortado)\b|\bhace ruido al respirar\b|\b\w*arrive ~1(plus|pas) a (respirer|reprendre ~2souffle)\b|\b(peux|peut|
  pouvons) (plus|pas) respirer\b|\b(du|de) mal a respir\w*|\brespire ~1(plus|pas|mal|difficilement|bizarre|bizarrement|a peine|
  lentement|par a coups)\b|\b\w*etouff\w*\b|\bsuffoqu\w*\b|\betrangl\w*|\b(ventoline|inhalateur|spray|pompe|
  bronchodilatateur) ~3(fait rien|marche pas|marche plus|sert a rien|aucun effet|fonctionne pas)\b|\bmanque d ?air\b|\btirage\b|
  \b(krieg|kriege|kriegt|bekomme|bekommt|kriegen) ~2(keine|schwer|kaum|schlecht) ~1luft\b|\b(kann|kannst|konnen) ~3(nicht|
  kaum) ~1atmen\b|\batmet ~2(nicht|kaum|schwer|komisch|flach|rasselnd|langsam|seltsam|unregelmassig)\b|\b(ringt|schnappt|
  japst) ~2luft\b|\b(verschluckt|erstick\w*)\b|\b(spray|inhalator|asthmaspray) ~3(hilft|wirkt) ~2(nicht|nichts)\b
2 \bbreathing ~3(fast|rapid\w*|weird|wierd|funny|strange|noisy|shallow|slow|heavy|raspy|irregular|odd)\b|\bgasping\b|
  \bswallowed ~2(coin|marble|toy|lego|bead|button|grape|sweet|candy)\b|\b((turning|going|gone|turned|getting|become|becoming|
  looks?) ~1(blue|purple|grey|gray|bluish|purplish|dusky)|(skin|fingertips|nails) ~3(blue|purple|grey|gray|bluish|purplish|dusky)|
  (lips|face|mouth) ~3(grey|gray|dusky))\b|\b(esta|se ve|se ha puesto|se pone|se esta poniendo) ~1(azul|azulad[oa]|amoratad[oa])\b|
  \b(est|devenu|devenue) ~1(tout |toute )?(bleu|bleue)\b|\b(pausas|paradas) (al|en la) respira\w*\b|\bgrunting\b|
  \bwhistling ~4breath\w*\b|\b((poniendo|pone|puso|puesto) ~1(azul|morado|morada)|labios ~2(grises|azules|morados|azulados))\b|
  \b((devient|deviennent|vire) ~1(bleu|bleue|bleus|violet|violette)|levres ~2(bleues|violettes))\b|\b((lauft|wird|werden) ~2blau|
  lippen ~3blau|blaue lippen)\b|\batemnot\b|\beinziehungen\b
1 \b(wheez\w*|short of breath|shortness of breath|breathless|asthma\w*|asma\w*|asthme|asthmati\w*)\b
2 \b([5-9]|\d\d|ten|twelve|several|many|lots of|diez|varios|dix|plusieurs|zehn|mehrere) (puffs|pufs|inhalaciones|bouffees|hube|hub|
  spruhstosse)\b|\bstill (struggling|wheezing|gasping)\b
2 \bpfeift ~2atm\w*\b|\bsilba ~2(al respirar|el pecho)\b|\bsiffle ~3respir\w*\b
""",
    "bleeding": r"""
3 $BLEED <4> $BLEED_MUCH
3 (towels?|bandages?|dressings?|cloths?|pads?|gauze|toallas?|vendas?|vendaje|gasas?|pansements?|serviettes?|compresses?|verband|
  handtuch|handtucher|tuch) <12> (red|soaked|soaking|drenched|full of blood|empap\w*|tremp\w*|imbib\w*|durchgeblutet|durchgeweicht|
  rot|rouge|rojo|roja)
3 $WOUND <5> (gushing|pouring|spurting|squirting|pumping|wont stop|will not stop|not stopping|soaking|everywhere|cant stop it|
  chorros|borbotones|no para|gicle\w*|jaillit|arrete pas|spritzt|sprudelt|hort nicht auf)
3 (after (giving )?birth|postpartum|after the (birth|delivery)|nach der geburt|apres l ?accouchement|despues del parto|
  tras el parto) <6> $BLEED
3 (pregnant|embarazada|enceinte|schwanger) <6> (bleeding|bleed|blood|sangrando|sangre|saign\w*|sang|blut|blutet|blutung|blutungen)
2 $BLEED <15> $BLEED_MUCH
2 $WOUND <4> $DEEP
3 \b(bleeding|bled|sangrando|saigne|blutet) ~2(for|desde hace|depuis|seit|lleva) ~2(\d+|an|a|half|over|more than|una|media|une|einer|
  zwanzig|dreissig|vingt|trente|veinte|treinta|ten|twenty|thirty|forty) ~2(minutes?|mins?|hours?|minutos|hora|horas|heures?|minuten|
  stunden?)\b|\b(soak\w*|drench\w*) ~5(blood|pads?|bandages?|towels?|tea towels?|cloths?|dressings?|t shirt|shirt|through)\b|
  \b(vomiting|throwing up|coughing up|coughing|puking|spitting up|spitting|vomited|threw up|coughed up|bringing up) ~5(blood|
  coffee grounds)\b|\bcoffee grounds\b|\b(stabbed|been shot|got shot|shot in the|gunshot|haemorrhaging|hemorrhaging)\b|\b(vomitando|
  vomita|vomito|tose|tosiendo|escupe|escupiendo|vomit\w*|crache|tousse|toussant) ~3(sangre|sang)\b|\b(erbricht|spuckt|hustet|kotzt|
  bricht|erbrechen) ~2blut\b|\b(niedergestochen|messerstich|angeschossen|schusswunde)\b|\b(apunalad[oa]|acuchillad[oa]|disparado|
  herida de bala|poignarde\w*|blesse par balle|coup de couteau)\b|\b(tengo|tiene) una hemorragia\b|\b(fait|a|fais) une hemorragie\b|
  \bs ?arrete (pas|plus) de saigner\b|\bno (para|deja|dejo) de (sangrar|salir sangre)\b|\bhort ~1nicht auf ~1zu bluten\b
2 \b(spurting|gushing|squirting|pumping out|pouring out|spurts)\b|\b$BLEED ~4(ear|ears|oido|oidos|oreja|oreille|oreilles|ohr|
  ohren)\b|\bstill (bleeding|pouring)\b|\b(puddle|pool) of (red|blood)\b|
  \bthrough ~2(bandages?|towels?|dressings?|cloths?|pads?)\b|\b(haemorrhage|hemorrhage)\b|\b(miscarr\w*|aborto|fausse couche|
  fehlgeburt)\b
""",
    "overdose_poisoning": r"""
3 \b(took|taken|swallowed|ate|eaten|downed|necked) ~2(the|a|my|his|her)? ?(whole|entire|full|hole) (pack|packet|box|bottle|blister|
  strip|tub|lot|pot|tube|jar)\b(?! of (chocolates?|wine|beer|vodka|sweets|biscuits|cookies|crisps|cereal|pizza|cake|candy|food|water|
  juice|milk))
2 \b(took|taken|had|given|gave) ~5$MEDS ~3(twice|double|two times|three times|by mistake|extra) <12> $UNWELL
2 \b(twice|double|two doses|doble|dos veces|deux fois|double dose|doppelte|doppelt|zweimal) ~4$MEDS ~12$UNWELL\b|\b$MEDS ~4(twice|
  double|doble|dos veces|deux fois|doppelt|zweimal) ~12$UNWELL\b
2 (\b$TAKE ~6$PLANTS\b|\b$PLANTS ~4$TAKE\b) <10> $UNWELL
2 (carbon monoxide|monoxido de carbono|monoxyde de carbone|kohlenmonoxid) <15> $UNWELL
3 $MEDS <12> (se ha tomado|se tomo|tomado|took|taken|ate|eaten|swallowed|pris|avale|genommen|geschluckt|gegessen|comido|
  tragado) ~2(varias|varios|some|several|a few|quelques|plusieurs|einige|ein paar|unas|algunas|unos|algunos)
2 \b(snorted|injected|smoked|took|taken|swallowed|ate|drank) something\b <10> (fits?|fitting|seizure|unconscious|not responding|
  wont wake|vomit\w*|drowsy|confused|hallucinat\w*|barely|collapsed)
1 $MEDS <6> (with|and|on top of|plus|con|avec|mit) ~3$ALCOHOL
3 \b(mixed|mixing|combined|mezclado|mezclo|mezclando|melange|gemischt) ~6$MEDS ~4(with|and|con|y|avec|et|mit|und) ~3$ALCOHOL\b
2 $MEDS <12> ((dont|do not|not sure|no idea) ~1how (many|much) ~3(took|taken|swallowed|ate|eaten|drank|had|were|was|
  missing|gone|left)|no (se|sabemos|sabe) cuant\w* ~3(tomo|tomado|trago|tragado|comio|comido|bebio|faltan|habia|quedan)|(sais|sait|
  savons) pas combien ~4(pris|avale|mange|bu|manque|reste|avait)|(weiss|wissen) ~1nicht ~1wie ?viele? ~4(genommen|geschluckt|gegessen|
  getrunken|genascht|fehlen|waren|drin))
3 \b$MEDS ~3$TAKE ~3(a|an|the|eine|einen|una|un|une|la|le)? ?(whole|entire|full|ganze|ganzen|entera|entero|
  toute|tout|complete) ~1(pack|packet|box|bottle|strip|blister|packung|schachtel|caja|frasco|bote|boite|plaquette|flacon|tube|lot)\b
3 \b$TAKE ~4$MUCH ~4$MEDS\b|\b$MUCH ~3$MEDS ~5$TAKE\b|\b$CHILD ~6(ate|swallowed|eaten|got into|drank|chewed|got hold of|tragado|trago|
  comido|comio|bebido|bebio|avale\w*|mange|bu|geschluckt|gegessen|getrunken) ~6($MEDS|mouthwash|colutorio|bain de bouche|
  mundwasser)\b|\b$CHILD ~6(found|got hold of|encontro|encontrado|trouve|pris) ~4$MEDS\b|\b$CHILD ~8$MEDS ~4(gefunden|erwischt|
  genascht|geschluckt|gegessen|getrunken)\b|\b(found|caught) ~4(with|playing with|next to|holding|chewing) ~6($MEDS|$CHEMICALS)\b|
  \b(got into|got hold of|got at|found) ~4(vape|e cig\w*|e liquid|nicotine|cigarettes)\b|\b(cap|lid|top) off ~4(bottle|packet|pot|tub|
  container)\b|\b(got into|got hold of|got at|raided) ~4(medicine|meds|pills|tablets|medication|medicine cabinet|medicine cupboard)\b|
  \b(empty|emptied|half empty|vacio|vacia|vide|leer\w*) ~3(bottle|packet|pack|box|blister|container|tub|jar|strip|tube|frasco|bote|
  caja|boite|flacon|plaquette|packung|schachtel|flasche|dose)s? ~3$MEDS\b|\b(swallowed|swallow|swallowing|ate|eaten|eating|drank|
  drunk|drinking|downed|chewed|sip|sips|sipped|mouthful|gulp|gulped|swig|tasted|machouill\w*|mordill\w*|lamido|lamio|mordido|mordio|
  gekaut|geleckt|gelutscht|mastique|chewing|bit|bitten|licked|licking|sucked|got into|inhaled|sniffed|taken|took|tomado|tome|tomo|
  tragado|trago|bebido|bebio|bebi|comido|comio|ingerido|ingirio|metio|chupado|avale|avalee|bu|mange|ingere|bois|boit|croque|mordu|
  leche|pris) ~5$CHEMICALS\b|\b($CHEMICALS|gift) ~4(geschluckt|getrunken|gegessen|angebissen|verschluckt|ausgetrunken)\b|\b(avale|bu|
  mange|croque) ~4(pile|piles|essence)\b|\b(overdosed|overdosing|overdose on|took an overdose|taken an overdose|oded)\b|\b(odd|oded|
  od) on ~2($MEDS|something|it)\b|\b(he|she|i|they|ive|hes|shes|has|just) od\b|\b(having|havin|think) ~3overdose\b|\b(carbon monoxide|
  co) (alarm|detector) ~3(going off|beeping|sounding|went off|ringing)\b|\b(been|was|got|being) poisoned\b|\bpoisoned (myself|himself|
  herself|themselves)\b|\b(tiene|tengo|esta teniendo) (una )?sobredosis\b|\b(fait|fais|faire) (une )?(overdose|surdose)\b|\b(hat|habe|
  hab) ~2uberdosis\b|\buberdosis ~2genommen\b
# Colloquial overdoses: "se ha pasado con la heroina", "overdid it on the xanax", "a abuse des cachets", "zu viel G genommen".
3 \b(se ha pasado|se paso|se han pasado|me he pasado|me pase|se le ha ido la mano|se le fue la mano|se ha excedido|
  se excedio) ~1con ~3$MEDS\b|\b(overdid|overdone|overdoing|went overboard|gone overboard) ~3$MEDS\b|\b(did|done|had|used|took|taken|
  snorted|injected|smoked) (way |far )?too (much|many) ~3$MEDS\b|\b(a|ai|as|ont) (trop )?abuse (de|des|du) ~2$MEDS\b|\b(a|ai|as|
  ont) ~1trop (pris|avale|consomme) ~2$MEDS\b|\b(zu ?viel|zuviel|too much|demasiado|trop de) (g|ghb|gbl)\b
2 \b(injected|snorted|shot up|smoked|used) ~1(too much|way too much)\b|\b(zu ?viel|zuviel) ~3(genommen|geschluckt|gespritzt|gezogen|
  eingeworfen|konsumiert)\b|\b(a|ai|as|ont) ~1trop (pris|consomme|avale)\b|\b(took|taken) (way )?too (much|many)\b(?! time)|\b(bitten|
  bit) by a (snake|rattlesnake|adder|viper)\b
""",
    "allergic_reaction": r"""
3 $BODY <3> $SWELL
3 $THROAT <3> $CLOSING
3 $TRIGGER <10> $CANT_BREATHE
3 (hals|kehle|rachen) <6> (eng|enger|enge|zugeschnurt|zugeschwollen|schnurt\w*)
3 $TRIGGER <12> (du mal a avaler|cuesta tragar|hard to swallow|cant swallow|struggling to swallow|trouble swallowing|kaum schlucken|
  schwer schlucken|kann nicht schlucken)
2 $BODY <12> $SWELL
2 $TRIGGER <8> wheez\w*
2 (hives|rash|welts|blotch\w*|ronchas|urticaria|manchas|urticaire|plaques|quaddeln|nesselsucht|ausschlag|rote flecken) <10> (dizzy|
  faint|breath\w*|wheez\w*|swell\w*|atm\w*|throat|tongue|vomit\w*|collaps\w*|floppy|limp|respir\w*|atem\w*|luft|garganta|gorge|
  hals|avaler|swallow\w*|tragar|schlucken|vomita\w*|vomi\w*|erbrech\w*|bricht)
3 \b(having|havin|going into|in|is in|think|like|into) (an? )?(anaphyla\w*|allergic reaction|anaphylactic shock)\b|
  \banaphyla\w* ~4(again|now|happening)\b|\b(hals|kehle|rachen) ~2(wird|ist|geht) ~1zu\b|\b(hals|kehle|rachen) (ganz |total |
  komplett )?zu\b|\bschnurt\w* ~2(zu|hals|kehle)\b|\beyes? ~3swell\w* shut\b|\b((he|ha|hemos|han) (puesto|pinchado|inyectado|usado|
  administrado)|le puse|le pinche) ~3(epipen|adrenalina|autoinyector)\b|\b(ai|a|avons|ont) ~1(fait|donne|utilise|injecte|
  pique) ~4(epipen|adrenaline|stylo|anapen|jext)\b|\b(epipen|adrenalin\w*|notfallpen|anapen|jext|pen) ~3(gegeben|gespritzt|benutzt|
  verabreicht|gesetzt)\b|\b(used|gave|given|injected|jabbed|administered|had to use) ~3(epipen|epi pen|auto injector|autoinjector|
  adrenaline pen|epinephrine|jext|anapen)\b|\b(teniendo|tiene|tengo|le da|le esta dando) (una )?(reaccion alergica|anafilaxia|
  shock anafilactico|choque anafilactico)\b|\b(fait|fais|en train de faire|est en) (un |une )?(choc anaphylactique|
  reaction allergique|oedeme de quincke|anaphylaxie)\b|\b(hat|habe|hab) ~2(einen )?(anaphylakt\w*|allergischen schock|
  allergische reaktion)\b
1 \b$TRIGGER\b|\bvoice ~3(funny|hoarse|weird|strange|croaky)\b
""",
    "unconscious_seizure": r"""
# Cannot be woken, does not respond or answer, eyes will not open: en, es, fr, de.
3 (?<!\bmy )(?<!\bi )\beyes (are |still |just )?(wont|will not|dont|do not|arent|are not|not|cant|cannot|can not|doesnt|
  still not) (open|opening|stay open)\b|\b(wont|will not|doesnt|does not|isnt|is not|not|cant|cannot|can not|hasnt|
  refuses to) ~1(open|opening|opened) (his|her|their|its) eyes\b|\b(cant|cannot|can not|couldnt|unable to|trying to|tried to|
  cant seem to|struggling to) get ~3to (wake|respond|react|open|come round|come to|answer (me|us|at all)|talk to (me|us)|look at (me|
  us))\b(?! (up )?(for|in time|on time|early|in the morning))|\b(cant|couldnt|cannot) get (a|any) (response|reaction|answer) (out of|
  from)\b|\bno (response|reaction) (at all |whatsoever )?(when|from (him|her|them))\b|\bno (response|reaction) ?(at all|whatsoever)?$|
  \b(un|not|isnt|barely|hardly) ?(rousable|arousable|rouseable)\b|\b(no|ni) ~2(abre|abria|abrio|abrir) (los|sus) ojos\b|\bno (me |le |
  nos |te )?(contesta|contesto)\b(?! ~3(pregunt\w*|sobre|telefono|movil|mensajes?|llamadas?|whatsapp|correos?))|\bno (hay|encuentro|
  encontramos) (manera|forma|modo) de despertarl\w*\b|\b(no consigo|no puedo|no logro|no conseguimos|no podemos) ~1que ~2(responda|
  conteste|despierte|reaccione|abra)\b|\bouvre ~1(pas|plus|meme pas) (les|ses) yeux\b|\bimpossible de (le|la|les) (reveiller|
  faire reagir)\b|\baucune reaction ?(quand|lorsque|$)|\b(macht|offnet|kriegt|bekommt) (die|seine|ihre) augen ~2(nicht|kaum)\b|
  \baugen bleiben ~1(zu|geschlossen)\b|\b(nicht|kaum) ~1wach zu (kriegen|bekommen)\b|\blasst sich ~2nicht ~1(wecken|aufwecken)\b|
  \bkeine reaktion (mehr )?(wenn|als|auf (ansprache|schmerz\w*|rutteln|ansprechen))\b|\bkeine reaktion( mehr)?$|\b(krieg|kriege|
  kriegen|bekomme|bekommen) ~3nicht ~1(mehr )?wach\b
2 \b(cant|can not|cannot|struggling to) keep (his|her|their) eyes open\b
1 \bhad (a |another )?(seizure|fit)\b
3 (jerking|twitching|spasming|thrashing|stiff|convulsing) <4> (all over|uncontrollably|whole body|jerking|twitching|rolled|foam\w*|
  floor|ground|suelo|sol|boden|arms and legs|unresponsive|not responding|wont respond|doesnt respond)
1 (shaking|trembling) <3> (all over|uncontrollably|whole body)
3 \b(unconscious|unresponsive|out cold|not conscious|lost consciousness|knocked out|barely conscious|semi conscious|
  in and out of consciousness|drifting in and out|slipping in and out)\b|\b(not|isnt|is not|wont|will not|doesnt|does not|still not|
  hasnt|has not|stopped|no longer|arent|barely|hardly|not really) ~2$RESPOND\b|\b(not|isnt|wont|doesnt|stopped) ~1(answering|
  answer) ~1(me|us|anyone|questions|to)\b(?! ~3(about|texts?|calls?|messages?|phone|emails?|door))|\b(not|isnt|wont|doesnt|
  stopped) ~1(answering|answer|responding|respond) ~2when (i|we|you) ~1(call|shout|shake|talk|speak|say|pinch|tap|yell|try|rub|nudge)|
  \b(cant|cannot|can not|unable to|couldnt|trying to|tried to) ~2(wake|rouse|waken) ~1(him|her|them|my|up my|baby|mum|mom|dad|
  \w+ up)\b|\b(hard|difficult|impossible) to (wake|rouse)\b|\b(barely|hardly|not|cant stay|cant keep \w+) (awake|conscious|
  rousable)\b|\bkeeps (passing|blacking|zoning) out\b|\b(went|gone|going|is|hes|shes|looks|seems|all|very) ~1(limp|floppy)\b|
  \beyes ~2(rolled|rolling) ~1back\b|\beyes (are |were |keep |kept |started |start )(rolling|rolled)\b|$SEIZURE|\b(having|just had|
  in) (a |another )?(seizure|fit|fits)\b|\bfoaming at the mouth\b|\b(in|is in|having|gone into) cardiac arrest\b|\b(no pulse|
  doing cpr|started cpr|giving cpr|doing chest compressions)\b|\binconsciente\b|\bno (me |le |nos |te )?(responde|reacciona|
  se despierta|despierta|se mueve)\b|\bno (consigo|puedo|podemos) despertarl\w*\b|\b(ne )?reprend (pas|plus) connaissance\b|
  \bno (recupera|recobra) ~1conocimiento\b|\bno vuelve en si\b|\bkommt ~2nicht ~1(mehr )?zu sich\b|\b(kriege|krieg|bekomme) (ihn|sie|
  es) ~1nicht ~1wach\b|\bno para de (temblar|convulsionar|sacudirse|temblar)\b|\b(convulsion\w*|convulsiona\w*|crisis epileptica|
  ataque epileptico|temblando (entero|todo)|sacudidas)\b|\binconscient\w*\b|\b(ne )?(me )?(repond|reagit|bouge|se reveille|reveille|
  regarde) ~1(plus|pas)\b(?! ~2(a|au|aux) ~2(messages?|telephone|appels?|sms|mails?|textos?))|\btremble de (partout|tout son corps)\b|
  \b(arrive|peux) (pas|plus) a (la|le) reveiller\b|\b(convulse\w*|crise (d ?epilepsie|convulsive)|en train de convulser|
  fait des convulsions)\b|\b(bewusstlos|nicht ansprechbar|reagiert ~2(nicht|kaum)|bewegt sich ~2nicht|wacht ~3nicht ~1auf|
  wird nicht wach|kaum noch wach|nicht mehr wach)\b|\bantwortet ~2nicht\b(?! ~2(auf|am|ans) ~2(nachrichten|nachricht|telefon|handy|
  anrufe|sms|mails?))|\b(krampft|krampfen|krampfanfall|zuckt am ganzen korper|epileptischen anfall|einen anfall)\b|
  \b(in cardiac arrest|fait|fais|en) (un )?arret cardiaque\b
# A blow to the head, then drowsy, vomiting or confused: en, es, fr, de.
2 $HEAD_HIT <12> (sleepy|drowsy|vomit\w*|throwing up|being sick|confused|wont wake|fitting|seizure|dormid\w*|adormilad\w*|
  somnolient\w*|vomita\w*|confundid\w*|endormi\w*|vomi\w*|confus\w*|schlafrig|benommen|erbricht|erbrechen|verwirrt|kotzt)
2 \b(not|isnt|stopped|wont|doesnt|arent) ~1moving\b|\blying ~4(not moving|still)\b|\b(collapsed|collapsing|passed out|passing out|
  fainted|fainting|blacked out|keeled over|slumped|fell unconscious|hit the floor)\b|\b(se ha desmayado|se desmayo|desmayad[oa]|
  se ha desplomado|se desplomo|se cayo redondo|perdio el conocimiento|ha perdido el conocimiento|sin conocimiento)\b|\b(effondre\w*|
  evanoui\w*|perdu connaissance|sans connaissance|tombe\w* dans les pommes)\b|\b(ohnmachtig|umgekippt|umgefallen|zusammengebrochen|
  kollabiert|zusammengesackt)\b
""",
    "suicide_self_harm": r"""
1 \b(suicid\w*|suizid\w*|selbstmord\w*)\b|\bj ?en peux plus\b|\bich kann nicht mehr\b
3 \b(me|te) suicid\w*\b
3 \b(cut|cutting|slashed|sliced|slit) (my|his|her) (arms?|wrists?|legs?|thighs?) ~3(deep|deeply|badly|open)\b
3 \b(vais|va|vas|voy a|va a|vas a|werde|will|wird) ~1(avaler|prendre|tomar|tomarme|tragar|tragarme|nehmen|schlucken) ~2(toutes|tous|
  todas|todos|alle) ~3$MEDS
3 \b(ledge|roof|bridge|balcony|cliff|rooftop|railway|tracks|edge|puente|azotea|tejado|balcon|toit|pont|brucke|dach|gleis\w*|
  hochhaus)\b <8> (jump|jumping|die|end it|tirarme|tirarse|saltar|sauter|springen|springe|springt)
3 $MEANS <4> (ready|tied|set up|prepared|in (my|his|her) hand)
3 (rope|noose|seil|strick|cuerda|soga|corde) <8> (end it|die|schluss|sterben|acabar|morir|en finir|
  mourir)
3 \b(esta noche|hoy|ahora|ya) me (mato|suicido|tiro|quito la vida)\b|\bme (mato|suicido) (esta noche|hoy|ya|ahora)\b|\bje me (tue|
  suicide|pends|jette) ce soir\b|\bce soir je me (tue|suicide|pends|jette)\b
2 \b(will|werde|mochte|wollte) (heute |jetzt |einfach |endlich )*schluss machen\b(?! mit)
3 (goodbye|goodbyes|despedido|despedida|adieu|adieux|abschied\w*|verabschiedet) <4> (everyone|everybody|family|familia|famille|todos|
  tout le monde|allen|notes?|letters?|lettres?|brief|briefe|nachrichte?n?|texted|messaged|wrote|written|posted|voicemail|forever|
  messages?|mensajes?|sent|cartas?|escrito|escribi|ecrit|geschrieben)
3 \b(finish|end) (it|things|everything)( all)?\b <6> (tonight|now|today)
# Means laid out with a plan for tonight or a farewell ("meds lined up ... going to take them tonight, i'm done").
3 (lined up|counted out|laid out|set out|saved up|stockpiled|hoarded|en fila|alineadas|guardadas|alignes|de cote|aufgereiht|
  zurechtgelegt|liegen (schon )?bereit) <15> (tonight|im done|i am done|goodbye|take them|swallow them|do it|end it|esta noche|
  ya esta|me las tomo|tomarmelas|ce soir|c est fini|je les prends|les prendre|heute nacht|heute abend|nehme ich|ich bin fertig)
3 \b(take|swallow|taking|swallowing) (them|it all|all of them|the lot|everything) ~2(tonight|today|now|rn)\b <10> (im done|
  i am done|goodbye|cant do this|no more|end it|had enough)
3 \b(esta noche|ce soir|heute nacht|heute abend|tonight) ~3(tomo|trago|prends|avale|nehme|schlucke|take|swallow|taking|
  swallowing) ~2(todas|todos|toutes|tous|alle|all|every|everything)\b|\b(im|i am) (taking|swallowing) (every|the whole|a whole|
  everything) ~3$MEDS\b
3 (goodbye|goodbyes|despedido|despidio|adieu|adieux|verabschiedet|abschied\w*) <10> $MEANS
3 \b(pour|para|um) (mourir|morir|morirme|en finir|zu sterben|mich umzubringen|me tuer|matarme|no despertar)\b|\b(so|so that|
  in order) (i|he|she) (can|could|would|will|wont|dont) (die|not wake up|never wake up)\b|\b(want\w*|wanna|wish|going|
  hope) (to )?(go to sleep and )?(never|not) wake up\b|\b(wanted|was trying|tried|meant|attempted|trying) to (die|end it|end my life|
  kill myself|not wake up)\b|\b(queria|intente|intento|quise|quiso) ~1(morir|morirme|matarme|suicidarme|acabar con todo|
  quitarme la vida)\b|\b(voulais|voulait|j ai voulu|a voulu|ai essaye de|a essaye de) ~1(en finir|mourir|me tuer|me suicider|se tuer|
  se suicider)\b|\b(wollte|versucht) ~2(sterben|mich umbringen|sich umbringen|nicht mehr leben|mich toten)\b|\b(cut|cutting|cuts|
  slashed) ~10(deeper|more|worse|further|harder) than (i|he|she) (meant|wanted|intended|planned)\b|\b(wrote|written|writing|
  left) ~2(goodbye|suicide|farewell|last) (notes?|letters?|messages?)\b
1 \b(im|i am) (so )?(done|finished)( with (it all|everything|life|all of this))?$|\b(im|i am) (so )?done( with (it all|everything|
  life|all of this))?\b(?! (with|now|for|in|at|eating|talking|reading|work|today))|\b(on purpose|deliberately|intentionally|
  a proposito|adrede|expres|volontairement|absichtlich|mit absicht)\b
1 (pills|tablets|meds|knife|pastillas|cuchillo|cachets|medicaments|tabletten|messer) <4> (lined up|ready|prepared|counted out|
  saved up|stockpiled|preparadas|listas|prepare\w*|liegen schon|bereit|in front of me|delante de mi|devant moi|vor mir)
2 \b(sehe|seh) ~2keinen sinn mehr\b(?! (in|im|bei|mit|an) )|\b(ya )?no (le )?veo (el )?sentido (a|de) (vivir|seguir|nada)\b|
  \bne vois plus (l interet|le sens|aucun sens) (de|a) (vivre|continuer)\b
3 \b(kill|kil|killing|kiling) (myself|my self|himself|herself|themselves|themself)\b|\b(end|ending|take|taking|took) (my|his|her|
  their) (own )?life\b|\b(end it all|off myself|unalive myself)\b|\b(going to|gonna|want to|wanna|plan to|planning to|about to|
  decided to|will|ready to) ~2(end it|end everything|end things|end my life|do it tonight|not be here)\b(?! with)|
  (?<!dont )(?<!do not )\b(want\w*|wanna|going|gonna|plan|planning|about|ready|trying|try|wish) (to )?(die|be dead|not be here|
  not wake up|not exist)\b|\bwish (i|he|she) (was|were) dead\b|\b(dont|do not|doesnt|does not) ~1(really )?(want|
  wanna) (to )?(be alive|live|exist|be here|wake up|go on|be around)\b|\b(commit|committing|considering|contemplating|attempt|
  attempting) suicide\b|\b(cut|cutting|slit|slitting|slashed|slashing|stab|stabbing) (my|his|her) (wrists?|veins)\b|\b(cut|cutting|
  cuting|slit|slitting|slashed|slashing|harm|harming|burn|burning|burnt|burned|hurt|hurting|stabbed) (myself|himself|herself|
  themselves)\b|\bself harm\w*\b|\b(cut|cutting|harmed|self harmed|burned|burnt) (myself )?again\b|\b(going|gonna|about) to (jump|
  hang|shoot|overdose|end it)\b|\bhang(ing)? (myself|himself|herself|themselves)\b|\bsaid ~1goodbyes\b|\bletters? to (everyone|
  everybody|my family|all)\b|\b(nobody|no one|noone) (will|would|is going to) (miss|care|notice)\b|\bbetter off (without me|if i (was|
  were) (gone|dead)|dead)\b|\blast (night|day) (anyone|anybody|i am alive)\b|\bdone with (everything|life|it all|living)\b|
  \bno (reason|point) (to|in|of) (live|living|going on)\b|\b(dont|cant) see the point ~2(anymore|in living|of living|any more)\b|
  \bwant (it|it all|everything|this) to (end|stop|be over)\b|\bengine running ~4(garage|closed)\b|\b(hosepipe|hose) ~4exhaust\b|
  \b(going to|gonna|about to) take (them|it|they) all\b|\bplus envie de vivre\b|\b(se|me|te) jeter (du|d ?un|par la|sous) ~2(pont|
  toit|fenetre|train|immeuble)\b|\b(going to|gonna|want to|wanna|about to) (cut|hurt|harm|burn) (myself|deep|again)\b|
  \bdesaparecer para siempre\b|\b(coupe\w*|ouvert) (les|mes|ses) (poignets|veines)\b|\b(sich|mich|dich) ~3(umbringen|toten|
  das leben nehmen)\b|\b(going to|gonna|about to|want to|plan to|will|says ~2going to) (take|swallow) (all|every|the whole|
  a whole) ~3$MEDS\b|\b(quiero|voy a|pienso|quiere|va a|vas a) ~1(matarme|suicidarme|morir|morirme|quitarme la vida|matar|suicidar|
  matarse|suicidarse|quitarse la vida|tirarme|tirarse)\b|\b(voy|va|vas) a (quitar ~1la vida|matar|suicidar|tirar)\b|
  \bacabar con (mi vida|todo)\b|\bganas de (morir|morirme|matarme|suicidarme|desaparecer)\b|\bno quiero (vivir|seguir viviendo|seguir|
  estar vivo|estar viva|despertar)\b|\b(quitarme|quitarse) la vida\b|\bcortes ~3(profundos|brazos|munecas|piernas)\b|\bcortar\w* (las|
  mis|sus) (venas|munecas)\b|\b(se|me) ha\w* hecho cortes\b|\b(me acabo de cortar|me he cortado|me corte|me estoy cortando|
  se ha cortado|se corto) ~2(munecas?|venas|brazos?)\b|\b(envie de|veux|veu|ve|vais|va|voudrais|veut) ~1(me suicider|mourir|en finir|
  me tuer|me foutre en l ?air|se suicider|se tuer|me pendre|sauter)\b(?! (le|la|les|un|une|des|du) )|\b\w*(veux|veut|veu) (plus|
  pas) vivre\b|\b(scarifi\w*|me couper les veines|ouvert les veines)\b|\bfin a (mes|ses) jours\b|\b(mettre|mets|met|
  mettrai) fin a (ma|sa) vie\b|\b(sauter|me jeter) (du|d ?un|par la|sous) ~2(pont|toit|fenetre|train|immeuble)\b|\b(will|werde|mochte|
  wollte) ~3(umbringen|toten|das leben nehmen|sterben|nicht mehr leben|erhangen|aufhangen)\b|\b(bringt sich|bring mich|
  bringe mich) ~3um\b|\b(springe|springen) ~2(gleich|jetzt|runter)\b|\b(stehe|stehen|bin) auf ~2(brucke|dach|gleis|gleisen|
  hochhaus)\b|\bnicht mehr leben\b|\b(ritze|ritzen|geritzt|ritzte|pulsadern)\b|\bhalte es nicht mehr aus\b|\b(arme?|handgelenke?|
  pulsadern) ~2aufgeschnitten\b|\b(schneide|schneidet) (mich|sich)\b|\b(meinem leben ein ende|mein leben beenden|allem ein ende)\b
2 \bsuicidal\b|\b(thinking|think|thought|thoughts) (about|of) (suicide|killing|ending|dying)\b|\bbeen cutting\b|\b(se acaba todo|
  se termina todo|tout se termine|tout sera fini|alles endet|mache ich schluss)\b|\bich (will|kann) (einfach )?nicht mehr\b(?! (essen|
  schlafen|arbeiten|laufen|gehen|atmen|sprechen|sehen|horen|so))|\btonight is the night\b|\bstockpil\w*|\b(ya )?tengo todo (listo|
  preparado)\b|\b(tout est pret|alles vorbereitet)\b|\b(going to|gonna) do it (tonight|now|today)\b|\btonight (im|i am|
  i will) (going to|gonna) do it\b|\b(cant go on|cant keep going|cant carry on|cant (do|take) (this|it) ~1(anymore|any more)|
  given away ~2(my|all))\b|\bya no (aguanto|puedo) mas\b|\b(cortarme|autolesion\w*)\b|\b(suizidal\w*|suizidgedanken|
  selbstmordgedanken|lebensmude)\b
1 \bsuicide\b|\b(cut|cutting|cuting|slit|slitting|slashed|slashing) (my|his|her) (arms?|legs?|thighs?)\b
""",
}

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
    "chest_pain": r"\b((?<!like )heartburn|reflux|pulled (a )?muscle|costochondritis|chestinfection|coughing|cough)\b",
}

# Framing cues (medassist.emergency decides with them whether a sign is happening now): "NAME pattern", matched on
# the flattened window; lines starting with "#" are comments.
FRAMING = r"""
EXAM \b(quiz|exam|exams|test question|practice question|sample question|case study|case vignette|vignette|mcq|osce|usmle|nclex|
  homework|assignment|revision|revising|studying|student|textbook|lecture|flashcards?|essay|dissertation|thesis|presentation|seminar|
  research (paper|project)|school project|project (on|about)|(first aid|cpr|nursing|medical|paramedic) (course|class|training|school|
  exam)|they (said|told us|taught us)|we (learned|learnt|were taught)|examen|caso clinico|cas clinique|partiel|prufung\w*|klausur|
  fallbeispiel|fallstudie|ejercicio|exercice|ubungsfrage|estudiante|etudiant\w*|trabajo (sobre|de clase)|expose|referat)\b
FICTION \b(novel|fiction|film|movie|tv show|series|episode|script|screenplay|character|writing a (book|story|novel|scene)|video game|
  novela|pelicula|personaje|roman|personnage|drehbuch|romanfigur)\b
HYPOTHETICAL \bwhat (do|should|can|shall) (i|we|you|one) do when\b|\bwhat to do (when|if)\b|\b(when|whenever) (my|our|his|her|
  your) (\w+ ){1,2}(has|have|gets|get|starts|goes into|is having|chokes|collapses|faints)\b|\bcuando (a )?(mi|su|tu) \w+ (tiene|le da|
  le dan|sufre)\b|\bquand (mon|ma|mes|son|sa|notre) \w+ (a|fait|fera|aura|fait une)\b|\b(what are|whats) the (\w+ )?(signs|
  symptoms)\b|\bhow (do|can|would|should|will) (i|you|we|one) (know|tell|recognise|recognize|spot|notice)\b|\bhow to (know|tell|
  recognise|recognize|spot)\b|\bcomo (saber|se si|reconocer)\b|\bcomment (savoir|reconnaitre)\b|\b(woran|wie) erkenn\w*|(^|
   )(?<!as )(?<!even )(?<!sorry )(?<!sure )(?<!know )(?<!serious )(?<!normal )(?<!schlimm )(if|falls|wenn)(?<!wie wenn) |
  (?<!como )(?<!comme )(?<!no se )(?<!sais pas )(?<!desole )(?<!perdon )(?<!grave )(?<!normal )\bsi (alguien|alguna|algun|a|al|de|mi|
  mis|un|una|uno|el|la|los|las|tu|se|me|le|te|tengo|tiene|hay|quelqu|quelquun|on|je|j|il|elle|ils|elles|mon|ma|mes|ton|ta|jamais|vous|
  nous)\b|\bin case\b|\bwhat would\b|\bhow would\b|\bwhat if\b|\bhypothetical\w*\b|\bwhat (do|should) (you|someone|one) do when\b|
  \bimagine\b|\bsuppose\b|\blets say\b|\bwhy would\b|\bpor si\b|\ben caso de\b|\ben cas de\b|\bsi jamais\b|\bau cas ou\b|
  \bwas passiert\b|\bwould (happen|you|i|one)\b|\bwhen (someone|somebody|a person|a child)\b|\bcuando (alguien|una persona|un nino)\b|
  \bquand (quelqu un|quelquun|une personne|on)\b|\bwenn (jemand|man)\b
# Explicitly happening now, or a call for help.
EXPLICIT \b(right now|rn|right this (minute|second)|as we speak|at the moment|happening (again|now)|again now|just now|this (minute|
  second|moment)|please help|help (me|us)(?! (understand|with|study|write|learn|revise|find|choose|figure|explain|prepare|plan|
  decide))|someone help|helpp+|(this is|its) an emergency|ayuda|ayudame|socorro|ahora mismo|en este momento|aidez moi|aide moi|
  au secours|en ce moment|hilfe|jetzt gerade|sofort|dringend|(i|we|ive|weve|im|were) (have )?(called|am calling|are calling|phoned|
  calling|rang) (an ambulance|911|999|112)|ambulance is (on its way|coming)|waiting for (the |an )?ambulance)\b|^help\b|
  \bhelp (please|pls|now|asap|quick|quickly)\b|\b(i|we) need help\b
RIGHT_NOW \b(right now|rn|at the moment|as we speak|happening (again|now)|again now|just now|this (minute|second)|(but|
  and) now(?! (\w+ ){0,2}(fine|ok|okay|better|well|good|normal|recover\w*)))\b
PREVENT \b(stop|prevent|avoid|keep) (it|this|that|them|him|her)? ?(from )?(happening|getting|coming|starting) ~1again\b
# Still going on: what ended was something else ("the fit stopped but he is still not waking up").
ONGOING \bstill (not|isnt|hasnt|wont|cant|doesnt|unconscious|unresponsive|bleeding|fitting|seizing|blue|having|pouring)\b|
  \bkeeps (bleeding|pouring|coming|soaking|getting worse)\b|\b(wont|isnt|is not|not) stopping\b|\bgetting worse\b
# Asking what to do: urgent unless the rest says the event is over or long past.
WHAT_TO_DO \b(what (do|should|can|shall) (i|we) do(?! if)|what now|emergency|urgent|que hago|que hacemos|que (debo|
  puedo) hacer(?! si)|qu ?est ce que je fais|que faire|que dois je faire|was soll ich (tun|machen)|was sollen wir (tun|machen)|
  was tun)\b
# Started minutes or hours ago, or tonight.
RECENT \b((\d+|a|an|one|two|three|four|five|six|ten|fifteen|twenty|thirty|forty|a few|few|couple of|several) (minutes?|mins?|hours?|
  hrs?|seconds?) ago|half an hour ago|tonight|ce soir|esta noche|heute nacht|heute abend|hace (un rato|unos minutos|\d+ minutos|
  una hora|media hora|dos horas|\w+ minutos)|il y a (\d+|une|deux|dix|vingt|trente|quelques) (minutes?|heures?)|vor (\d+|einer|zwei|
  zehn|zwanzig|dreissig|einigen|ein paar) (minuten|stunden?))\b
# Ongoing or just started: enough to outweigh a mention of the past ("had a stroke in 2015, now ...").
NOW \b(now (my|his|her|he|she|i|im|its|it|they|their|we|the|hes|shes|theyre|theres|there)|just (\w+ed|took|ate|drank|swallowed|fell|
  cut|had|got|been|began|started|now|happened)|currently|suddenly|all of a sudden|(happening|started|starting|is|are|its|having|has|
  doing) ~2again|today|this morning|this afternoon|this evening|since yesterday|since last night|since this morning|this (is|
  time) ~2worst|(for the (last|past)|been ~3for) (\d+|a|an|one|two|three|five|ten|fifteen|twenty|thirty|forty|a few|few|several|over|
  more than|almost|about) ?(\w+ )?(minutes?|mins?|hours?|hrs?)|half an hour|ahora (mi|su|el|ella|tiene|no|esta|me|le|se)|de repente|
  acaba de|acabo de|hoy|esta manana|desde hace (\d+|unos|veinte|treinta|diez|media) ~1(minutos|hora|horas)|maintenant (il|elle|je|j|
  mon|ma|son|sa|ses|on|c|ca)|vient de|viens de|tout a coup|soudain|aujourd ?hui|ce matin|depuis hier|depuis (\d+|une|deux|dix|vingt|
  trente|quelques|plusieurs) (minutes?|heures?)|jetzt (hat|ist|kann|mein|meine|sein|seine|ihr|ihre|er|sie|ich|bekommt|krieg\w*)|
  gerade|plotzlich|auf einmal|heute|seit gestern|seit (\d+|einer|zwei|zehn|zwanzig|dreissig|einigen|ein paar|uber) ~1(minuten|
  stunden?)|(going|gone|lasting|lasted|been going|carrying|carried) ~1(on )?for (ages|so long|too long|a long time|forever)|
  (fitting|seizing|shaking|jerking|convulsing|twitching|bleeding|choking|gasping) (for ages|for so long|forever|non ?stop)|
  lleva (un buen rato|mucho rato|un rato|rato)|dura (ya )?(mucho|un buen rato|demasiado)|ca dure depuis|dure depuis|
  hort ~2nicht ~1auf|dauert (schon|jetzt schon)|seit einer ewigkeit|schon ewig)\b
RESOLVED \b(went away|gone away|went down|gone down|(it|they|that|symptoms|swelling|bleeding|pain|rash|hives) (has|have) gone|
  its gone|gone now|is over|its over|over now|(it|its|they|that|he|she|symptoms|swelling|bleeding|pain|rash|hives|seizure|fit) (has |
  have )?(stopped|settled|passed|cleared|resolved|disappeared|eased|subsided)(?! (breathing|responding|moving|talking|making|reacting|
  answering|waking|blinking|crying))|but (stopped|quit)|stopped (on its own|by itself|after)|recovered|recovering|recovery|has healed|
  have healed|healed|back to normal|fine now|ok now|okay now|better now|(was|were|felt) fine (after|afterwards|since|again)|
  seems fine|seemed fine|doing (well|fine|ok|okay|better)|turned out|it was nothing|nothing serious|nothing (was )?wrong|all clear|
  came round|came to|woke up (after|again|a)|coughed it (out|up)|spat it out|sent (me|him|her|us) home|discharged|(was|were|came back|
  all|looked|results?) normal|tests? (were|was|came back) (fine|clear)|salio normal|etait normal|war normal|they said it was|(doctor|
  gp|doctors|hospital) said it was|diagnosed (it )?as|havent (had|since|for)|since then|ever since|never came back|got over|
  se me quitaron|(lo|la) (ha )?escupido|lo escupio|(y|pero) (ya )?esta bien|l a recrache|recrache\w*|tout va bien|ausgespuckt|(ist|
  war) (wieder )?raus|se (le )?(quito|paso|pasaron)(?! con)|(ya|ahora) (esta|estoy|estan) bien|se recupero|salio normal|lo supere|
  ya paso|recupere|c ?est passe|ca (est )?passe|c ?est fini|allait bien|va (bien|mieux) maintenant|recupere bien|s ?est remis|gueri|
  es war nur|ist wieder gut|wieder (gut|normal)|geht (es )?(ihm|ihr|mir) (wieder )?gut|erholt|vorbei|seit jahren nicht mehr|(got|had|
  needed|given|gave me|put in) ~2(stitches|staples|steri strips|a stitch)|(stitched|glued|patched|sewn) (up|it|me|him|her|shut)|(was|
  were|got|been) (treated|stitched|glued|checked|checked out|patched up|operated on)|(doctor|doctors|gp|nurse|dentist|a and e|
  urgent care|walk in|consultant|specialist) ~1(said|told|checked|gave|stitched|cleaned|sent|confirmed|thought)|me (dieron|pusieron|
  cosieron|hicieron) ~2puntos|puntos de sutura|(me|le|la|lo) (atendieron|curaron|cosieron|operaron|trataron)|el (medico|doctor|medica|
  doctora) (dijo|me dijo)|(on m a|on lui a|ils m ont|ils lui ont) ~2(fait des points|recousu|suture|soigne|traite|opere)|
  points de suture|le (medecin|docteur) (a dit|m a dit)|(wurde|wurden|bin|ist) ~2(genaht|behandelt|versorgt|geklebt|operiert)|(arzt|
  arztin|doktor) ~1(meinte|sagte|hat gesagt)|mit (\d+|zwei|drei|vier|funf) stichen)\b
PAST \b(last (week|month|year|summer|winter|spring|autumn|fall|christmas|weekend|time|night)|yesterday|anoche|la nuit derniere|
  letzte nacht|the other day|(\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|several|many|
  few|a few|couple of|some) (days|day|weeks|week|months|month|years|year|decades) ago|years ago|(19|20)\d\d|in the (19|20)?\d0s|
  in the (eighties|nineties|seventies|sixties)|as an? (child|kid|teenager|teen|baby|toddler|student|adolescent)|when i was|
  since i was|when (he|she) was (a |little|young|\d)|back in|used to|in the past|childhood|growing up|at school|in my (teens|twenties|
  youth)|el (mes|ano|verano|invierno|otono|fin de semana) pasado|la semana pasada|ayer|hace (anos|tiempo|mucho)|hace (\d+|un|una|dos|
  tres|cuatro|cinco|diez|unos|unas|muchos|varios) (anos|ano|meses|mes|semanas|semana|dias|decadas)|de (pequeno|pequena|nino|nina|
  joven|adolescente)|cuando era|en los (anos )?(80|90|70|ochenta|noventa)|(mois|annee|semaine|ete|hiver|printemps|automne) (dernier|
  derniere)|l ?an dernier|in (january|february|march|april|may|june|july|august|september|october|november|december)|en (enero|
  febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|janvier|fevrier|mars|avril|mai|juin|juillet|aout|
  septembre|octobre|novembre|decembre)|im (januar|februar|marz|april|mai|juni|juli|august|september|oktober|november|dezember)|
  died (by|of|from|in|after|when|last|years)|passed away|murio|fallecio|se suicido|s est suicide|est mort|est decede|ist gestorben|
  starb|hat sich umgebracht|with (her|my|his|their) (first|last|second|previous) (baby|child|pregnancy)|hier (soir|matin|apres midi)|
  avant hier|il y a longtemps|il y a (\d+|un|une|deux|trois|cinq|dix|quelques|plusieurs) (ans|an|mois|semaines|semaine|jours)|
  depuis (\d+|deux|trois|cinq|dix|vingt|quelques|plusieurs) (ans|annees)|quand j ?etais|a l ?adolescence|dans les annees|
  letzte[nmrs]? (woche|monat|jahr|sommer|winter)|vorige[nmrs]? (woche|monat|jahr)|gestern|vor (\d+|einem|einer|zwei|drei|funf|zehn|
  einigen|vielen|ein paar|langer) (jahren|jahr|monaten|monat|wochen|woche|tagen|zeit)|als kind|als jugendliche\w*|fruher|damals|
  gehabt|(on|last|this past) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(monday|tuesday|wednesday|thursday|friday|
  saturday|sunday) (night|morning|evening|afternoon)|el (lunes|martes|miercoles|jueves|viernes|sabado|domingo)( pasado)?|(lundi|mardi|
  mercredi|jeudi|vendredi|samedi|dimanche)( dernier| soir| matin| apres midi)?|(am|letzten|vergangenen) (montag|dienstag|mittwoch|
  donnerstag|freitag|samstag|sonntag)|(montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)(abend|morgen|nacht|mittag))\b
AGAIN \b(happening|started|starting|is|are|its|having|has|doing) ~2again\b|\bagain now\b
# Recurring or long-standing, or asked whether it is normal: a question for a doctor, not an emergency (unless it is
# happening now).
CHRONIC ^(is (it|this|that) normal|es normal que|est ce normal|c est normal (que|de)|ist (es|das) normal)\b|\b(sometimes|occasionally|
  often|frequently|regularly|every (time|day|week|month|year|morning|night|winter|summer)|whenever|when (i|he|she|they|we|you) (cough|
  coughs|breathe in|breathes in|breathe deeply|breathes deeply|exercise|exercises|run|runs|climb|climbs|walk|walks|bend|bends|
  lie down|lies down|eat|eats|drink|drinks|swallow|swallows|stand up|stands up|get up|gets up|laugh|laughs|sleep|sleeps|brush|brushes|
  cut|cuts|shave|shaves|blow|blows|see|sees|hear|hears)|after (running|exercise|exercising|the gym|a workout|working out|sport|
  training|jogging)|when (im|i am|i get|i feel|he gets|she gets|hes|shes) (anxious|stressed|nervous|upset|cold|tired|hot|excited|
  angry|worried|panicky)|at the sight of|on and off|now and then|for (weeks|months|years|a week|a month|a year|ages|days)|for (a few|
  several|\d+|two|three|four|five) days|all week|lately|recurring|recurrent|keep getting|in (winter|summer)|every (spring|autumn|fall|
  season|night)|in (spring|autumn|the spring|the summer|the winter)|since (i|he|she|they) (had|got|caught)|a veces|a menudo|
  desde hace (semanas|meses|anos|unos dias|varios dias|\d+ dias|dos dias|tres dias)|cuando (toso|respiro|como|corro|subo|ve|veo|oye|
  se levanta|me levanto|tose|corre|sube|come|hace ejercicio)|al (ver sangre|subir (las )?escaleras|correr|hacer ejercicio)|parfois|
  souvent|depuis des (semaines|mois|annees)|depuis (quelques|plusieurs|\d+|deux|trois) jours|quand (je|j|il|elle|on) (tousse|respire|
  mange|cours|court|monte|vois|voit|me leve|se leve|fais|fait du sport)|a la vue du sang|manchmal|oft|seit (wochen|monaten|jahren|
  ein paar tagen|einigen tagen|mehreren tagen|\d+ tagen|zwei tagen|drei tagen)|wenn (ich|er|sie|es) ~3(huste|hustet|atme|atmet|esse|
  isst|laufe|lauft|renne|rennt|sehe|sieht|aufstehe|aufsteht)|beim (anblick|treppensteigen|laufen|joggen|sport|rennen|aufstehen)|
  immer wenn|jedes ?mal|cada vez que|chaque fois que|a chaque fois|at night|por las noches|nachts|in the mornings|le matin|
  por las mananas|morgens)\b
# A question about what causes or means a symptom ("can stress make my chest feel tight?", "why do my gums bleed?").
CAUSAL ^(can|could|does|do|did|will|would|might|may|is it|are|why does|why do|why did|puede|peut|kann) .*\b(make|makes|cause|causes|
  causing|give|gives|trigger|triggers|lead to|leads to|result in|caused by|a sign of|a symptom of|mean|means|sideeffects?|provoquer|
  provoque|causar|causa|verursachen|auslosen)\b|^(why (does|do|did|would|can)|por que|pourquoi|warum|wieso)\b
INFO \b(asked (me )?(if|whether|how|what|why|about)|how (can|do|should|could) (i|we|you) (best )?(support|approach|talk to|cope|
  deal with|handle|look after)|asks (if|whether)|wants to know|(wondering|wonders|curious) (if|whether|about)|
  videos?|tiktok|youtube|social media|is (that|it|this) true|true that|i (read|heard)|i saw (a|an) (video|post|article|documentary|
  show|programme|program)|ive (read|heard)|according to|documentary|article|podcast|pregunta si|preguntado si|es verdad|es cierto|
  pregunto si|demande si|m ?a demande|c ?est vrai|fragt ob|gefragt ob|stimmt es|stimmt das)\b
INTERROGATIVE ^(what|whats|which|why|how|when|where|who|whose|is|are|does|do|did|can|could|should|would|will|was|were|has|have|
  explain|describe|define|list|tell me|name|compare|que|quel|quelle|quels|quelles|quest ce|comment|pourquoi|quand|ou|est ce|combien|
  peut on|faut il|cual|cuales|como|por que|porque|cuando|donde|quien|cuanto|cuanta|hay|se puede|welche|welcher|welches|welchen|wie|
  warum|wieso|weshalb|wann|wo|wer|ist|sind|kann|gibt es|darf|sollte|muss)\b
GENERIC \b(causes?|caused by|can cause|may cause|leads? to|results? in|characteri[sz]ed|symptoms (of|include)|signs (of|include)|
  is a sign|is a symptom|typically|usually|commonly|treatment|treated|diagnosis|mechanism|defined as|refers to|patients|people with|
  in adults|in children|risk factors?|antidote|first line|management of|sintomas|tratamiento|symptomes|traitement|behandlung|ursache|
  symptome)\b
GENERIC_SUBJECT \b(someone|somebody|a person|people|a child|a baby|an adult|a patient|anyone|alguien|una persona|quelquun|quelqu un|
  une personne|jemand|eine person) (who|that|with|is|has|having|que|qui|der|die|mit)\b
FIRST_PERSON \b(i|ive|me|my|mine|myself|we|weve|our|ours|yo|mi|mis|nos|nuestro|nuestra|nuestros|conmigo|tengo|estoy|puedo|siento|
  quiero|necesito|creo|je|j|jai|moi|mon|ma|nous|notre|ich|mir|mich|mein|meine|meinen|meinem|meiner|meines|wir|uns|unser|unsere|
  unseren|unserem|hab|krieg|kriege|is this|could this be|this is)\b|(?<!\bthe )(?<!\bin )\bus\b|\bim (\w+ing|not|so|really|very|gonna|
  a|an|the|in|on|at|scared|worried|alone|pregnant|\d+|allergic|diabetic|about|sure|afraid|dizzy)\b
# Family and companions count as "someone with me" unless generic ("a child", "the baby").
COMPANION (?<!\ba )(?<!\ban )(?<!\bthe )(?<!\bany )(?<!\bun )(?<!\buna )(?<!\bune )(?<!\ble )(?<!\bla )(?<!\bel )(?<!\bein )
  (?<!\beine )(?<!\bder )(?<!\bdie )(?<!\bdas )(?<!\beinem )(?<!\beinen )(?<!\beiner )\b(mum|mom|mummy|mommy|mama|dad|daddy|papa|
  grandma|grandpa|grandad|granddad|grandmother|grandfather|granny|nan|nana|wife|husband|hubby|daughter|baby|toddler|brother|sister|
  friend|roommate|flatmate|housemate|partner|boyfriend|girlfriend|neighbour|neighbor|colleague|coworker|uncle|aunt|auntie|cousin|mate|
  boss|abuela|abuelo|madre|padre|hijo|hija|esposo|esposa|marido|novio|novia|hermano|hermana|amigo|amiga|bebe|vecino|vecina|maman|fils|
  fille|mari|copain|copine|coloc|frere|soeur|grand pere|grand mere|papi|mamie|mutter|vater|oma|opa|sohn|tochter|freund|freundin|
  bruder|schwester|nachbar|nachbarin|kumpel|mann|frau)s?\b
BYSTANDER \b(someone|somebody|a man|a woman|a guy|a lady|a girl|a boy|a kid|a child|a person|this man|this woman|this guy|this lady|
  alguien|un hombre|una mujer|un senor|una senora|un chico|una chica|quelquun|quelqu un|un homme|une femme|une dame|un monsieur|
  un mec|jemand|ein mann|eine frau|ein kind|ein junge|ein madchen)\b
"""
