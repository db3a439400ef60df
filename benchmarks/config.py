"""Experiments as files: ``python -m benchmarks.run --config FILE`` reads a TOML file into the
values the command-line flags set and the entries a suite names, so one code path runs both.

The file's top level holds the run-wide settings (each one a flag of ``benchmarks.run``, its
dashes written as underscores), ``[options.METHOD]`` (a method's constructor options for every
experiment of the file) and one ``[[experiment]]`` table per entry::

    seeds = 2
    epochs = 2
    faithfulness = false

    [options.kd]
    temperature = 2.0

    [[experiment]]
    datasets = ["synthetic"]
    methods = ["none", "kd"]
    students = ["mlp"]

An experiment's own ``[experiment.options.METHOD]`` goes over the file's, which go over the
protocol's (``Protocol.method_options``). Every key is checked before any training: an unknown
one is an error naming it, the file and the valid keys; names (datasets, methods, teachers,
students, protocols) and counts are then checked as the flags' are (``benchmarks.run.main``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

from .suites import Entry

# the run-wide keys: key -> (the argparse destination it sets, the type its value must have)
RUN_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "seeds": ("seeds", int), "seed_start": ("seed_start", int), "epochs": ("epochs", int),
    "subset": ("subset", int), "budget": ("budget", dict), "fanouts": ("fanouts", list),
    "root": ("root", str), "out": ("out", str), "page": ("page", str), "title": ("title", str),
    "download": ("download", bool), "cache": ("no_cache", bool), "selection": ("selection", str),
    "faithfulness": ("no_faithfulness", bool), "progress": ("progress", bool), "device": ("device", str),
    "tensorboard": ("tensorboard", bool),
}
# keys whose flag says the opposite (``cache = false`` is ``--no-cache``)
NEGATED = {"cache", "faithfulness"}
TOP_KEYS = (*RUN_KEYS, "options", "experiment")
EXPERIMENT_KEYS = ("datasets", "methods", "teacher", "students", "split", "setting", "protocol", "paper",
                   "paper_pair", "options")
BUDGET_KEYS = ("epochs", "subset")


class ConfigError(ValueError):
    """A configuration file that cannot be run as written; the message names the file, the key
    and the fix."""


@dataclass(frozen=True)
class Config:
    """A parsed configuration file: ``values`` (argparse destination -> value, as the flags would
    set them) and ``entries`` (one per experiment and dataset, in the file's order)."""

    path: Path
    values: dict
    entries: tuple[Entry, ...]


def parse_budget(text: str) -> dict[str, int]:
    """``"epochs=20,subset=2000"`` -> ``{"epochs": 20, "subset": 2000}`` (either may be left out)."""
    budget = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in BUDGET_KEYS or not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(
                f"--budget takes epochs=N and/or subset=M (positive integers); got {text!r}")
        budget[key.strip()] = int(value)
    return budget


def parse_fanouts(text: str) -> tuple[int, ...]:
    """``"10,5"`` -> ``(10, 5)``."""
    try:
        fanouts = tuple(int(f) for f in text.split(","))
    except ValueError:
        fanouts = ()
    if not fanouts or any(f == 0 or f < -1 for f in fanouts):
        raise argparse.ArgumentTypeError(f"--fanouts takes positive counts or -1, comma-separated; got {text!r}")
    return fanouts


def load(path: str | Path) -> Config:
    """Read and check the configuration file at ``path``; raises ``ConfigError`` (one line)."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file; pass the path of a TOML file to --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); pass a readable UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    return parse(document, path)


def parse(document: dict, path: str | Path = "<config>") -> Config:
    """The ``Config`` of an already parsed TOML ``document`` (``path`` names it in errors)."""
    path = Path(path)
    _check_keys(document, TOP_KEYS, path, "the top level")
    values = {}
    for key, (dest, kind) in RUN_KEYS.items():
        if key in document:
            values[dest] = _run_value(key, _typed(document[key], kind, path, key), path)
    shared = _options(document.get("options", {}), path, "options")
    experiments = document.get("experiment", [])
    if not isinstance(experiments, list) or not experiments:
        raise ConfigError(f"{path}: no [[experiment]] table; add one naming its datasets and methods")
    entries = []
    for number, table in enumerate(experiments, 1):
        where = f"experiment {number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {where} is not a table; write it as [[experiment]] with keys under it")
        entries += _entries(table, shared, path, where)
    for method in shared:
        if not any(method in e.methods for e in entries):
            raise ConfigError(f"{path}: [options.{method}] names a method no experiment runs; add it to an "
                              f"experiment's methods or remove the table")
    _check_one_option_set(entries, path)
    return Config(path, values, tuple(entries))


def _check_keys(table: dict, valid: tuple[str, ...], path: Path, where: str) -> None:
    unknown = [k for k in table if k not in valid]
    if unknown:
        raise ConfigError(f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                          f"in {where}; valid keys: {', '.join(valid)}")


def _typed(value, kind: type | tuple[type, ...], path: Path, key: str):
    """``value`` when it is a ``kind`` (a bool is no int here), else a ``ConfigError``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join({int: "an integer", bool: "true or false", str: "a string", list: "a list",
                             dict: "a table"}[k] for k in kinds)
        raise ConfigError(f"{path}: {key} must be {names}, got {value!r}")
    return value


def _strings(value, path: Path, key: str) -> tuple[str, ...]:
    items = _typed(value, list, path, key)
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{path}: {key} must be a non-empty list of names, got {value!r}")
    return tuple(v.strip() for v in items)


def _run_value(key: str, value, path: Path):
    """A run-wide value as its flag sets it."""
    if key in NEGATED:
        return not value
    try:
        if key == "budget":
            _check_keys(value, BUDGET_KEYS, path, "budget")
            return parse_budget(",".join(f"{k}={_typed(v, int, path, f'budget.{k}')}" for k, v in value.items()))
        if key == "fanouts":
            if not all(isinstance(f, int) and not isinstance(f, bool) for f in value):
                raise argparse.ArgumentTypeError(f"fanouts takes a list of integers; got {value!r}")
            return parse_fanouts(",".join(str(f) for f in value))
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{path}: {exc} (key {key!r})") from None
    return value


def _options(table, path: Path, where: str) -> dict[str, dict]:
    """``[options.METHOD]`` tables: method name -> its options (checked against the method later)."""
    _typed(table, dict, path, where)
    for method, options in table.items():
        _typed(options, dict, path, f"{where}.{method}")
    return {method: dict(options) for method, options in table.items()}


def merge_options(base: dict, over: dict) -> dict:
    """``over`` on ``base``, tables merged key by key (a combination's per-part options)."""
    merged = dict(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_options(merged[key], value) if nested else value
    return merged


def _entries(table: dict, shared: dict[str, dict], path: Path, where: str) -> list[Entry]:
    """One ``Entry`` per dataset of the experiment ``table``."""
    _check_keys(table, EXPERIMENT_KEYS, path, where)
    for key in ("datasets", "methods"):
        if key not in table:
            raise ConfigError(f"{path}: {where} has no {key!r}; add {key} = [\"...\"]")
    datasets = _strings(table["datasets"], path, f"{where} datasets")
    methods = _strings(table["methods"], path, f"{where} methods")
    own = _options(table.get("options", {}), path, f"{where} options")
    for method in own:
        if method not in methods:
            raise ConfigError(f"{path}: {where} has options for {method!r}, which it does not run (methods: "
                              f"{', '.join(methods)}); add it to methods or remove the table")
    options = {m: merge_options(shared.get(m, {}), own.get(m, {})) for m in methods if m in shared or m in own}
    fields = {}
    for key in ("teacher", "split", "setting", "protocol", "paper"):
        if key in table:
            fields[key] = _typed(table[key], str, path, f"{where} {key}")
    if "students" in table:
        fields["students"] = _strings(table["students"], path, f"{where} students")
    if "paper_pair" in table:
        pair = _strings(table["paper_pair"], path, f"{where} paper_pair")
        if len(pair) != 2:
            raise ConfigError(f"{path}: {where} paper_pair names (teacher, student) as the paper does: two names, "
                              f"got {len(pair)}")
        fields["paper_pair"] = pair
    return [Entry(dataset, methods, options=options or None, **fields) for dataset in datasets]


def _check_one_option_set(entries: list[Entry], path: Path) -> None:
    """Two experiments running a method on the same dataset, setting, split and protocol with
    different options would fall into one summary row: refused."""
    seen: dict[tuple, dict] = {}
    for entry in entries:
        for method in entry.methods:
            where = (entry.dataset, entry.setting, entry.split, entry.protocol, entry.teacher, method)
            options = (entry.options or {}).get(method, {})
            if seen.setdefault(where, options) != options:
                raise ConfigError(f"{path}: {method!r} runs on {entry.dataset!r} twice with different options; "
                                  f"their runs would share one summary row: put each option set in a file of its "
                                  f"own with its own out (or use python -m benchmarks.sweep)")


def parse_option(text: str) -> tuple[str, dict]:
    """``"kd.temperature=2"`` -> ``("kd", {"temperature": 2})``: one method option of ``--options``,
    its value read as a TOML value (``2``, ``0.5``, ``true``, ``"mean"``; a bare word is a string);
    ``"glnn+srd.srd.beta=1"`` names a part of a combination."""
    name, equals, value = text.partition("=")
    method, dot, key = name.strip().partition(".")
    if not equals or not dot or not method or not key.strip():
        raise argparse.ArgumentTypeError(f"--options takes METHOD.OPTION=VALUE (e.g. kd.temperature=2); got {text!r}")
    try:
        parsed = tomllib.loads(f"value = {value.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    option: dict = {}
    inner = option
    *parents, last = key.strip().split(".")
    for part in parents:
        inner = inner.setdefault(part, {})
    inner[last] = parsed
    return method, option


def options_of_flags(pairs: list[tuple[str, dict]] | None) -> dict[str, dict]:
    """Every ``--options`` given, merged: method name -> its options."""
    options: dict[str, dict] = {}
    for method, option in pairs or []:
        options[method] = merge_options(options.get(method, {}), option)
    return options
