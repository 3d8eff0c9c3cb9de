"""`medassist` command line: one subcommand per pipeline stage, each a thin caller of the package."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from . import __version__
from .config import PROFILES, Config, ServeConfig, apply_overrides, load_config, load_profile


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES), help="named profile (default cpu)")
    parser.add_argument("--config", help="JSON/YAML config file; replaces the profile")
    parser.add_argument("--model", help="model source: embedded, tiny, a hub id, a local dir or a .gguf file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value, e.g. --set train.learning_rate=1e-4 (repeatable)")


def config_from_args(args: argparse.Namespace) -> Config:
    """Profile or config file, then --set values, then the path options, which are taken as plain strings."""
    config = apply_overrides(load_config(args.config) if args.config else load_profile(args.profile), args.overrides)
    if args.model is not None:
        config = replace(config, model=_nonempty("--model", args.model))
    if getattr(args, "source", None) is not None:
        config = replace(config, data=replace(config.data, source=_nonempty("--source", args.source)))
    if getattr(args, "output", None) is not None:
        config = replace(config, output_dir=_nonempty("--output", args.output))
    return config


def _nonempty(option: str, value: str) -> str:
    """An empty path option is an unset shell variable, not a request for the default."""
    if not value.strip():
        raise ValueError(f"{option} is empty (an unset shell variable?); give a value or leave the option out")
    return value


def cmd_data(args: argparse.Namespace) -> None:
    from .data import format_report, prepare, report
    from .models import load_tokenizer

    config = config_from_args(args)
    splits = prepare(config.data)
    tokenizer = None if args.no_tokens else load_tokenizer(config.model)
    figures = report(splits, tokenizer, config.data.max_length)
    print(json.dumps(figures, indent=2) if args.json else f"Data report for {config.data.source}\n{format_report(figures)}")


def cmd_train(args: argparse.Namespace) -> None:
    from .train import train, world

    result = train(config_from_args(args), resume=args.resume)
    if world()[0] == 0:
        eval_loss = "none" if result.eval_loss is None else f"{result.eval_loss:.3f}"
        print(f"trained {result.steps}/{result.planned_steps} steps in {result.seconds:.0f} s: "
              f"train loss {result.train_loss:.3f}, eval loss {eval_loss}; adapter in {result.adapter_dir}")


def cmd_eval(args: argparse.Namespace) -> None:
    from .evaluate import evaluate_adapter, format_report

    report, paths = evaluate_adapter(config_from_args(args), args.adapter, n=args.n, out_dir=args.out, base=args.model)
    print(f"Base vs fine-tuned ({args.adapter})\n{format_report(report)}")
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def cmd_sweep(args: argparse.Namespace) -> None:
    from pathlib import Path

    from .experiments import sweep

    config = config_from_args(args)
    results = sweep(config, resume=args.resume)
    columns = ("experiment", "train_loss", "eval_loss", "rougeL", "bleu4_corpus", "ppl_answer")
    print("".join(f"{c:>18}" for c in columns))
    for row in results:
        print("".join(f"{_cell(row.get(c)):>18}" for c in columns))
    print(f"wrote {Path(config.output_dir) / 'sweep' / 'experiments.csv'} and experiments.png")


def cmd_demo(args: argparse.Namespace) -> None:
    """The whole pipeline on one profile: data report, LoRA training, base vs fine-tuned, where to chat."""
    from .data import format_report as format_data_report, prepare, report as data_report
    from .evaluate import evaluate_adapter, format_report
    from .models import load_tokenizer
    from .train import train

    config = config_from_args(args)
    print(f"[1/3] data: {config.data.source}")
    figures = data_report(prepare(config.data), load_tokenizer(config.model), config.data.max_length)
    print(format_data_report(figures))
    print(f"\n[2/3] LoRA fine-tuning of {config.model} ({config.name} profile)")
    result = train(config)
    print(f"trained {result.steps} steps in {result.seconds:.0f} s, final train loss {result.train_loss:.3f}")
    print("\n[3/3] base vs fine-tuned on held-out questions")
    report, paths = evaluate_adapter(config, result.adapter_dir)
    print(format_report(report))
    example = report.rows[0]
    print(f"\nQ: {example['question']}\nreference:  {example['reference']}\n"
          f"base:       {example['base_answer']}\nfine-tuned: {example['tuned_answer']}")
    print(f"\nadapter: {result.adapter_dir}   report: {paths['metrics.json'].parent}\n"
          f"chat with it:  medassist chat --adapter {result.adapter_dir}\n"
          f"or the web app: MEDASSIST_ADAPTER={result.adapter_dir} python app.py")


def _add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    _add_config_arguments(parser)
    parser.add_argument("--adapter", help="adapter directory; its recorded base is used unless --model is given "
                                          "(default: no adapter, the profile's base model)")
    parser.add_argument("--backend", default=ServeConfig.backend,
                        help="hf (default, runs anywhere) or llama.cpp (merged Q8_0 GGUF export: faster decode on CPU, "
                             "answers may drift from fp32; needs llama-cpp-python); see medassist.backends")
    parser.add_argument("--temperature", type=float, help="0 for greedy (default: generation.temperature)")
    parser.add_argument("--max-new-tokens", type=int, help="default: generation.max_new_tokens")


def _chat_engine(args: argparse.Namespace):
    """The engine and generation settings shared by `chat` and `ask`."""
    from .chat import ChatEngine

    from .safety import check_settings

    config = config_from_args(args)
    settings = config.generation
    if args.temperature is not None:
        settings = replace(settings, temperature=args.temperature)
    if args.max_new_tokens is not None:
        settings = replace(settings, max_new_tokens=args.max_new_tokens)
    check_settings(settings)  # before the model loads: a bad value is a one-line error, not a wait
    from .models import quiet_loading

    quiet_loading()  # no "Loading weights" bar before every chat
    base = args.model or (None if args.adapter else config.model)
    engine = ChatEngine.load(args.adapter, base, backend=args.backend, context_tokens=config.serve.context_tokens,
                             grounding=config.grounding)
    return engine, settings


def _plain(markdown: str) -> str:
    """The answer's Markdown as terminal text: no emphasis stars, quote marks or rules."""
    import re

    text = re.sub(r"\*\*|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)", "", markdown)
    return re.sub(r"(?m)^(> ?|---$)", "", text)


