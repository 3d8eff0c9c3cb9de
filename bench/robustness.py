"""Reliability and security figures, one section at a time, on the real model and the real web app.

    .venv/bin/python bench/robustness.py [--sections data,training,artefacts,chat,load] [--adapter medical_lora_adapter] [--seconds 60]

Sections (SECTIONS maps each name to a function that measures it and returns its figures):
- data: the malformed files of tests/reliability/malformed.py (JSON, JSONL, CSV, Parquet, the file system):
  cases, crashes, clear errors naming file and row, vague errors, cases losing rows silently (0, 0, 0);
- training: `medassist train` (smoke profile) SIGKILLed at three points then `--resume`d: half-written adapters
  and runs not finishing the planned steps (both 0); a read-only output directory: exit code, time to the error;
- artefacts: pickles and remote code planted beside adapters, base models and checkpoints: executed (0);
- chat: the 100 hostile messages of tests/reliability/hostile.py (control strings of both chat formats,
  role-play, 100,000 characters, null bytes, bidi marks, emoji, HTML) through the embedded model with the
  adapter, greedy: cases, crashes and broken turns (both must be 0), and answers with no words of the model's own;
- load: `python app.py` (embedded model + adapter) with 8 Gradio client sessions asking one question after
  another for --seconds, served by the default batched backend and then by `hf` (one answer at a time) in the
  same run: completed requests, errors (must be 0), p50/p95 time to first token as the client sees it
  (queueing included); then, on the default backend, queue size + 8 requests at once: the extra
  ones must get Gradio's queue-full error at once and the app must answer a request afterwards;
- round_two: the fault classes of issue 16 (stalling histories, paths, broken adapters, changed resumes, settings,
  data edge cases, the history API, the order of checks): our cases in tests/reliability, run, counted per class.

Each section's figures, with the command line that produced them, replace that section in --out
(bench/results/robustness.json by default), which is written atomically; other sections are kept.
Exits 1 when a figure that must be 0 is not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the reliability cases live in tests/, which is not an installed package

from medassist.batching import DEFAULT_SLOTS  # noqa: E402
from medassist.chat import ChatEngine  # noqa: E402
from medassist.config import GenerationSettings, ServeConfig  # noqa: E402
from record import command_line, write_result  # noqa: E402
from tests.reliability.hostile import hostile_messages, run_turn  # noqa: E402

Figures = dict[str, Any]


def data_section(args: argparse.Namespace) -> Figures:
    """Every malformed file of tests/reliability/malformed.py through the loader."""
    from tests.reliability.malformed import cases, judge

    with tempfile.TemporaryDirectory() as temp:
        outcomes = [judge(case, Path(temp)) for case in cases()]
    verdicts = Counter(outcome.verdict for outcome in outcomes)
    for outcome in outcomes:
        print(f"  {outcome.case:<36} {outcome.verdict:<12} {outcome.detail[:90]}")
    return {
        "cases": len(outcomes),
        "formats": sorted({case.suffix for case in cases()}),
        "crashes": verdicts["crash"],
        "clear_errors_naming_file_and_row": verdicts["clear error"],
        "vague_errors": verdicts["vague error"],
        "accepted_with_every_row_accounted": verdicts["accepted"],
        "cases_losing_rows_silently": verdicts["rows lost"],
    }


def training_section(args: argparse.Namespace) -> Figures:
    """SIGKILL at each kill point then --resume; a read-only and a full output directory."""
    from medassist import cli, train  # noqa: F401 - imported before `nobody` runs the CLI: it cannot read root's Python
    from tests.reliability.killpoints import KILL_POINTS, kill_then_resume, smoke_train_args
    from tests.reliability.unprivileged import call_as_nobody

    figures: dict[str, Any] = {"kill_points": {}}
    with tempfile.TemporaryDirectory() as temp:
        for point, where in KILL_POINTS.items():
            output = Path(temp) / point
            outcome = kill_then_resume(point, smoke_train_args(output), output)
            ok = (outcome["killed"] and not outcome["adapter_after_kill"] and outcome["resumed"]
                  and outcome["steps"] == outcome["planned_steps"] and not outcome["staging_left"])
            figures["kill_points"][point] = {key: outcome[key] for key in (
                "killed", "adapter_after_kill", "resumed", "steps", "planned_steps", "staging_left")}
            print(f"  SIGKILL {where}: resumed {outcome['steps']}/{outcome['planned_steps']} steps, "
                  f"adapter present after the kill: {outcome['adapter_after_kill']} -> {'ok' if ok else 'FAILED'}")
        figures["half_written_adapters"] = sum(f["adapter_after_kill"] for f in figures["kill_points"].values())
        figures["runs_not_finishing_the_plan"] = sum(
            not (f["resumed"] and f["steps"] == f["planned_steps"]) for f in figures["kill_points"].values())

        Path(temp).chmod(0o755)  # `nobody` must reach the read-only folder to be refused by it
        read_only = Path(temp) / "read-only"
        read_only.mkdir(mode=0o555)
        started = time.perf_counter()
        code, printed = call_as_nobody(cli.main, ["train", *smoke_train_args(read_only / "out")])
        figures["read_only_output"] = {
            "exit_code": code, "seconds_to_error": round(time.perf_counter() - started, 2),
            "message": printed.strip().splitlines()[-1] if printed.strip() else "",
            "before_model_load": "trainable params" not in printed,
        }
        print(f"  read-only output: exit {code} after {figures['read_only_output']['seconds_to_error']} s: "
              f"{figures['read_only_output']['message']}")
    return figures


def artefacts_section(args: argparse.Namespace) -> Figures:
    """Planted pickles and remote code: ignored or refused, never executed."""
    from medassist.models import EMBEDDED, load_tokenizer
    from tests.reliability.artefact_cases import CASES, SAFE_VERDICTS, run_case

    tokenizer = load_tokenizer(EMBEDDED)
    outcomes = [run_case(name, tokenizer) for name in CASES]
    for outcome in outcomes:
        print(f"  {outcome.case:<48} {outcome.verdict}")
    return {
        "cases": len(outcomes),
        "safe": sum(outcome.verdict in SAFE_VERDICTS[outcome.case] for outcome in outcomes),
        "executed_planted_code": sum(outcome.verdict == "EXECUTED" for outcome in outcomes),
        "outcomes": {outcome.case: outcome.verdict for outcome in outcomes},
    }


def chat_section(args: argparse.Namespace) -> Figures:
    """The hostile messages through the engine the app serves, each judged by `judge_turn`."""
    engine = ChatEngine.load(args.adapter) if args.adapter else ChatEngine.load(None, "embedded")
    defaults = GenerationSettings()
    settings = GenerationSettings(temperature=0.0, max_new_tokens=args.max_new_tokens,
                                  repetition_penalty=defaults.repetition_penalty)
    started = time.perf_counter()
    results = []
    for number, (category, message) in enumerate(hostile_messages(), start=1):
        result = run_turn(engine, category, message, settings)
        results.append(result)
        if result.crash or result.broken:
            print(f"  {number:3d} {category}: {result.crash or result.broken}", flush=True)
        elif number % 25 == 0:
            print(f"  {number} messages", flush=True)
    failures = [dict(category=r.category, message=r.message[:120], crash=r.crash, broken=r.broken)
                for r in results if r.crash or r.broken]
    return dict(
        model=engine.description, max_new_tokens=args.max_new_tokens, decoding="greedy",
        cases=len(results), crashes=sum(r.crash is not None for r in results),
        broken_turns=sum(r.broken is not None for r in results), silent_answers=sum(r.silent for r in results),
        cases_per_category=dict(Counter(r.category for r in results)), seconds=round(time.perf_counter() - started, 1),
        failures=failures,
    )


def load_section(args: argparse.Namespace) -> Figures:
    """`app.py` under concurrent sessions, served by the default batched backend and then one answer at a time (the
    `hf` backend), in the same run; then a burst past the default app's queue, through the Gradio client."""
    from app import EXAMPLES
    from tests.reliability.load import chat_sessions, queue_burst, running_app

    env = {"MEDASSIST_QUEUE_SIZE": str(args.queue_size)}
    if args.adapter:
        env["MEDASSIST_ADAPTER"] = args.adapter
    else:
        empty = Path(tempfile.mkdtemp(prefix="no-adapter-"))  # an empty folder serves the base model alone
        env.update(MEDASSIST_ADAPTER=str(empty), MEDASSIST_BASE="embedded")
    backends: dict[str, dict] = {}
    for backend in (ServeConfig.backend, "hf"):
        with tempfile.TemporaryDirectory() as folder, running_app({**env, "MEDASSIST_BACKEND": backend},
                                                                   Path(folder) / "app.log") as url:
            load = chat_sessions(url, EXAMPLES, sessions=args.sessions, seconds=args.seconds,
                                 max_new_tokens=args.load_max_new_tokens)
            backends[backend] = load.summary()
            print(f"  {backend}: {backends[backend]['completed']} answers, {backends[backend]['errors']} errors", flush=True)
            if backend == ServeConfig.backend:
                # DEFAULT_SLOTS answers run at once and queue_size wait: 8 more than both are refused
                burst = queue_burst(url, args.queue_size, EXAMPLES[0], extra=DEFAULT_SLOTS + 8, max_new_tokens=50)
    default = backends[ServeConfig.backend]
    return dict(
        adapter=args.adapter or "none (embedded base)", **default, backend=ServeConfig.backend, backends=backends,
        errors_all_backends=sum(figures["errors"] for figures in backends.values()),
        queue_size=args.queue_size, queue_submitted=burst["submitted"], queue_accepted=burst["accepted"],
        queue_refused=burst["refused"], queue_refusal_messages=burst["refusal_messages"],
        queue_last_refusal_s=burst["last_refusal_s"], queue_other_failures=len(burst["other_failures"]) + burst["undecided"],
        served_after_burst=burst["served_after"], after_burst_answer_s=burst["follow_up_s"],
    )


