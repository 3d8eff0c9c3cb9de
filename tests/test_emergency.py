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

DATA = Path(__file__).parent / "data"
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

# Written for these tests, in the styles of the labelled set; none of them is in it.
MORE_EMERGENCIES = [
    ("I think I'm having a heart attack", "chest_pain"),
    ("my husband is clutching his chest and can't catch his breath", "chest_pain"),
    ("feels like an elephant is sitting on my chest and I feel sick", "chest_pain"),
    ("I've had chest pain for 20 minutes", "chest_pain"),
    ("im having a hart attack i think", "chest_pain"),
    ("Creo que estoy teniendo un infarto, me duele el pecho y el brazo izquierdo", "chest_pain"),
    ("Tengo un dolor muy fuerte en el pecho desde hace 30 minutos", "chest_pain"),
    ("J'ai une grosse douleur dans la poitrine qui irradie dans le bras", "chest_pain"),
    ("Ich habe starke Schmerzen in der Brust und mir ist übel", "chest_pain"),
    ("my dad suddenly can't move the left side of his body", "stroke"),
    ("Mum's speech is slurred and her face looks uneven", "stroke"),
    ("Something is wrong with my dad, half his face isn't moving and he's mumbling", "stroke"),
    ("I had a TIA five years ago and an hour ago my face started drooping", "stroke"),
    ("Mi madre tiene la boca torcida y no puede hablar bien", "stroke"),
    ("Mon père a la bouche de travers et n'arrive plus à parler", "stroke"),
    ("Mein Vater kann plötzlich nicht mehr sprechen und sein Gesicht hängt", "stroke"),
    ("my baby is turning blue and not breathing", "breathing"),
    ("he choked on a grape and can't breathe", "breathing"),
    ("I'm having a really bad asthma attack and my inhaler isn't working", "breathing"),
    ("Mi hijo no respira", "breathing"),
    ("Mon bébé ne respire plus", "breathing"),
    ("Mein Kind bekommt keine Luft", "breathing"),
    ("cut my leg with an axe and blood is pumping out", "bleeding"),
    ("my nose has been bleeding for 40 minutes and won't stop", "bleeding"),
    ("Estoy sangrando mucho por una herida en la pierna", "bleeding"),
    ("Je saigne beaucoup, le sang ne s'arrête pas", "bleeding"),
    ("Er blutet sehr stark am Arm", "bleeding"),
    ("my daughter swallowed a button battery", "overdose_poisoning"),
    ("I've just swallowed a whole bottle of sleeping tablets", "overdose_poisoning"),
    ("Mi hija se ha bebido lejía", "overdose_poisoning"),
    ("Mon copain a pris trop de médicaments et il ne se réveille pas", "overdose_poisoning"),
    ("Meine Tochter hat Tabletten geschluckt, eine ganze Packung", "overdose_poisoning"),
    ("lips swelling up and throat closing after eating shrimp", "allergic_reaction"),
    ("Me picó una abeja y se me está cerrando la garganta", "allergic_reaction"),
    ("Ma fille a été piquée par une abeille et son visage gonfle", "allergic_reaction"),
    ("Meine Zunge schwillt an nach dem Wespenstich", "allergic_reaction"),
    ("my dad collapsed and won't wake up", "unconscious_seizure"),
    ("a man fell off his bike and is unconscious", "unconscious_seizure"),
    ("Mi padre se ha desmayado y no responde", "unconscious_seizure"),
    ("Mon mari fait une crise d'épilepsie", "unconscious_seizure"),
    ("Mein Sohn hat einen Krampfanfall", "unconscious_seizure"),
    ("I have the pills in my hand and I want to die", "suicide_self_harm"),
    ("my sister says she is going to jump off the roof", "suicide_self_harm"),
    ("Quiero suicidarme", "suicide_self_harm"),
    ("Je veux mourir, j'ai les médicaments devant moi", "suicide_self_harm"),
    ("Ich will nicht mehr leben", "suicide_self_harm"),
    ("my 3 year old got into the medicine cabinet and ate a bunch of my iron tablets", "overdose_poisoning"),
    ("Grandma's not making sense and one side of her mouth is hanging down", "stroke"),
    ("My flatmate is fitting on the floor and his lips are blue", "unconscious_seizure"),
    ("I can feel my throat closing up, I ate something with sesame", "allergic_reaction"),
    ("I just drank a bottle of vodka and took all my sleeping pills", "overdose_poisoning"),
    ("there's a man lying in the street not moving", "unconscious_seizure"),
    ("my daughter hit her head and now she's very sleepy and throwing up", "unconscious_seizure"),
    ("Mi hermano se ha tomado veinte pastillas de ibuprofeno", "overdose_poisoning"),
    ("Tengo una hemorragia muy fuerte", "bleeding"),
    ("Me picó una avispa y no puedo respirar", "allergic_reaction"),
    ("tengo ganas de morirme, ya tengo todo preparado", "suicide_self_harm"),
    ("Mon fils s'est ouvert le bras et ça pisse le sang", "bleeding"),
    ("Mon père a du mal à parler et son bras droit ne bouge plus", "stroke"),
    ("Mon bébé a avalé du produit WC", "overdose_poisoning"),
    ("Je vais me tuer ce soir", "suicide_self_harm"),
    ("Meine Freundin hat sich die Arme aufgeschnitten", "suicide_self_harm"),
    ("Ich bin von einer Biene gestochen worden und mein Gesicht schwillt an", "allergic_reaction"),
    ("Mein Vater ist zusammengebrochen und reagiert nicht", "unconscious_seizure"),
    ("Ich habe 30 Schlaftabletten genommen", "overdose_poisoning"),
    # misspelt, lower case, no punctuation
    ("my husbnd is unconsious and not breething", "unconscious_seizure"),
    ("my frend took to many pils", "overdose_poisoning"),
    ("she is bleding alot from her head", "bleeding"),
    ("my sun is having a siezure", "unconscious_seizure"),
    ("i have chest pian and cant breath", "chest_pain"),
    ("alergic reaction throat closing", "allergic_reaction"),
    ("mein vater hat starke brustschmertzen", "chest_pain"),
]
MORE_QUESTIONS = [
    "What are the warning signs of a stroke?",
    "Can anxiety cause chest pain?",
    "Can stress make my chest feel tight?",
    "Why does my chest hurt when I cough? I've had a cold for a week",
    "My friend asked whether you can overdose on vitamin D",
    "My grandmother had a stroke three years ago; can she fly?",
    "I had a seizure in 2019, when can I drive again?",
    "How do I know if my child is having an allergic reaction?",
    "My nose bleeds a lot in winter, should I see a doctor?",
    "What should I do if my toddler swallows a coin?",
    "I'm studying for my first aid exam: what are the signs of choking?",
    "In the movie the hero gets stabbed and keeps fighting; is that realistic?",
    "Last night I had crushing chest pain for an hour but it went away; should I see my GP?",
    "How do I help someone who is having a panic attack and can't breathe?",
    "My son keeps choking on his food when he eats fast; is that normal?",
    "I've got a really bad cold and my throat is swollen",
    "¿Qué hago si mi hijo se atraganta?",
    "Mi abuela tuvo un infarto el año pasado, ¿puede tomar café?",
    "Mon grand-père a fait un infarctus il y a cinq ans, peut-il faire du sport ?",
    "J'ai souvent du mal à respirer la nuit",
    "Ich hatte letztes Jahr einen Krampfanfall; darf ich Auto fahren?",
    "Was tun bei einem allergischen Schock?",
    "My mum had a heart attack last year and is now doing well; can she fly?",
    "My son got into my pills last year but was fine; how do I store them safely?",
    "What is the treatment for someone who has taken too many sleeping pills?",
    "Mi hermano tuvo una sobredosis hace dos años y ahora está bien; ¿puede recaer?",
    "¿Por qué se hinchan los labios en una reacción alérgica?",
    "En el examen me preguntaron qué hacer si alguien no respira",
    "Que faire si quelqu'un fait une overdose ?",
    "Ma copine m'a demandé si on peut mourir d'une piqûre de guêpe",
    "Warum schwillt bei einer Allergie die Zunge an?",
    "Falls mein Sohn mal keine Luft bekommt, was soll ich tun?",
    "Ich will mit meinem Freund Schluss machen",
]

