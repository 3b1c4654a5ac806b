"""gradcli: a command-line gradient calculator and checker, and the Python API under it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers see of the lazy names below
    from .api import Expression
    from .errors import DomainError, EvaluationError, GradcliError, GrammarError, ShapeError, UnboundError, UsageError


def compile(source: str) -> Expression:  # noqa: A001 - as re.compile
    """Compile a gradcli program; see gradcli.api.Expression for what it gives."""
    from .api import compile as _compile

    return _compile(source)


def __getattr__(name: str) -> Any:
    if name in ("Expression",):
        from . import api

        return getattr(api, name)
    if name in ("GradcliError", "GrammarError", "EvaluationError", "DomainError", "UnboundError", "UsageError", "ShapeError"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(name)


__all__ = [
    "compile", "Expression", "__version__", "GradcliError", "GrammarError", "EvaluationError", "DomainError",
    "UnboundError", "UsageError", "ShapeError",
]  # fmt: skip
