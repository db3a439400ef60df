"""One registry idiom for everything gkd looks up by name: methods, models and datasets.

Each kind has one ``Registry`` (``gkd.distill.registry.METHODS``, ``gkd.models.zoo.MODELS``,
``gkd.data.catalog.DATASETS``). An entry registers itself in the file that defines it, with that
package's decorator (``@gkd.distill.register`` on a ``Distiller`` subclass, ``@register`` on a
model class, ``@register(...)`` on a dataset loader), and the package imports every module it
holds (``import_modules``), so a new file is all a new method, model or dataset needs.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one ``kind`` ("method", "model", "dataset") and their entries. A name registers
    once; looking up an unknown name raises ``UnknownNameError`` listing every valid one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a name that is empty or taken is an error."""
        if not name or name in self._entries:
            raise ValueError(f"{self.kind} name {name!r} is empty or taken")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> T:
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._entries[name]) for name in self.names()]


def check_options(kind: str, name: str, function: Callable, options: Iterable[str],
                  fixed: Iterable[str] = ("self",)) -> None:
    """Raise ``TypeError`` naming every one of ``options`` that ``function`` (a constructor or
    factory of the ``kind`` called ``name``) does not take, with the ones it does; ``fixed``: its
    parameters that are not options. A function with ``**kwargs`` takes any name: it checks its own."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return
    valid = [p.name for p in parameters if p.name not in set(fixed) and p.kind != p.VAR_POSITIONAL]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"{kind} {name!r} has no option {', '.join(unknown)}; its options: "
                        f"{', '.join(valid) or 'none'}")


def resolved_options(function: Callable, options: dict, fixed: Iterable[str] = ("self",)) -> dict:
    """Every option of ``function`` with its value: ``options`` over the signature's defaults
    (parameters without a default, or named in ``fixed``, are not options)."""
    parameters = inspect.signature(function).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.name not in set(fixed)
                and p.default is not p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return {**defaults, **options}


def import_modules(package: str, path: Iterable[str]) -> None:
    """Import every module of ``package`` (its ``__name__`` and ``__path__``), so that the entries
    they define register themselves."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