# Lay and indirect descriptions (issue 12's redesign): the sign is described, the condition not named.
LAY_EMERGENCIES = [
    ("his words are all jumbled and he keeps dropping his cup", "stroke"),
    ("her face is drooping on one side", "stroke"),
    ("my lips are swelling up after the prawns", "allergic_reaction"),
    ("the baby is turning blue", "breathing"),
    ("i cant wake him", "unconscious_seizure"),
    ("she is fitting and not responding", "unconscious_seizure"),
    ("he's shaking all over and not responding to me", "unconscious_seizure"),
    ("she took the whole pack", "overdose_poisoning"),
    ("i cut deep and it wont stop", "bleeding"),
    ("i dont want to be alive anymore", "suicide_self_harm"),
    ("Feels like an elephant is sitting on me and I'm drenched in sweat", "chest_pain"),
    ("My baby's ribs are sucking in with every breath", "breathing"),
    ("There's a puddle of red on the floor from my hand and I feel dizzy", "bleeding"),
    ("The towels I'm holding on his leg keep turning red", "bleeding"),
    ("My son got into the cupboard and there's an empty bottle of iron tablets next to him", "overdose_poisoning"),
    ("I have all my pills lined up and I'm done with everything", "suicide_self_harm"),
    ("my flatmate is sitting on the window ledge saying he wants to die", "suicide_self_harm"),
    ("Mi marido de repente no encuentra las palabras y tiene la mitad de la cara caída", "stroke"),
    ("mi madre está jadeando y no le llega el aire", "breathing"),
    ("Las toallas que le pongo en la cabeza se empapan de sangre", "bleeding"),
    ("Ya me he despedido de mi familia, esta noche se acaba todo", "suicide_self_harm"),
    ("Mon père siffle à chaque respiration et n'arrive plus à finir ses phrases", "breathing"),
    ("Ma mère est tombée et elle ne reprend pas connaissance", "unconscious_seizure"),
    ("mon père se tient la poitrine, il est tout gris et il transpire", "chest_pain"),
    ("Mein Vater liegt im Bad und ich kriege ihn nicht wach", "unconscious_seizure"),
    ("Der Verband an seiner Hand ist völlig durchgeblutet und es läuft weiter", "bleeding"),
    ("mein kumpel hat nen haufen tabletten mit alk genommen und is kaum noch wach", "overdose_poisoning"),
    # misspelt, by ear, text-speak
    ("mi hija se tomo muchas pastiyas", "overdose_poisoning"),
    ("kiero matarme ya no aguanto", "suicide_self_harm"),
    ("mein kind kriegt keine luf mehr", "breathing"),
    ("my mums face is dropping on one side and she cant tlk properly", "stroke"),
    ("jveux me suicidé ce soir", "suicide_self_harm"),
]
# Not happening now, though the signs are there: each framing the redesign suppresses.
LAY_QUESTIONS = [
    "What should someone do if a friend is choking?",
    "What if my dad has a stroke while I'm at work?",
    "Last year I had crushing chest pain for an hour; should I get a stress test?",
    "In 2015 my mum collapsed and was unconscious for a minute; is she at risk now?",
    "The doctor said it was a panic attack when I couldn't breathe; how do I stop them?",
    "My son fully recovered from his febrile seizure; will it happen again?",
    "My teenager used to self-harm but stopped a year ago; how do I support her now?",
    "My chest feels a bit tight after running in the cold; is that exercise-induced asthma?",
    "I accidentally swallowed some mouthwash; is that dangerous?",
    "My friend is writing an essay on self-harm in adolescents; what are good sources?",
    "My dad's speech has been a bit slurred since his stroke last year; can speech therapy still help?",
    "i had a panic attack last week where i couldnt breathe, how do i stop it happening again",
    "¿Qué se hace cuando alguien tiene una convulsión?",
    "Hace años me autolesionaba pero ya lo superé; ¿se pueden quitar las cicatrices?",
    "Ma grand-mère a fait un malaise l'été dernier mais tout va bien maintenant ; doit-elle consulter ?",
    "Mein Vater ist letzten Sommer in der Hitze ohnmächtig geworden, aber es ging ihm gleich wieder gut.",
]


