"""One error hierarchy; the CLI maps it to exit codes and messages in one place."""

from __future__ import annotations

EXIT_INTERNAL = 70  # a bug in gradcli (sysexits EX_SOFTWARE): the message asks for a report
EXIT_IO = 74  # an input/output error: disk full, a file that can't be read or written (EX_IOERR)
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it


class GradcliError(Exception):
    """Base of every error a user can cause. `exit_code` follows SPEC §4."""

    exit_code = 2
    # The message as the command line says it, where it differs from the API's (it names an option,
    # `--at y=…`, where the API names an argument): the CLI prints this one when it is set.
    cli_message: str | None = None

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # extra lines (source with a caret), printed below

    def __str__(self) -> str:
        return self.message if not self.detail else f"{self.message}\n{self.detail}"


class UsageError(GradcliError):
    """Bad options or arguments: exit 2."""


class GrammarError(GradcliError):
    """The text is not a valid program (syntax, unknown function, arity): exit 2."""


class EvaluationError(GradcliError):
    """The program cannot be evaluated at the point: exit 3."""

    exit_code = 3


class UnboundError(EvaluationError):
    """A free variable has no value."""

    def __init__(self, message: str, missing: list[str], cli_message: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing
        self.cli_message = cli_message


class DomainError(EvaluationError):
    """A primitive was applied outside its domain."""


class ShapeError(EvaluationError):
    """Operand shapes don't fit together."""


class NotDifferentiableError(UsageError):
    """A derivative was asked in an argument that has none (a Bessel order, a gamma shape parameter): exit 2."""


class InputOutputError(GradcliError):
    """A file or stream can't be read or written (disk full, EIO, permission): exit 74."""

    exit_code = EXIT_IO


class MismatchError(GradcliError):
    """A check or verification found a disagreement: exit 1."""

    exit_code = 1


def input_file_error(exc: OSError, path: object, kind: str = "file", prefix: str = "") -> GradcliError:
    """An input file that can't be opened, as the user's error: missing or a directory (exit 2), else I/O (exit 74).
    `kind` names what the file was for ("points file"); `prefix` the option that named it ("--at x=@data.csv: ")."""
    if isinstance(exc, FileNotFoundError):
        return UsageError(f"{prefix}no such {kind}: {path}")
    if isinstance(exc, IsADirectoryError):
        return UsageError(f"{prefix}{path} is a directory, not a {kind}")
    return InputOutputError(f"can't read {path}: {exc.strerror}")
