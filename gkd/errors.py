"""The errors gkd raises at its users, each with a message that says what to do."""
from __future__ import annotations

from collections.abc import Iterable


class GkdError(Exception):
    """Base class of every error gkd raises on purpose."""


class UnknownNameError(GkdError, ValueError):
    """A dataset, model or method name that gkd does not know."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")


class DataNotFoundError(GkdError, FileNotFoundError):
    """A dataset that is neither on disk nor downloadable right now."""


class MismatchError(GkdError, ValueError):
    """Teacher and student (or model and task) do not fit together."""


class NonFiniteLossError(GkdError, FloatingPointError):
    """A loss term became NaN or infinite; the message names the term."""


class UnsupportedModuleError(GkdError, NotImplementedError):
    """A model or module that a routine has no rule for (interval bound propagation, layer-wise
    inference); the message names it and what is supported."""