# The classes of phrasing the first fresh file found missing (issue 12, second round), each in the four languages:
# written for these tests, none of them in a labelled file.
CLASS_EMERGENCIES = [
    # cannot be woken, does not respond or answer, eyes will not open
    ("my dad's eyes won't open and he's not making a sound", "unconscious_seizure"),
    ("grandma is slumped over and won't open her eyes even when I shake her", "unconscious_seizure"),
    ("I can't get my brother to wake up, he's snoring weirdly", "unconscious_seizure"),
    ("he won't answer when I call his name and he's floppy", "unconscious_seizure"),
    ("can't get any response out of him", "unconscious_seizure"),
    ("mi abuela no abre los ojos aunque la llamo", "unconscious_seizure"),
    ("mi marido está en el suelo y no contesta", "unconscious_seizure"),
    ("no hay manera de despertarlo", "unconscious_seizure"),
    ("mon père n'ouvre plus les yeux et respire fort", "unconscious_seizure"),
    ("impossible de la réveiller, elle est toute molle", "unconscious_seizure"),
    ("aucune réaction quand je le secoue", "unconscious_seizure"),
    ("mein opa macht die augen nicht mehr auf", "unconscious_seizure"),
    ("ich bekomme meinen Mann nicht wach", "unconscious_seizure"),
    ("er ist nicht wach zu kriegen", "unconscious_seizure"),
    ("keine Reaktion, wenn ich ihn anspreche", "unconscious_seizure"),
    # going on for a long time now (not "for years")
    ("my daughter has been fitting for ages and won't stop", "unconscious_seizure"),
    ("mi hijo lleva un buen rato convulsionando", "unconscious_seizure"),
    ("ça dure depuis un quart d'heure, il convulse encore", "unconscious_seizure"),
    ("Sie krampft schon ewig und hört nicht auf", "unconscious_seizure"),
    # German compounds read at their keyword
    ("Mein Sohn hat Abflussreiniger getrunken", "overdose_poisoning"),
    ("Sie hat einen Abschiedsbrief geschrieben und geht nicht ans Telefon", "suicide_self_harm"),
    ("Nach dem Bienenstich schwillt ihr Hals zu", "allergic_reaction"),
    ("Mein Mann hat Herzschmerzen, die in den Arm ausstrahlen", "chest_pain"),
    ("Meine Freundin hat Schlaftabletten genommen, eine ganze Packung", "overdose_poisoning"),
    # household chemicals and drugs in all four languages
    ("my toddler drank some drain unblocker", "overdose_poisoning"),
    ("my 4 year old drank windscreen wash from the garage", "overdose_poisoning"),
    ("mi hijo se ha bebido salfumán", "overdose_poisoning"),
    ("mi nieta se ha tragado una pila de botón", "overdose_poisoning"),
    ("mon fils a avalé de la soude caustique", "overdose_poisoning"),
    ("mein Kind hat Lampenöl getrunken", "overdose_poisoning"),
    ("mi hermano se ha bebido un frasco de jarabe para la tos entero", "overdose_poisoning"),
    # a plan for tonight, "I'm done"
    ("i've got the pills counted out for tonight, i'm done with everything", "suicide_self_harm"),
    ("esta noche me las tomo todas, ya no puedo más", "suicide_self_harm"),
    ("ce soir je prends toutes mes pilules, j'en ai marre de tout", "suicide_self_harm"),
    ("heute Nacht nehme ich alle Tabletten, ich kann nicht mehr", "suicide_self_harm"),
    ("ich habe ein Seil und will heute Schluss machen", "suicide_self_harm"),
    # colloquial overdoses
    ("my mate overdid it on the ketamine and he's not making sense", "overdose_poisoning"),
    ("mi hermano se pasó con las pastillas y está muy raro", "overdose_poisoning"),
    ("se le fue la mano con la metadona y no se despierta", "overdose_poisoning"),
    ("mon frère a abusé des cachets et il vomit", "overdose_poisoning"),
    ("il a trop pris de codéine et il respire mal", "overdose_poisoning"),
    ("er hat zu viel von den Tabletten geschluckt", "overdose_poisoning"),
    # a mention of the past, and now it is happening
    ("got stitches yesterday and now it's pouring blood through the bandage", "bleeding"),
    ("the doctor said it was just anxiety but now my chest is crushing and my arm is numb", "chest_pain"),
    ("he got 5 stitches but the cut keeps bleeding through the dressing", "bleeding"),
    # a blow to the head, then drowsy or vomiting
    ("my baby fell off the bed and now she's really sleepy and vomiting", "unconscious_seizure"),
    ("mi hijo se golpeó la cabeza y ahora vomita y está muy dormido", "unconscious_seizure"),
    ("ma fille est tombée sur la tête, elle vomit et elle est toute endormie", "unconscious_seizure"),
    ("mein Sohn ist auf den Kopf gefallen, erbricht und ist sehr schläfrig", "unconscious_seizure"),
    # a hedge is no hypothesis; "we're" is no question
    ("sorry if this is silly but my chest has felt really heavy for the last half hour and im sweating loads",
     "chest_pain"),
    ("We're at the park and a lady just fell down and she's twitching and her eyes are rolling", "unconscious_seizure"),
]
CLASS_QUESTIONS = [
    "my eyes won't open properly in the morning, they're all crusty",
    "my mum isn't answering her phone, should I be worried?",
    "mi madre no contesta al teléfono desde ayer",
    "Il ne répond pas à mes messages depuis hier",
    "Er antwortet nicht auf meine Nachrichten",
    "my son won't answer me when I ask about school, is that normal for a teen?",
    "I've had this chest tightness for ages, is it asthma?",
    "Ich habe seit Wochen Brustschmerzen beim Sport, sollte ich zum Arzt?",
    "Ich habe Liebeskummer und Herzschmerz",
    "Ich habe einen Abschiedsbrief für meine Kollegin geschrieben, sie geht in Rente",
    "I'm done with my exams, can I finally take my allergy pills at night?",
    "I'm going to take them tonight with dinner, are antibiotics ok with food?",
    "I think I overdid it at the gym, my legs hurt",
    "I cut my thumb badly on Saturday, got it glued at urgent care, how long before it heals?",
    "My son had a seizure on Tuesday, the doctor said it was febrile, should I worry?",
    "Me corté el dedo el sábado y me dieron cuatro puntos, ¿cuándo me los quitan?",
    "Je me suis coupé profondément dimanche, on m'a fait des points ; je peux nager ?",
    "Ich habe mich am Sonntag tief geschnitten, wurde genäht. Wann darf ich duschen?",
    "mi hijo se atragantó con una uva esta mañana pero lo escupió y está bien",
    "ma fille s'est étouffée avec un bonbon ce matin mais elle l'a recraché, tout va bien",
    "Ich habe Angst vor einem Herzinfarkt, weil mein Vater einen hatte",
    "my toddler licked a battery but didn't swallow it, it was a AA, should I worry?",
    "Is it bad that I cried so much I couldn't breathe last night?",
    "Mein Sohn wird ohnmächtig, wenn er Blut sieht. Ist das normal?",
    "how can I support a friend who is having suicidal thoughts?",
    "mon père a de l'angine de poitrine, que faire en cas de douleur ?",
    "Mein Mann schnarcht und hat nachts Atemaussetzer, was kann man tun?",
]