def _print_streamed(texts) -> str:
    """Print a growing answer as it streams, as plain text; return its final (Markdown) text."""
    import os

    final, shown = "", ""
    for final in texts:
        text = _plain(final)
        sys.stdout.write(text[len(os.path.commonprefix([shown, text])):])
        sys.stdout.flush()
        shown = text
    print()
    return final


def _print_turn(engine, message: str, history: list[tuple[str, str]] | None, settings) -> str:
    """Print a turn as it streams and return its final text. Ctrl-C mid-answer lists the sources of the words
    already on screen (they were generated from those cards), prints "(stopped)" and is raised again."""
    from .chat import as_text, render_sources

    last: list = []

    def texts():
        for reply in engine.turn(message, history, settings):
            last[:] = [reply]
            yield as_text(reply)

    try:
        return _print_streamed(texts())
    except KeyboardInterrupt:
        print(_plain(render_sources(last[0].sources)) if last else "", "\n(stopped)", sep="")
        raise


def cmd_chat(args: argparse.Namespace) -> None:
    engine, settings = _chat_engine(args)
    print(f"MedAssist chat: {engine.description}. /reset starts over; /exit, Ctrl-D or Ctrl-C quits; "
          "Ctrl-C during an answer stops it.")
    history: list[tuple[str, str]] = []
    while True:
        sys.stdout.write("\nyou> ")  # on stdout, not input()'s prompt: readline writes that to stderr
        sys.stdout.flush()
        try:
            message = input()
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if message.strip() in ("/exit", "/quit"):
            break
        if message.strip() == "/reset":
            history.clear()
            print("(conversation cleared)")
            continue
        sys.stdout.write("medassist> ")
        try:
            answer = _print_turn(engine, message, history, settings)
        except KeyboardInterrupt:  # the answer was stopped, not the chat
            continue
        if message.strip():  # kept even when refused: an emergency in it keeps the conversation in emergency mode
            history.append((message, answer))


def cmd_calibrate(args: argparse.Namespace) -> None:
    """Set the abstention threshold on the question set's calibration split: for the retriever alone, or with an
    adapter for the retriever and the model together (a question the model says its sources lack is refused too)."""
    from dataclasses import replace as replace_config

    from .grounded_eval import MAX_WRONG_ABSTENTION, calibrate_min_score, grounded_answers, load_questions, top_score
    from .grounding import is_abstention
    from .retrieval import KnowledgeBase

    config = config_from_args(args)
    kb = KnowledgeBase.load(config.grounding.knowledge_base)
    questions = load_questions("calibration")
    model_abstains = None
    if args.adapter:
        from .evaluate import load_tuned

        tuned, tokenizer = load_tuned(args.adapter)
        always = replace_config(config.grounding, min_score=0.0)  # every question with its sources
        answers = grounded_answers(tuned, tokenizer, kb, questions, always, config, progress=True)
        model_abstains = [is_abstention(answer) for answer in answers]
    threshold = calibrate_min_score(kb, questions, model_abstains)
    abstains = model_abstains or [False] * len(questions)
    for kind, label in ((True, "answerable"), (False, "unanswerable")):
        refused = [top_score(kb, q.question) < threshold or a for q, a in zip(questions, abstains) if q.in_base == kind]
        print(f"calibration: {sum(refused) / len(refused):.3f} of {len(refused)} {label} questions refused")
    print(f"grounding.min_score = {threshold:.2f}  (at most {MAX_WRONG_ABSTENTION:.0%} of answerable calibration "
          f"questions refused; {len(kb)} cards; {'retriever + model' if args.adapter else 'retriever alone'})")


