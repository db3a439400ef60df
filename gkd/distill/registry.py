"""The registry of methods: ``register`` (a decorator on a ``Distiller`` subclass, which names
itself in ``name``), ``get``, ``available``. ``gkd.distill`` imports every module of its folder, so
a new method file needs no other edit. Methods combine with ``+``
(``gkd.distill.compose.Composite``)."""
from __future__ import annotations

from typing import TypeVar

from ..registry import Registry, check_options, resolved_options
from .base import TAUGHT_BY, Distiller
from .compose import SEPARATOR, Composite

METHODS: Registry[type[Distiller]] = Registry("method")

D = TypeVar("D", bound=type[Distiller])


def register(cls: D) -> D:
    """Class decorator: add a ``Distiller`` subclass to the methods under its ``name``."""
    METHODS.add(cls.name, cls)
    return cls


def available() -> list[str]:
    """Every registered method name."""
    return METHODS.names()


def registered(name: str) -> type[Distiller]:
    """The class registered under ``name``."""
    return METHODS[name]


def kinds_of(name: str) -> tuple[str, ...]:
    """The task kinds method ``name`` (or every part of a ``+`` combination) is built for."""
    parts = [set(registered(part.strip()).kinds) for part in name.split(SEPARATOR)]
    return tuple(k for k in ("node", "graph", "image", "link") if all(k in p for p in parts))


def taught_by_of(name: str) -> str:
    """Who teaches method ``name`` (``Distiller.taught_by``; a ``+`` combination names each way of
    its parts, as ``Composite`` does: ``teacher+self``)."""
    if SEPARATOR not in name:
        return registered(name).taught_by
    ways = {registered(part.strip()).taught_by for part in name.split(SEPARATOR)} - {"labels"}
    return "+".join(w for w in TAUGHT_BY if w in ways) or "labels"


def student_model_of(name: str) -> str | None:
    """The student architecture method ``name`` (or a ``+`` combination) brings, if any."""
    own = {registered(part).student_model for part in name.split(SEPARATOR)} - {None}
    return next(iter(own), None)


def get(name: str, **options) -> Distiller:
    """An instance of method ``name`` with ``options`` (its constructor's keyword arguments).

    ``"a+b"`` combines methods (``gkd.distill.compose.Composite``); options then go per part,
    keyed by the part's name: ``get("glnn+srd", srd={"feat_weight": 1.0})``."""
    if SEPARATOR in name:
        names = [part.strip() for part in name.split(SEPARATOR)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise TypeError(f"options of a combination go per method, keyed by {names}; got {unknown}")
        return Composite([get(part, **options.get(part, {})) for part in names])
    cls = registered(name)
    check_options("method", name, cls.__init__, options)
    return cls(**options)


def options_of(name: str, **options) -> dict:
    """Every option of method ``name`` with the value ``get(name, **options)`` would use (the
    constructor's defaults under the given ones; per part for a ``+`` combination), so that a
    record names what ran even after a default changes."""
    if SEPARATOR in name:
        return {part.strip(): options_of(part.strip(), **options.get(part.strip(), {}))
                for part in name.split(SEPARATOR)}
    cls = registered(name)
    check_options("method", name, cls.__init__, options)
    return resolved_options(cls.__init__, options)
