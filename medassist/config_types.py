"""Values checked against the annotations of plain-data config classes: the type machinery behind
`medassist.config` (which holds the classes, their ranges and the profiles).

`convert` turns a parsed value (JSON, YAML, a --set override) into the annotated type, or INVALID: an int where a
float is expected, a list where a tuple is, one string for a one-item tuple. Errors are one line (`ConfigError`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from typing import Any

import yaml


class ConfigError(ValueError):
    """A setting is unknown, of the wrong type or out of range; the message names it (one line)."""


INVALID = object()


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """`value` as the annotated type (an int where a float is expected, a list where a tuple is), or ConfigError."""
    converted = convert(value, annotation)
    if converted is INVALID:
        raise ConfigError(f"{key} must be {describe(annotation)}, got {show(value)}")
    return converted


def convert(value: Any, annotation: Any) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            converted = convert(value, option)
            if converted is not INVALID:
                return converted
        return INVALID
    if annotation is type(None):
        return None if value is None else INVALID
    if annotation is bool:
        return value if isinstance(value, bool) else INVALID
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else INVALID
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return INVALID
        try:
            return float(value.strip() if isinstance(value, str) else value)  # YAML 1.1 reads 1e-4 as a string
        except (ValueError, OverflowError):
            return INVALID
    if annotation is str:
        return value if isinstance(value, str) else INVALID
    if origin in (tuple, list):
        if origin is tuple and isinstance(value, str):
            value = [value]  # lora.target_modules=q_proj: one module
        if not isinstance(value, (list, tuple)):
            return INVALID
        items = [convert(item, args[0]) for item in value]
        if any(item is INVALID for item in items):
            return INVALID
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            return INVALID
        pairs = [(convert(k, args[0]), convert(v, args[1])) for k, v in value.items()]
        if any(k is INVALID or v is INVALID for k, v in pairs):
            return INVALID
        return dict(pairs)
    raise TypeError(f"no validation rule for the annotation {annotation!r}")


def accepts_str(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return str in typing.get_args(annotation)
    return annotation is str


def describe(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        text = " or ".join(describe(a) for a in args if a is not type(None))
        return f"{text} or null" if type(None) in args else text
    names = {bool: "a bool (true or false)", int: "an int", float: "a float", str: "a string"}
    if annotation in names:
        return names[annotation]
    plural = {bool: "bools", int: "ints", float: "floats", str: "strings"}
    if origin in (tuple, list):
        return f"a list of {plural.get(args[0], 'values')}"
    if origin is dict:
        return f"a mapping of {plural.get(args[0], 'values')} to {plural.get(args[1], 'values')}"
    return str(annotation)


def show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(error: BaseException) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:  # YAML's own text spans several lines
        mark = error.problem_mark
        return f"{error.problem}" + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")
    return " ".join(str(error).split())


def leaf_settings(config: Any) -> typing.Iterator[tuple[str, Any, Any]]:
    """(dotted key, value, annotation) for every leaf setting."""
    for name, annotation in type_hints(type(config)).items():
        value = getattr(config, name)
        if dataclasses.is_dataclass(annotation):
            for field_name, field_annotation in type_hints(annotation).items():
                yield f"{name}.{field_name}", getattr(value, field_name), field_annotation
        else:
            yield name, value, annotation


def annotation_at(root: type, parts: list[str]) -> Any:
    """The annotated type at a dotted path below `root` (a section, a field, or a value inside a mapping field);
    None if unknown."""
    annotation: Any = root
    for part in parts:
        if dataclasses.is_dataclass(annotation):
            annotation = type_hints(annotation).get(part)
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None
        if annotation is None:
            return None
    return annotation


def leaf_keys(root: type) -> list[str]:
    """Every dotted key of `root`: its own fields and one level of sections."""
    keys = []
    for name, annotation in type_hints(root).items():
        if dataclasses.is_dataclass(annotation):
            keys.extend(f"{name}.{field_name}" for field_name in type_hints(annotation))
        else:
            keys.append(name)
    return keys


def suggestion(key: str, keys: list[str]) -> str:
    """"; did you mean 'train.learning_rate'?" for a misspelled or unqualified key, else ""."""
    leaf = key.rsplit(".", 1)[-1]
    matches = [k for k in keys if k.rsplit(".", 1)[-1] == leaf and k != key]
    matches = matches or difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if not matches:
        close = difflib.get_close_matches(leaf, [k.rsplit(".", 1)[-1] for k in keys], n=1, cutoff=0.75)
        matches = [k for k in keys if close and k.rsplit(".", 1)[-1] == close[0]]
    return f"; did you mean {' or '.join(repr(m) for m in matches[:3])}?" if matches else ""
