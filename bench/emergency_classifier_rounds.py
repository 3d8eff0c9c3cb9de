"""What the emergency classifier adds to the rules on messages it never saw, replayed over the blind rounds.

    .venv/bin/python bench/emergency_classifier_rounds.py [--thresholds 0.6 0.7 0.8]

For each blind set from fresh2 on, in the order they were written: a classifier trained only on the sets written
before it (as it would have been then) judges the emergencies the rules missed at that set's first score
(bench/results/emergency_first_scores.json: the rules alone) and the non-emergencies the rules got right. Printed per
set and summed, for each rescue probability: emergencies rescued and false alarms added. This is how
RESCUE_PROBABILITY was chosen; the blind figure for the shipped detector is bench/emergency_detector.py's.
Writes bench/results/emergency_classifier_rounds.json ({command, thresholds, rounds: {set: {threshold: {...}}},
total: {threshold: {...}}}).
"""

from __future__ import annotations

import argparse
import json

from record import ROOT, command_line, write_result

from medassist.emergency import laughing, normalize
from medassist.emergency_classifier import EmergencyClassifier, load_messages

FIRST_SCORES = ROOT / "bench" / "results" / "emergency_first_scores.json"
SETS = ["emergency_messages.jsonl", *(f"emergency_messages_fresh{n}.jsonl" for n in ["", 2, 3, 4, 5, 6, 7, 8])]


def flags(model: EmergencyClassifier, row: dict, threshold: float) -> bool:
    windows = [normalize(row["text"])]  # labelled messages are shorter than WINDOW_CHARS: one window
    return not laughing(windows) and model.rescue(windows, threshold) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.6, 0.7, 0.8])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "emergency_classifier_rounds.json"))
    args = parser.parse_args()
    first_scores = json.loads(FIRST_SCORES.read_text())
    rounds: dict[str, dict[str, dict[str, int]]] = {}
    for index in range(2, len(SETS)):
        rows = load_messages((SETS[index],))
        name = rows[0]["split"]
        score = first_scores[name].get("rules_only", first_scores[name])  # before fresh7 the detector was rules only
        missed, false_alarms = set(score["missed"]), set(score["false_positives"])
        model = EmergencyClassifier.train(normalize, load_messages(tuple(SETS[:index])))
        right_others = [row for row in rows if not row["emergency"] and row["id"] not in false_alarms]
        rounds[name] = {}
        for threshold in args.thresholds:
            rounds[name][str(threshold)] = {
                "rules_missed": len(missed), "rescued": sum(flags(model, row, threshold) for row in rows if row["id"] in missed),
                "rules_right_non_emergencies": len(right_others),
                "false_alarms_added": sum(flags(model, row, threshold) for row in right_others),
            }
            print(name, threshold, rounds[name][str(threshold)])
    total = {str(t): {key: sum(r[str(t)][key] for r in rounds.values()) for key in next(iter(rounds.values()))[str(t)]}
             for t in args.thresholds}
    for threshold, figures in total.items():
        print(f"all rounds, rescue at p >= {threshold}: rescued {figures['rescued']}/{figures['rules_missed']}, "
              f"false alarms added {figures['false_alarms_added']}/{figures['rules_right_non_emergencies']}")
    write_result({"command": command_line(), "thresholds": args.thresholds, "rounds": rounds, "total": total}, args.out)


if __name__ == "__main__":
    main()
