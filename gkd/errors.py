"""The errors gkd raises at its users, each with a message that says what to do."""
from __future__ import annotations

from collections.abc import Iterable


class GkdError(Exception):
    """Base class of every error gkd raises on purpose."""


class UnknownNameError(GkdError, ValueError):
    """A dataset, model or method name (or several) that gkd does not know; the message lists
    every unknown one and every valid one."""

    def __init__(self, kind: str, name: str | list[str], valid: Iterable[str]):
        self.kind, self.valid = kind, sorted(valid)
        self.names = [name] if isinstance(name, str) else list(name)
        self.name = self.names[0]
        unknown = ", ".join(repr(n) for n in self.names)
        plural = "s" if len(self.names) > 1 else ""
        super().__init__(f"unknown {kind}{plural} {unknown}; valid {kind}s: {', '.join(self.valid)}")


class DataNotFoundError(GkdError, FileNotFoundError):
    """A dataset that is neither on disk nor downloadable right now."""


class InvalidDataError(GkdError, ValueError):
    """Data whose content is wrong (a split index out of range, overlapping splits, an edge to no
    node, a label outside the classes, a non-finite feature, a file cut short or one that tries to
    run code); the message names the file or task and the first bad entry. ``part``: which part
    of a task was wrong (``split 'test'``, ``edges``, ``labels``, ``features``, ``rows``), so a
    loader can name the file it came from."""

    def __init__(self, message: str, part: str = ""):
        super().__init__(message)
        self.part = part


class MismatchError(GkdError, ValueError):
    """Teacher and student (or model and task) do not fit together."""


class NonFiniteLossError(GkdError, FloatingPointError):
    """A loss term became NaN or infinite; the message names the term."""


class UnsupportedModuleError(GkdError, NotImplementedError):
    """A model or module that a routine has no rule for (interval bound propagation, layer-wise
    inference); the message names it and what is supported."""