def cmd_ask(args: argparse.Namespace) -> None:
    from .safety import DISCLAIMER, check_message, emergency_reply

    guidance = emergency_reply(args.question, [])
    if guidance is not None:  # fixed text: no model is loaded, none is needed
        print(_plain(guidance + DISCLAIMER))
        return
    problem = check_message(args.question, load_config(args.config).serve.max_message_chars if args.config
                            else ServeConfig.max_message_chars)
    if problem:
        raise ValueError(_plain(problem).splitlines()[0])
    engine, settings = _chat_engine(args)
    _print_turn(engine, args.question, None, settings)


def cmd_export(args: argparse.Namespace) -> None:
    """Merge an adapter into its base for other runtimes: safetensors (transformers, vLLM, TGI) or GGUF + Modelfile."""
    from .export import export

    output = export(_nonempty("--adapter", args.adapter), args.format, _nonempty("--output", args.output), quant=args.quant)
    print(f"wrote {args.format} export of {args.adapter} to {output} (see {output}/README.md)")
    if args.format == "gguf":
        print(f"run it with Ollama:  cd {output} && ollama create medassist -f Modelfile && ollama run medassist")


def _cell(value: str | float | None) -> str:
    return value if isinstance(value, str) else "-" if value is None else f"{value:.4f}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medassist", description="LoRA fine-tuning of a small chat LLM for medical Q&A.")
    parser.add_argument("--version", action="version", version=f"medassist {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="load, clean and split a dataset and print its report")
    _add_config_arguments(data)
    data.add_argument("--source", help="hub dataset id or local .json/.jsonl/.csv/.parquet file")
    data.add_argument("--json", action="store_true", help="print the report as JSON")
    data.add_argument("--no-tokens", action="store_true", help="skip token-length figures (no tokenizer load)")
    data.set_defaults(handler=cmd_data)

    train = commands.add_parser("train", help="LoRA fine-tuning; writes {output_dir}/adapter")
    _add_config_arguments(train)
    train.add_argument("--source", help="hub dataset id or local .json/.jsonl/.csv/.parquet file")
    train.add_argument("--output", help="run directory (default: output_dir of the profile)")
    train.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in {output}/checkpoints")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("eval", help="compare the base model and a fine-tuned adapter on the eval split")
    _add_config_arguments(evaluate)
    evaluate.add_argument("--adapter", required=True, help="adapter directory (adapter_config.json + safetensors)")
    evaluate.add_argument("--n", type=int, help="number of eval examples (default: eval.n_examples of the profile)")
    evaluate.add_argument("--out", help="report directory (default: {output_dir}/eval)")
    evaluate.set_defaults(handler=cmd_eval)

    demo = commands.add_parser("demo", help="data report, training, evaluation and next steps in one run")
    _add_config_arguments(demo)
    demo.add_argument("--output", help="run directory (default: output_dir of the profile)")
    demo.set_defaults(handler=cmd_demo)

    sweep = commands.add_parser("sweep", help="train and evaluate the four experiments, write experiments.csv")
    _add_config_arguments(sweep)
    sweep.add_argument("--resume", action="store_true",
                       help="skip experiments already trained and evaluated with the same settings")
    sweep.set_defaults(handler=cmd_sweep)

    chat = commands.add_parser("chat", help="chat in the terminal with a base model and adapter, answers streamed")
    _add_chat_arguments(chat)
    chat.set_defaults(handler=cmd_chat)

    ask = commands.add_parser("ask", help="ask one question and stream the answer to stdout")
    ask.add_argument("question", help="the question, quoted, e.g. \"What is the antidote for heparin?\"")
    _add_chat_arguments(ask)
    ask.set_defaults(handler=cmd_ask)

    calibrate = commands.add_parser("calibrate", help="set the abstention threshold (grounding.min_score) on the "
                                                     "question set's calibration split")
    _add_config_arguments(calibrate)
    calibrate.add_argument("--adapter", help="also let this adapter's model answer from the sources (recommended)")
    calibrate.set_defaults(handler=cmd_calibrate)

    export = commands.add_parser("export", help="merge an adapter into its base for other runtimes: safetensors "
                                                 "(transformers, vLLM, TGI) or GGUF for llama.cpp and Ollama")
    export.add_argument("--adapter", required=True, help="adapter directory (adapter_config.json + safetensors)")
    export.add_argument("--format", required=True, metavar="{merged,gguf}",
                        help="merged: safetensors + tokenizer + model card; gguf: llama.cpp GGUF + Ollama Modelfile "
                             "(bases loaded from GGUF only, e.g. embedded)")
    export.add_argument("--output", required=True, help="directory to write; an existing one must be empty or a "
                                                        "previous export, which is replaced")
    export.add_argument("--quant", metavar="{q8_0,f16}", help="gguf only: matrix storage (default q8_0)")
    export.set_defaults(handler=cmd_export)

    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input, not a bug: bad values and files (ValueError covers DataError, ConfigError,
    ChatError, AdapterError, TrainError), and a model that cannot be loaded, when medassist.models was imported."""
    models = sys.modules.get("medassist.models")  # not imported here: torch would cost seconds before any check
    return (ValueError, FileNotFoundError) + ((models.ModelLoadError,) if models else ())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except Exception as error:
        if not isinstance(error, _expected_errors()):
            raise
        print(f"medassist {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 0