# The classes of phrasing the second fresh file found missing (issue 12, third round), each in the four languages:
# written for these tests, none of them in a labelled file.
ROUND3_EMERGENCIES = [
    # pulling for air with a noise on every breath (stridor)
    ("my little girl is struggling to pull air in and there's a squeaky noise every time she breathes", "breathing"),
    ("he's fighting to get air in, high pitched sound on each breath", "breathing"),
    ("mi hijo hace un pitido en cada respiración y le cuesta respirar", "breathing"),
    ("ma fille fait un sifflement à chaque inspiration et elle a du mal à respirer", "breathing"),
    ("Mein Sohn hat ein pfeifendes Geräusch bei jedem Atemzug und kriegt schwer Luft", "breathing"),
    # bleeding in spurts with the pulse
    ("his leg is spurting with every heartbeat", "bleeding"),
    ("the cut on her wrist is pumping in time with her pulse", "bleeding"),
    ("la herida sale a chorros con cada latido", "bleeding"),
    ("ça gicle à chaque battement de cœur", "bleeding"),
    ("Die Wunde spritzt bei jedem Herzschlag", "bleeding"),
    # self-harm happening now, deeper than meant
    ("i'm cutting right now and can't stop", "suicide_self_harm"),
    ("cut deeper than i meant to and it won't stop bleeding", "suicide_self_harm"),
    ("me he cortado más profundo que nunca", "suicide_self_harm"),
    ("je me suis coupée plus profond que d'habitude", "suicide_self_harm"),
    ("ich hab mich tiefer geritzt als sonst", "suicide_self_harm"),
    # a car in a closed garage with the engine running
    ("I'm sitting in my car in the garage with the engine running", "suicide_self_harm"),
    # a throat closing, some words apart
    ("después de comer gambas me pica la garganta y se me está cerrando", "allergic_reaction"),
    ("my throat feels like it's slowly closing after that peanut sauce", "allergic_reaction"),
    # hives and gasping after a sting, German
    ("Nach dem Wespenstich hat er Quaddeln überall und keucht", "allergic_reaction"),
    # pills laid out and a plan for tonight, German
    ("Die Tabletten liegen bereitgelegt, heute Nacht mach ich Schluss", "suicide_self_harm"),
]
ROUND3_QUESTIONS = [
    "my uncle has been seizure free for years on his tablets, can he drive again?",
    "mi tía lleva cinco años sin convulsiones, ¿puede dejar la medicación?",
    "Mon fils est sans crises depuis deux ans, peut-il arrêter son traitement ?",
    "Mein Bruder ist seit drei Jahren anfallsfrei, darf er wieder Auto fahren?",
    "Ma fille a fait une convulsion l'an dernier, tout est rentré dans l'ordre ; peut-elle faire du sport ?",
    "Mi hija tuvo una convulsión febril con un año y todo volvió a la normalidad, ¿puede repetirse?",
    "why does my nose bleed every time I blow it?",
    "I'm cutting back on sugar right now, is that good for my heart?",
    "my toddler has a barking cough at night, is it croup?",
    "how do you stop arterial bleeding that spurts with the pulse?",
    "Was bedeutet es, wenn man beim Atmen keucht?",
]


