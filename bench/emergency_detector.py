"""How well `medassist.emergency.detect_emergency` tells emergencies happening now from questions about them, and how fast.

    .venv/bin/python bench/emergency_detector.py [--headline PATH] [--data-dir medassist/assets/emergency/messages]
        [--repeats 5]

The headline is the NEWEST fresh file (by default the last of emergency_messages_fresh*.jsonl in --data-dir, in
number order): messages written after the rules were frozen, and not in the classifier's TRAINING_SETS, scored once.
It is also scored with the rules alone (detect_by_rules), to show what the classifier adds. Its first score is also kept in
bench/results/emergency_first_scores.json, which later runs never overwrite (the next round of rules learns from it). Every other labelled file
is development data, reported separately and labelled as such: the old file (splits "dev" and "holdout") and each
earlier fresh file (split "fresh"), all read while the rules were written and all trained on by the classifier;
their figures say how well the detector fits what it was built from, not how well it generalises. For each set: recall on emergencies and
false-positive rate on non-emergencies, overall, per kind, per language and per style, each with a 95% Wilson
interval, plus the share of detected emergencies given the right kind. Then the time per call: mean and p99 over all
labelled messages (--repeats passes) and over stress inputs. Messages are reported by id only. Exits 1 when a target
on the headline set is missed.

Keys of bench/results/emergency_detector.json:
    command          the command line that produced it
    data             {"headline": path, "development": {name: path}} (name: the splits a file holds, "dev+holdout")
    scan_chars       the detector's SCAN_CHARS (longer text: its first and last halves are examined)
    headline         the headline set's name ("fresh5")
    headline_report  report for the headline set
    headline_rules_only  report for the headline set, rules alone (no classifier)
    development      report for all development sets together
    development_sets {name: report} for each development file
    targets          {"recall": 0.97, "recall_per_language": 0.9, "false_positive_rate": 0.05} (issue 12)
    targets_met      {target: bool} on the headline set's first score (emergency_first_scores.json)
    timing           {"labelled_messages": {repeats, mean_ms, p99_ms, calls},
                      "stress": {name: {chars, expected, detected, mean_ms, p99_ms, calls}}}
    python, cpu      where it ran
A report is {messages, emergencies, recall, false_positive_rate, kind_accuracy, per_kind, per_language, per_style,
missed, false_positives, wrong_kind}; every rate is {value, ci95: [low, high], k, n}; per_* map a group to
{recall, false_positive_rate}; missed and false_positives list ids, wrong_kind "id: labelled -> detected".
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from record import ROOT, command_line, write_result

from medassist.emergency import EMERGENCY_KINDS, SCAN_CHARS, detect_by_rules, detect_emergency
from medassist.emergency_classifier import MESSAGES, TRAINING_SETS

TARGETS = {"recall": 0.97, "recall_per_language": 0.9, "false_positive_rate": 0.05}
FIRST_SCORES = "emergency_first_scores.json"  # beside --out: each fresh file's first score, never overwritten
FILLER = (
    "I have been reading about sleep, diet and exercise for a school project, and I keep notes on what each "
    "article says about habits, routines and how people change them over a term. "
)


def wilson(hits: int, n: int, z: float = 1.96) -> dict[str, Any]:
    """Proportion hits/n with its 95% Wilson score interval (sound for small n and proportions near 0 or 1)."""
    if n == 0:
        return {"value": None, "ci95": None, "k": 0, "n": 0}
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"value": round(p, 4), "ci95": [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)],
            "k": hits, "n": n}


def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    emergencies = [row for row in rows if row["emergency"]]
    others = [row for row in rows if not row["emergency"]]
    return {
        "recall": wilson(sum(row["detected"] is not None for row in emergencies), len(emergencies)),
        "false_positive_rate": wilson(sum(row["detected"] is not None for row in others), len(others)),
    }


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall, per kind, per language and per style figures for `rows`, plus kind accuracy and the misses."""
    detected = [row for row in rows if row["emergency"] and row["detected"] is not None]
    return {
        "messages": len(rows),
        "emergencies": sum(row["emergency"] for row in rows),
        **rates(rows),
        "kind_accuracy": wilson(sum(row["detected"] == row["kind"] for row in detected), len(detected)),
        "per_kind": {kind: rates([row for row in rows if row["kind"] == kind]) for kind in EMERGENCY_KINDS},
        "per_language": {lang: rates([row for row in rows if row["lang"] == lang])
                         for lang in sorted({row["lang"] for row in rows})},
        "per_style": {style: rates([row for row in rows if row["style"] == style])
                      for style in sorted({row["style"] for row in rows})},
        "missed": [row["id"] for row in rows if row["emergency"] and row["detected"] is None],
        "false_positives": [row["id"] for row in rows if not row["emergency"] and row["detected"] is not None],
        "wrong_kind": [f"{row['id']}: {row['kind']} -> {row['detected']}" for row in detected
                       if row["detected"] != row["kind"]],
    }