# Issue 16's fault classes -> the reliability tests that hold our cases for each (file, or file::test-name prefix).
ROUND_TWO_CLASSES: dict[str, list[str]] = {
    "one client cannot stall everyone (history bounded before tokenising)": ["test_requests.py::test_a_huge_or_refused_turn"],
    "paths are plain strings": ["test_requests.py::test_a_source_path", "test_requests.py::test_an_empty_path",
                                "test_requests.py::test_an_output_path"],
    "broken adapters refused before use": ["test_adapter_checks.py"],
    "resume with changed settings refused": ["test_resume_guard.py"],
    "settings that cannot work refused (config, CLI, engine)": ["test_config_validation.py",
                                                                "test_requests.py::test_settings_that_cannot_work"],
    "data edge cases: clear error or counted repair": ["test_data_edges.py"],
    "history API: documented formats normalised, the rest refused": ["test_requests.py::test_an_undocumented_history",
                                                                     "test_requests.py::test_the_documented_history"],
    "an emergency is checked before any other check": ["test_requests.py::test_an_emergency_is_answered"],
}


def round_two_section(args: argparse.Namespace) -> Figures:
    """Runs the round-two reliability cases (tests/reliability) and counts them per fault class."""
    import xml.etree.ElementTree as ElementTree

    files = sorted({target.split("::")[0] for targets in ROUND_TWO_CLASSES.values() for target in targets})
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "junit.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        *(str(ROOT / "tests" / "reliability" / name) for name in files)], cwd=ROOT, check=False)
        cases = [(case.get("classname", "").rsplit(".", 1)[-1] + ".py::" + case.get("name", ""),
                  not any(child.tag in ("failure", "error") for child in case))
                 for case in ElementTree.parse(report).iter("testcase")]
    per_class, failures = {}, []
    for label, targets in ROUND_TWO_CLASSES.items():
        mine = [(name, ok) for name, ok in cases if any(name.startswith(t) if "::" in t else name.startswith(t + "::")
                                                        for t in targets)]
        per_class[label] = {"cases": len(mine), "passed": sum(ok for _, ok in mine)}
        failures += [f"{label}: {name}" for name, ok in mine if not ok]
    return dict(classes=per_class, cases=sum(c["cases"] for c in per_class.values()),
                failed=sum(c["cases"] - c["passed"] for c in per_class.values()), failures=failures)