# The classes of phrasing the third fresh file found (issue 12, fourth round), each in the four languages: written
# for these tests, none of them in a labelled file. A sign named only to be denied is no sign; a negation elsewhere
# in the message does not hide one.
ROUND4_EMERGENCIES = [
    ("No, he's not breathing!", "breathing"),
    ("no one is home and I'm bleeding a lot from my leg", "bleeding"),
    ("I don't know what to do, crushing pain in my chest for 20 minutes", "chest_pain"),
    ("nobody is answering and she took all her pills an hour ago", "overdose_poisoning"),
    ("No sé qué hacer, mi padre no puede respirar", "breathing"),
    ("Je ne sais pas quoi faire, il ne respire plus", "breathing"),
    ("Keine Ahnung was los ist, er krampft seit fünf Minuten", "unconscious_seizure"),
    # wheezing, then drowsy or not answering
    ("my son's been wheezing all evening and now he's drowsy and not answering properly", "breathing"),
    ("mi hija tiene sibilancias y ahora está adormilada y no contesta", "unconscious_seizure"),  # a tie: not answering first
    ("il siffle en respirant et maintenant il est somnolent, il ne répond plus", "breathing"),
    ("Er keucht und ist jetzt ganz benommen, antwortet kaum", "breathing"),
    # something from under the sink; insulin twice, then unwell
    ("my toddler drank something from under the sink and is drooling", "overdose_poisoning"),
    ("mi hijo se ha bebido algo de debajo del fregadero", "overdose_poisoning"),
    ("mon fils a bu un produit sous l'évier", "overdose_poisoning"),
    ("Mein Kind hat was aus dem Putzschrank getrunken", "overdose_poisoning"),
    ("I injected my insulin twice by mistake and now I'm shaky and confused", "overdose_poisoning"),
    ("me puse doble dosis de insulina y estoy mareado y sudando", "overdose_poisoning"),
    # a farewell
    ("won't be around much longer, just wanted to say thank you", "suicide_self_harm"),
    ("my friend sent a goodbye message and now she isn't answering her phone", "suicide_self_harm"),
    ("mi hermano me mandó un mensaje de despedida y no contesta", "suicide_self_harm"),
    ("Mein Freund hat mir eine Abschiedsnachricht geschickt und geht nicht ran", "suicide_self_harm"),
    # bleeding on a blood thinner
    ("my dad is on warfarin and his nose has been bleeding for an hour", "bleeding"),
    ("mi madre toma sintrom y lleva una hora sangrando por la nariz", "bleeding"),
    ("mon père prend du Previscan et saigne du nez depuis une heure", "bleeding"),
]
ROUND4_QUESTIONS = [
    "No chest pain, no shortness of breath, just a tickly cough. Should I see a GP?",
    "Not suicidal at all, just exhausted from work. Any tips for sleep?",
    "No tengo ideas suicidas, solo estoy triste últimamente. ¿Es depresión?",
    "Pas de douleur thoracique, juste des palpitations après le café. C'est grave ?",
    "Keine Atemnot, nur Schnupfen seit gestern. Muss ich zum Arzt?",
    "No seizures for three years now. Can I ask about stopping my tablets?",
    "No weakness or slurred speech, just a headache from screens. Tips?",
    "is it safe to take ibuprofen while on warfarin?",
    "what's the antidote if someone takes too much insulin?",
]


