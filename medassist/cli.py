"""`medassist` command line: one subcommand per pipeline stage, each a thin caller of the package."""

from __future__ import annotations

import argparse
import json
import sys

from .config import Config, PROFILES, apply_overrides, load_config, load_profile


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="cpu", help=f"named profile: {', '.join(PROFILES)} (default cpu)")
    parser.add_argument("--config", help="JSON/YAML config file; replaces the profile")
    parser.add_argument("--model", help="model source: embedded, tiny, a hub id, a local dir or a .gguf file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value, e.g. --set train.learning_rate=1e-4 (repeatable)")


def config_from_args(args: argparse.Namespace) -> Config:
    config = load_config(args.config) if args.config else load_profile(args.profile)
    overrides = list(args.overrides)
    if args.model:
        overrides.append(f"model={args.model}")
    if getattr(args, "source", None):
        overrides.append(f"data.source={args.source}")
    if getattr(args, "output", None):
        overrides.append(f"output_dir={args.output}")
    return apply_overrides(config, overrides)


def cmd_data(args: argparse.Namespace) -> None:
    from .data import format_report, prepare, report
    from .models import load_tokenizer

    config = config_from_args(args)
    splits = prepare(config.data)
    tokenizer = None if args.no_tokens else load_tokenizer(config.model)
    figures = report(splits, tokenizer, config.data.max_length)
    print(json.dumps(figures, indent=2) if args.json else f"Data report for {config.data.source}\n{format_report(figures)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medassist", description="LoRA fine-tuning of a small chat LLM for medical Q&A.")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="load, clean and split a dataset and print its report")
    _add_config_arguments(data)
    data.add_argument("--source", help="hub dataset id or local .json/.jsonl/.csv/.parquet file")
    data.add_argument("--json", action="store_true", help="print the report as JSON")
    data.add_argument("--no-tokens", action="store_true", help="skip token-length figures (no tokenizer load)")
    data.set_defaults(handler=cmd_data)

    return parser


def main(argv: list[str] | None = None) -> int:
    from .data import DataError
    from .models import ModelLoadError

    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (DataError, ModelLoadError, ValueError, FileNotFoundError) as error:
        print(f"medassist {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