SECTIONS: dict[str, Callable[[argparse.Namespace], Figures]] = {
    "data": data_section, "training": training_section, "artefacts": artefacts_section,
    "chat": chat_section, "load": load_section, "round_two": round_two_section,
}
# Figures that must be 0 (by section); a run that breaks one exits 1.
MUST_BE_ZERO: dict[str, tuple[str, ...]] = {
    "data": ("crashes", "vague_errors", "cases_losing_rows_silently"),
    "training": ("half_written_adapters", "runs_not_finishing_the_plan"),
    "artefacts": ("executed_planted_code",),
    "chat": ("crashes", "broken_turns"),
    "load": ("errors_all_backends", "queue_other_failures"),
    "round_two": ("failed",),
}


def print_table(name: str, figures: Figures) -> None:
    """One row per figure; lists and mappings are shown by their size or inline, failures one per line."""
    print(f"\n== {name} ==")
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        if key == "failures":
            continue
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
        mark = ("  (must be 0: FAIL)" if value else "  (must be 0)") if key in MUST_BE_ZERO.get(name, ()) else ""
        print(f"  {key:<{width}}  {shown}{mark}")
    for failure in figures.get("failures", []):
        print(f"  ! {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, from: {', '.join(SECTIONS)}")
    parser.add_argument("--adapter", default="medical_lora_adapter", help="adapter directory; '' for the embedded base alone")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="chat: answer length per hostile message")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60, help="load: how long sessions keep asking")
    parser.add_argument("--load-max-new-tokens", type=int, default=100, help="load: answer length (slider: 50-400)")
    parser.add_argument("--queue-size", type=int, default=32, help="load: the app's queue size (app.py's default is 32)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in this process (chat section)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "robustness.json"))
    args = parser.parse_args()
    names = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    torch.set_num_threads(args.threads)

    out = Path(args.out)
    result: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    sections = result.setdefault("sections", {})
    failed = []
    for name in names:
        print(f"[{name}]", flush=True)
        figures = SECTIONS[name](args)
        print_table(name, figures)
        failed += [f"{name}.{key}" for key in MUST_BE_ZERO.get(name, ()) if figures.get(key)]
        sections[name] = dict(
            command=command_line(), finished=time.strftime("%Y-%m-%d %H:%M:%S"), load_average=list(os.getloadavg()),
            cpu=platform.processor() or platform.machine(), cpu_count=os.cpu_count(), figures=figures,
        )
        write_result(result, out)  # after each section, so a later section's failure keeps this one's figures
    if failed:
        sys.exit(f"figures that must be 0 are not: {', '.join(failed)}")


if __name__ == "__main__":
    main()