# The classes of phrasing the fourth fresh file found (issue 12, fifth round), in the four languages where they apply.
ROUND5_EMERGENCIES = [
    ("my husband's heartburn won't go away with the antacids and he's grey and sweaty", "chest_pain"),
    ("tengo acidez que no se me quita con almax y estoy sudando, me duele el hombro izquierdo", "chest_pain"),
    ("Sodbrennen, das nicht weggeht, und ich schwitze, linke Schulter tut weh", "chest_pain"),
    ("I took my Humalog twice by accident and now I'm shaky and sweaty", "overdose_poisoning"),
    ("he mixed xanax with a bottle of vodka and can barely keep his eyes open", "overdose_poisoning"),
    ("j'ai pris mes cachets deux fois ce matin, la tête me tourne", "overdose_poisoning"),
    ("started amoxicillin an hour ago and now my voice is hoarse and I feel faint", "allergic_reaction"),
    ("a man at the station just collapsed and he's jerking all over", "unconscious_seizure"),
    ("mi bebé gime con cada respiración y se le marcan las costillas", "breathing"),
    ("Mein Baby stöhnt bei jedem Atemzug und die Rippen ziehen sich ein", "breathing"),
    ("the tea towel is soaked through and it's still spurting", "bleeding"),
    ("gave my cat to my sister and sorted my will, it's easier for everyone if I'm gone", "suicide_self_harm"),
    ("He regalado mi perro y escrito cartas. Ya no me vais a ver más", "suicide_self_harm"),
    ("J'ai écrit des lettres à mes enfants, ce sera plus simple pour tout le monde", "suicide_self_harm"),
    ("Ich habe meine Katze weggegeben und alles geregelt, ist besser so für alle", "suicide_self_harm"),
    ("I'm sitting on the bridge railing right now", "suicide_self_harm"),
]
ROUND5_QUESTIONS = [
    "no chest pain, no dizziness, just a racing heart after coffee. is that normal?",
    "Dans la série que je regarde, un personnage fait un AVC. C'est réaliste ?",
    "Bin vor Jahren beim Blutabnehmen umgekippt, seitdem nie wieder. Muss ich das sagen?",
    "what happens if you take your insulin twice by mistake?",
    "we're rehoming our dog because of my allergy, any tips?",
    "I've written my will and sorted my affairs now that I'm 70, what else should I plan?",
]