def timed(text: str, repeats: int) -> tuple[str | None, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kind = detect_emergency(text)
        times.append((time.perf_counter() - start) * 1000)
    return kind, times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"mean_ms": round(statistics.fmean(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)], 3),
            "calls": len(ordered)}


def stress_inputs() -> dict[str, tuple[str, str | None]]:
    """name -> (text, the kind it should get)."""
    filler = FILLER * (SCAN_CHARS // len(FILLER) + 2)
    overdose = " I took 40 paracetamol an hour ago."
    return {
        "50000_chars_overdose_at_end": (filler[: 50_000 - len(overdose)].rsplit(". ", 1)[0] + "." + overdose,
                                        "overdose_poisoning"),
        "50000_chars_no_emergency": (filler[:50_000], None),
        "200000_chars_overdose_at_end": (filler[:100_000] + "x" * 100_000 + overdose, "overdose_poisoning"),
        "zero_width_laden": ("\u200b".join("My dad is clutching his chest and can't breathe, please help"),
                             "chest_pain"),
        "spaced_letters": ("  ".join(" ".join(word) for word in "my friend is not breathing".split()), "breathing"),
        "emoji": ("\U0001f631\U0001f64f " * 200 + "my son \U0001f476 is choking \U0001f62d\U0001f62d", "breathing"),
    }


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def set_name(rows: list[dict[str, Any]]) -> str:
    """A file's name in the report: the splits it holds, in order of first appearance ("dev+holdout", "fresh2")."""
    return "+".join(dict.fromkeys(row["split"] for row in rows))


def fresh_number(path: Path) -> int:
    """1 for emergency_messages_fresh.jsonl, 2 for ..._fresh2.jsonl: the order the fresh files were written in."""
    suffix = path.stem.removeprefix("emergency_messages_fresh")
    return int(suffix) if suffix.isdigit() else 1


def relative(path: Path) -> str:
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def print_report(title: str, figures: dict[str, Any]) -> None:
    print(f"{title}: {figures['messages']} messages, {figures['emergencies']} emergencies")
    print(f"  recall {fmt(figures['recall'])}   false-positive rate {fmt(figures['false_positive_rate'])}   "
          f"kind accuracy {fmt(figures['kind_accuracy'])}")
    for group in ("per_kind", "per_language"):
        for key, value in figures[group].items():
            print(f"  {key:<20} recall {fmt(value['recall'])}   FPR {fmt(value['false_positive_rate'])}")
    print(f"  missed {figures['missed']}  false positives {figures['false_positives']}  "
          f"wrong kind {figures['wrong_kind']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(MESSAGES), help="where the labelled files are")
    parser.add_argument("--headline", default=None, help="the headline file (default: the newest fresh file)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over the labelled messages")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "emergency_detector.json"))
    args = parser.parse_args()

    data_dir = Path(args.data_dir)
    fresh_paths = sorted(data_dir.glob("emergency_messages_fresh*.jsonl"), key=fresh_number)
    headline_path = Path(args.headline) if args.headline else (fresh_paths[-1] if fresh_paths else None)
    if headline_path is None:
        sys.exit(f"no fresh file in {data_dir}: nothing to report as the headline")
    development_paths = [path for path in [data_dir / "emergency_messages.jsonl", *fresh_paths]
                         if path.exists() and path.resolve() != headline_path.resolve()]
    headline_rows = load(headline_path)
    first_scores_path = Path(args.out).with_name(FIRST_SCORES)
    scored_before = json.loads(first_scores_path.read_text()) if first_scores_path.is_file() else {}
    if headline_path.name in TRAINING_SETS and set_name(headline_rows) not in scored_before:
        sys.exit(f"{headline_path.name} is in the classifier's TRAINING_SETS: its first score would not be blind")
    development_rows = {path: load(path) for path in development_paths}
    set_times: list[float] = []
    for row in [*headline_rows, *(row for rows in development_rows.values() for row in rows)]:
        row["detected"], times = timed(row["text"], args.repeats)
        set_times += times
    headline_name = set_name(headline_rows)
    headline = report(headline_rows)
    headline_rules_only = report([{**row, "detected": detect_by_rules(row["text"])} for row in headline_rows])
    development = report([row for rows in development_rows.values() for row in rows])
    development_sets = {set_name(rows): report(rows) for rows in development_rows.values()}

    stress = {}
    for name, (text, expected) in stress_inputs().items():
        kind, times = timed(text, 5 if len(text) > 10_000 else 50)
        stress[name] = {"chars": len(text), "expected": expected, "detected": kind, **summary(times)}

    result = {
        "command": command_line(),
        "data": {"headline": relative(headline_path),
                 "development": {set_name(rows): relative(path) for path, rows in development_rows.items()}},
        "scan_chars": SCAN_CHARS,
        "headline": headline_name,
        "headline_report": headline,
        "headline_rules_only": headline_rules_only,
        "development": development,
        "development_sets": development_sets,
        "targets": TARGETS,
        "timing": {"labelled_messages": {"repeats": args.repeats, **summary(set_times)}, "stress": stress},
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
    }

    first_scores = record_first_score(first_scores_path, headline_name, headline, headline_rules_only)
    # Targets are judged on the headline set's first score: later rounds of rules may have been written from it.
    judged = first_scores[headline_name].get("report", headline)
    lowest_language = min(figures["recall"]["value"] for figures in judged["per_language"].values()
                          if figures["recall"]["n"])
    met = {
        "recall": judged["recall"]["value"] >= TARGETS["recall"],
        "recall_per_language": lowest_language >= TARGETS["recall_per_language"],
        "false_positive_rate": judged["false_positive_rate"]["value"] <= TARGETS["false_positive_rate"],
    }
    result["targets_met"] = met
    print_report(f"HEADLINE {headline_name} ({relative(headline_path)}) with today's rules; its first score: {FIRST_SCORES}", headline)
    print(f"  rules alone: recall {fmt(headline_rules_only['recall'])}   FPR {fmt(headline_rules_only['false_positive_rate'])}")
    print_report(f"DEVELOPMENT ({', '.join(development_sets)}: read while the rules were written)", development)
    for name, figures in development_sets.items():
        print(f"  {name:<20} recall {fmt(figures['recall'])}   FPR {fmt(figures['false_positive_rate'])}")
    print(f"time per message: {result['timing']['labelled_messages']}")
    for name, figures in stress.items():
        print(f"  {name:<30} {figures}")
    print("first score of each fresh file, the rules frozen before it was written:",
          ", ".join(f"{name} recall {row['recall']['value']:.3f} FPR {row['false_positive_rate']['value']:.3f}"
                    for name, row in first_scores.items()))
    print(f"targets on {headline_name}'s first score: {met}")
    write_result(result, args.out)
    sys.exit(0 if all(met.values()) else 1)


def record_first_score(path: Path, name: str, headline: dict[str, Any], rules_only: dict[str, Any]) -> dict[str, Any]:
    """The first score of each fresh file, kept in `path` (FIRST_SCORES): a file is scored once, before any rule is
    written from it, and later runs (whose rules may have learnt from it) never overwrite that score."""
    scores = json.loads(path.read_text()) if path.is_file() else {}
    if name not in scores:
        scores[name] = {"recall": headline["recall"], "false_positive_rate": headline["false_positive_rate"],
                        "recall_per_language": {lang: row["recall"] for lang, row in sorted(headline["per_language"].items())},
                        "missed": headline["missed"], "false_positives": headline["false_positives"], "report": headline,
                        "rules_only": {"recall": rules_only["recall"], "false_positive_rate": rules_only["false_positive_rate"],
                                       "missed": rules_only["missed"], "false_positives": rules_only["false_positives"]}}
        write_result(scores, path)
    return scores


def fmt(figure: dict[str, Any]) -> str:
    if figure["value"] is None:
        return "   -  (n=0)"
    low, high = figure["ci95"]
    return f"{figure['value']:.3f} [{low:.3f}, {high:.3f}] ({figure['k']}/{figure['n']})"


if __name__ == "__main__":
    main()