# The classes of phrasing the fifth fresh file found (issue 12, sixth round).
ROUND6_EMERGENCIES = [
    ("gonna kms tonight, got everything ready", "suicide_self_harm"),
    ("I've decided to end it tonight", "suicide_self_harm"),
    ("He decidido acabar con todo esta noche", "suicide_self_harm"),
    ("j'ai décidé d'en finir, tout est prêt", "suicide_self_harm"),
    ("Ich habe beschlossen, heute Nacht Schluss zu machen", "suicide_self_harm"),
    ("standing on the roof of the car park, what's the point anymore", "suicide_self_harm"),
    ("won't be around after tonight, thank you for everything", "suicide_self_harm"),
    ("Meine Schwester hat 'lebt wohl' geschrieben und geht nicht ans Handy", "suicide_self_harm"),
    ("my dad just coughed up a mouthful of bright red blood", "bleeding"),
    ("mi madre está vomitando mucha sangre", "bleeding"),
    ("il crache plein de sang depuis tout à l'heure", "bleeding"),
    ("Er hustet hellrotes Blut, viel davon", "bleeding"),
    ("the blood pumps out every time I let go of the cut", "bleeding"),
    ("took my wife's heart tablets by mistake and now I feel faint and my pulse is slow", "overdose_poisoning"),
    ("mi abuela tomó las pastillas de otro por error y está muy mareada", "overdose_poisoning"),
    ("Meine Mutter versteht nicht mehr, was ich sage, und ihr Mund hängt", "stroke"),
    ("my husband suddenly doesn't understand what I'm saying", "stroke"),
]
ROUND6_QUESTIONS = [
    "I'm not having any thoughts of hurting myself, I just can't sleep. Tips?",
    "my brother coughs up a little blood-streaked phlegm with his bronchitis every winter, should he see someone?",
    "what should you do if you take someone else's tablets by mistake?",
    "We've decided to end our lease early, how do I tell my landlord?",
]

# Every message written in this file, by class.
ALL_QUESTIONS = (ISSUE_TEXTBOOK + MORE_QUESTIONS + LAY_QUESTIONS + CLASS_QUESTIONS
                 + ROUND3_QUESTIONS + ROUND4_QUESTIONS + ROUND5_QUESTIONS + ROUND6_QUESTIONS)
ALL_EMERGENCIES = (ISSUE_EMERGENCIES + MORE_EMERGENCIES + LAY_EMERGENCIES + CLASS_EMERGENCIES
                   + ROUND3_EMERGENCIES + ROUND4_EMERGENCIES + ROUND5_EMERGENCIES + ROUND6_EMERGENCIES)


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
