"""`gradcli repl`: an interactive calculator that is a thin loop over the CLI's own commands.

Every line becomes an argument list that runs through the very dispatcher the `gradcli` program uses
(entry.dispatch: the fast path or the Typer app), so a command on a line has the options, output and
errors it has on the command line. The session only adds what a calculator needs: bindings (`a = 3`,
passed as --at to the commands whose expression uses them), definitions (`g = x^2 + 1`, `f(t) = ...`,
kept as program text and put before the expressions that use them), and `ans`.

prompt_toolkit is imported here only, and only for a terminal; with stdin not a terminal the lines
are read as a script, and a plain input() prompt stands in when prompt_toolkit can't start.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import GradcliError, UsageError
from .cmdline import KEYWORDS, META, Line, OptionInfo, classify, given_names, names_in, translate

PROMPT = "gradcli> "


def history_path() -> Path:
    """$XDG_STATE_HOME/gradcli/history, or ~/.local/state/gradcli/history (the XDG default)."""
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "gradcli" / "history"


class Quit(Exception):
    """The user asked to leave (:quit, quit, exit)."""


class Definition(NamedTuple):
    """A session definition kept as program text: `g = x^2 + 1` or `f(t) = t^2 + 1`."""

    name: str
    text: str  # the statement, put before an expression that uses the name
    body: str
    params: tuple[str, ...] | None = None  # a function's parameters


class Commands:
    """The CLI's commands, asked of the Typer app itself (loaded once, at first need)."""

    def __init__(self) -> None:
        self._group: Any = None
        self._options: dict[str, dict[str, OptionInfo]] = {}

    def group(self) -> Any:
        if self._group is None:
            import typer.main

            from .app import app

            self._group = typer.main.get_command(app)
        return self._group

    @property
    def loaded(self) -> bool:
        return self._group is not None

    def names(self) -> set[str]:
        return set(self.group().commands)

    def help(self, name: str) -> str:
        command = self.group().commands.get(name)
        return command.get_short_help_str(limit=70) if command is not None else ""

    def options(self, name: str) -> dict[str, OptionInfo]:
        """Every spelling of every option of a command (--at and -a) → whether it takes a value, its help."""
        if name not in self._options:
            table: dict[str, OptionInfo] = {}
            command = self.group().commands.get(name)
            for param in getattr(command, "params", []):
                if getattr(param, "param_type_name", "") != "option":
                    continue
                info = OptionInfo(not getattr(param, "is_flag", False), getattr(param, "help", "") or "", _choices(param))
                for spelling in [*param.opts, *param.secondary_opts]:
                    table[spelling] = info
            table.setdefault("--help", OptionInfo(False, "Show the command's help."))
            table.setdefault("-h", table["--help"])
            self._options[name] = table
        return self._options[name]


def _choices(param: Any) -> tuple[str, ...]:
    """The values an option accepts when it is a choice (--format, --mode), else ()."""
    kind = getattr(param, "type", None)
    choices = getattr(kind, "choices", None)
    if choices:
        return tuple(str(getattr(c, "value", c)) for c in choices)
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    import enum

    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return tuple(str(m.value) for m in candidate)
    return ()


class Session:
    """The state of one REPL session, and how one line runs."""

    def __init__(self) -> None:
        self.bindings: dict[str, str] = {}  # name → its value as --at reads it ("3", "[[1, 2], [3, 4]]")
        self.definitions: dict[str, Definition] = {}
        self.commands = Commands()
        self._warm: threading.Thread | None = None
        self._report: Any = None
        self._program = ""  # the program text of the last command line (definitions put before it)
        self._checked: tuple[str, str | None] = ("", None)  # the live check's last line and verdict

    # Start-up: the prompt shows first; numpy, the language and Typer load while the user types.
    def warm_up(self) -> None:
        if self._warm is not None:
            return

        def load() -> None:
            try:
                from ..engine import primitives  # noqa: F401
                from ..language import syntax  # noqa: F401

                self.commands.group()
            except Exception:  # noqa: BLE001 - the same import fails again, with its message, when it is needed
                pass

        self._warm = threading.Thread(target=load, name="gradcli-warm-up", daemon=True)
        self._warm.start()

    def ready(self, wait: bool = True) -> bool:
        """Whether the warm-up is done; with wait, after waiting for it (so imports never run in two threads)."""
        if self._warm is not None:
            if not wait and self._warm.is_alive():
                return False
            self._warm.join()
            self._warm = None
        return True

    # One line.
    def run(self, text: str) -> int:
        """Run one line; its exit code (SPEC §4), 0 for success. Raises Quit. Never raises for bad input."""
        from .commands import guarded

        self.ready()
        code, leave = 0, False

        def body() -> None:
            nonlocal code, leave
            try:
                code = self._run(text)
            except Quit:
                leave = True

        failed = guarded(body)
        if leave:
            raise Quit
        return failed or code

    def _run(self, text: str) -> int:
        line = classify(text, self.commands.names())
        if line.kind == "empty":
            return 0
        if line.kind == "quit":
            raise Quit
        if line.kind == "meta":
            return self._meta(line)
        if line.kind == "help":
            if line.args:
                return self.dispatch([line.args[0], "--help"])
            self._say(self.help_text())
            return 0
        if line.kind == "define":
            self._define(line)
            return 0
        if line.kind == "command":
            if line.name == "repl":
                raise UsageError("this is the REPL already: type a command or an expression (:help)")
            words = line.text.split()[1:]
            options = self.commands.options(line.name) if any(w.startswith("-") for w in words) else None
            line = translate(line, options)
            return self._command(line.name, line.args, line.expression)
        return self._command("eval", ["--format", "plain"], line.expression)  # a calculator's answer: the number

    def _command(self, command: str, args: list[str], expression: str | None) -> int:
        argv = self.argv(command, args, expression)
        self._report = None
        code = self.dispatch(argv)
        if code == 0 and self._report is not None:
            self._remember(self._report)
        elif code == 3 and expression is not None and "--points" not in args:
            given = given_names(args) | set(self.bindings)
            missing = [v for v in self._variables(self._program) if v not in given]
            if missing:
                from .commands import say

                say(f"gradcli: note: {missing[0]} = … binds {missing[0]} for the rest of the session", err=True)
        return code

    def argv(self, command: str, args: list[str], expression: str | None) -> list[str]:
        """The CLI's arguments for a command line: the definitions it uses put before its expression,
        and the session's bindings of its variables added as --at (unless the line gives them itself)."""
        if expression is None:
            return [command, *args]  # the command says what is missing, as on the command line
        if expression == "-":
            raise UsageError("the REPL reads its lines from stdin, so - can't be the expression: type it, or use @FILE")
        program = expression
        if self.definitions:
            from ..batch.points import read_program

            source = read_program(expression)
            used = self.used_definitions(names_in(source))
            if used:
                from ..language.syntax import parse

                parse(source)  # a syntax error is shown in the line as typed, not in the program built from it
                program = "\n".join([*(d.text for d in used), source])
        self._program = program
        extra: list[str] = []
        if self.bindings and not any(a == "--points" or a.startswith("--points=") for a in args):
            given = given_names(args)
            for name in self._variables(program):
                if name in self.bindings and name not in given:
                    extra += ["--at", f"{name}={self.bindings[name]}"]
        if program.startswith("-"):
            return [command, *args, *extra, "--", program]
        return [command, program, *args, *extra]

    @staticmethod
    def _variables(program: str) -> tuple[str, ...]:
        from ..api import compile
        from ..batch.points import read_program

        try:
            return compile(read_program(program)).variables
        except GradcliError:
            return ()  # the command itself reports what is wrong with it

    def used_definitions(self, names: Iterable[str], skip: Iterable[str] = ()) -> list[Definition]:
        """The definitions these names use, directly or through other definitions: each after the ones
        it uses (g = k + 1 defined before k = 2*z still comes after it), otherwise in the order defined."""
        skipped = set(skip)
        wanted = set(names)

        def uses(name: str) -> list[str]:
            d = self.definitions[name]
            inner = names_in(d.body) - set(d.params or ())
            return [n for n in self.definitions if n in inner and n != name and n not in skipped]

        order: list[str] = []
        done: set[str] = set()
        for root in [n for n in self.definitions if n in wanted and n not in skipped]:
            stack = [(root, iter(uses(root)))]  # depth first, without recursion; a cycle is cut where it closes
            seen = {root}
            while stack:
                name, pending = stack[-1]
                following = next((n for n in pending if n not in done and n not in seen), None)
                if following is None:
                    stack.pop()
                    if name not in done:
                        done.add(name)
                        order.append(name)
                else:
                    seen.add(following)
                    stack.append((following, iter(uses(following))))
            done |= seen
        return [self.definitions[n] for n in order]

    def dispatch(self, argv: list[str]) -> int:
        """Run the CLI on these arguments, in this process: the same code path as `gradcli ARGS...`."""
        from . import commands, entry

        commands.listeners.append(self._listen)
        try:
            entry._dispatch(argv, prog_name="gradcli")
        except SystemExit as stop:
            return _exit_code(stop.code)
        finally:
            commands.listeners.remove(self._listen)
        return 0

    def _listen(self, report: Any) -> None:
        self._report = report

    def _remember(self, report: Any) -> None:
        """ans: the last result that printed as one number or array (a value, a derivative)."""
        plain = getattr(report, "plain", [])
        if len(plain) == 1 and len(plain[0]) <= 1_000_000 and _is_constant(plain[0]):  # not re-read a huge array
            self.bindings["ans"] = plain[0]

    # Definitions.
    def _define(self, line: Line) -> None:
        from ..engine.primitives import CONSTANTS, FUNCTIONS
        from ..language.syntax import parse

        name, body = line.name, line.expression or ""
        if name in CONSTANTS:
            raise UsageError(f"{name} is a constant and keeps its value; choose another name")
        if name in FUNCTIONS:
            raise UsageError(f"{name} is a built-in function; choose another name")
        if name == "ans":
            raise UsageError("ans is the last result; choose another name")
        if line.params is not None:
            for p in line.params:
                if not p.isidentifier():
                    what = p or "an empty name"
                    raise UsageError(f"{what} can't be a parameter of {name}: expected names, e.g. {name}(t) = t^2")
        try:
            parse(line.text)  # the syntax as typed: the caret under the column of this line
        except GradcliError as exc:
            if line.params is not None and not _has_functions():
                message = f"this version of the language has no function definitions ({exc.message})"
                raise UsageError(message, exc.detail) from None
            raise
        old = self.definitions.get(name)
        if old is not None and (old.params is None) != (line.params is None):
            what = "a function" if old.params is not None else "a formula"
            raise UsageError(f"{name} is {what} ({old.text}): :clear {name} first to replace it, or choose another name")
        if line.params is not None:
            self._define_function(line)
            return
        if old is not None and name in names_in(body):
            why = f"{name}, which is the formula {old.text}"
            raise UsageError(f"{name} = … uses {why}: a formula can't refer to itself; choose another name")
        self._refuse_cycles(name, body)
        used = self.used_definitions(names_in(body), skip=(name,))
        from ..api import compile

        program = "\n".join([*(d.text for d in used), body])
        expr = compile(program)
        if all(v in self.bindings for v in expr.variables):
            from ..numfmt import format_value

            point = expr.bind({v: _value(self.bindings[v]) for v in expr.variables})
            (value,) = expr.values(point)
            text = format_value(value)
            if _is_constant(text):
                self.definitions.pop(name, None)
                self.bindings[name] = text
                return
        if name in expr.variables:  # a = a + 1 updates a value; as a formula it would refer to itself
            why = f"{name} has no value yet" if name not in self.bindings else "the result is not a number"
            raise UsageError(f"{name} = … uses {name} itself and {why}: a formula can't refer to itself; choose another name")
        self.bindings.pop(name, None)
        self.definitions[name] = Definition(name, f"{name} = {body}", body)

    def _refuse_cycles(self, name: str, body: str) -> None:
        """name = body where body uses, through other formulas, name itself: say which chain closes the cycle."""
        parent: dict[str, str] = {}
        todo = [n for n in self.definitions if n in names_in(body) and n != name]
        for n in todo:
            parent[n] = name
        while todo:
            current = todo.pop()
            d = self.definitions[current]
            inner = names_in(d.body) - set(d.params or ())
            if name in inner:
                chain = [current]
                while chain[-1] != name:
                    chain.append(parent[chain[-1]])
                steps = [name, *reversed(chain[:-1]), name]
                path = ", ".join(f"{a} uses {b}" for a, b in zip(steps, steps[1:]))
                raise UsageError(f"{name} = … would make a cycle ({path}): choose another name")
            for n in self.definitions:
                if n in inner and n not in parent and n != name:
                    parent[n] = current
                    todo.append(n)

    def _define_function(self, line: Line) -> None:
        from ..api import compile

        name, params = line.name, line.params or ()
        body = line.expression or ""
        used = self.used_definitions(names_in(body) - set(params), skip=(name,))
        probe = f"{name}({', '.join('0' for _ in params)})"
        compile("\n".join([*(d.text for d in used), line.text, probe]))  # unknown names and arities show now
        self.bindings.pop(name, None)
        self.definitions[name] = Definition(name, line.text, body, params)

    # Session commands.
    def _meta(self, line: Line) -> int:
        word = line.name
        if word in (":quit", ":q", ":exit"):
            raise Quit
        if word == ":vars":
            rows = [f"{n} = {v}" for n, v in self.bindings.items()]
            rows += [d.text for d in self.definitions.values() if d.params is None]
            self._say("\n".join(rows) if rows else "no variables yet: a = 3 binds one, g = x^2 + 1 defines one")
        elif word == ":funcs":
            rows = [d.text for d in self.definitions.values() if d.params is not None]
            self._say("\n".join(rows) if rows else "no functions yet: f(t) = t^2 + 1 defines one")
        elif word == ":clear":
            if not line.args:
                self.bindings.clear()
                self.definitions.clear()
                return 0
            unknown = [n for n in line.args if n not in self.bindings and n not in self.definitions]
            if unknown:
                raise UsageError(f":clear: {', '.join(unknown)} not defined (:vars and :funcs list what is)")
            for n in line.args:
                self.bindings.pop(n, None)
                self.definitions.pop(n, None)
        elif word == ":help":
            if line.args:
                return self.dispatch([line.args[0], "--help"])
            self._say(self.help_text())
        else:
            import difflib

            close = difflib.get_close_matches(word, [*META, ":q", ":exit"], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"unknown session command {word}{hint} (:help lists them)")
        return 0

    def help_text(self) -> str:
        names = sorted(self.commands.names() - {"repl"})
        width = max(len(n) for n in names) if names else 0
        lines = [
            "Type an expression to evaluate it, or a command as on the command line:",
            '  x^2 + 1            diff sin(x)*y at x=1, y=2      diff "sin(x)*y" --at x=1,y=2 --format json',
            "Definitions last for the session: a = 3 (a binding, given as --at to commands that use a),",
            "W = [[1,2],[3,4]], g = x^2 + 1 (a formula), f(t) = t^2 + 1 (a function); ans is the last result.",
            "",
            "Commands (help COMMAND for its options):",
            *(f"  {n.ljust(width)}  {self.commands.help(n)}" for n in names),
            "",
            "Session commands:",
            *(f"  {k.ljust(7)}  {v}" for k, v in META.items()),
            "",
            "Tab completes; Ctrl-R searches the history; Ctrl-C cancels the line; Ctrl-D leaves.",
        ]
        return "\n".join(lines)

    # Live checking (the prompt turns the line red before Enter).
    def problem(self, text: str) -> str | None:
        """Why the line can't run as typed (a syntax error), or None; cheap enough to run on every key."""
        if len(text) > 4000 or not self.ready(wait=False):
            return None
        if self._checked[0] != text:  # the lexer and the toolbar ask about the same text at each key
            self._checked = (text, self._problem(text))
        return self._checked[1]

    def _problem(self, text: str) -> str | None:
        from ..language.syntax import parse

        try:
            line = classify(text, self.commands.names())
            expression = line.expression
            if line.kind == "define":
                expression = line.text
            elif line.kind == "command":
                words = line.text.split()[1:]
                options = self.commands.options(line.name) if any(w.startswith("-") for w in words) else None
                expression = translate(line, options).expression
            elif line.kind != "expression":
                return None
            if not expression or expression == "-" or expression.startswith("@"):
                return None
            parse(expression)
        except GradcliError as exc:
            return exc.message
        return None

    @staticmethod
    def _say(text: str) -> None:
        from .commands import say

        say(text)


def _has_functions() -> bool:
    """Whether the language parses a function definition (`f(t) = t; f(1)`): user functions come with it."""
    from ..language.syntax import parse

    try:
        parse("f(t) = t\nf(1)")
    except GradcliError:
        return False
    return True


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _value(text: str) -> Any:
    from ..api import compile

    return compile(text).value({})


def _is_constant(text: str) -> bool:
    """Whether a result's text reads back as a binding (a number or array; not nan, not a formula)."""
    from ..api import compile

    try:
        expr = compile(text)
    except GradcliError:
        return False
    return not expr.variables and len(expr.output_names) == 1


# The loops.
def main() -> int:
    """`gradcli repl`: interactive on a terminal, a script otherwise. The exit code of the session."""
    from .entry import _terminal

    session = Session()
    if sys.stdin is None:
        from .commands import guarded

        def closed() -> None:
            raise UsageError("the REPL reads its lines from stdin, but stdin is closed")

        return guarded(closed)
    if not _terminal(sys.stdin):
        return run_script(session, sys.stdin)
    if _terminal(sys.stdout):
        try:
            return interactive(session)
        except _NoPrompt:
            pass
    return plain_loop(session)


def run_script(session: Session, lines: Iterable[str]) -> int:
    """Each line run in turn, results printed; an error doesn't stop the rest. The exit code is the first
    failing line's (0 when every line succeeded)."""
    first_failure = 0
    for text in lines:
        try:
            code = session.run(text.rstrip("\r\n"))
        except Quit:
            break
        first_failure = first_failure or code
    return first_failure


class _NoPrompt(Exception):
    """prompt_toolkit isn't installed or can't drive this terminal: the plain prompt is used."""


def plain_loop(session: Session, read: Any = input) -> int:
    """The prompt without prompt_toolkit: input(), and the history file still written."""
    path = history_path()
    session.warm_up()
    while True:
        try:
            text = read(PROMPT)
        except EOFError:
            sys.stdout.write("\n")
            return 0
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            continue
        _append_history(path, text)
        if _run_interactive(session, text):
            return 0


def _run_interactive(session: Session, text: str) -> bool:
    """Run one typed line; True when it asked to leave. Ctrl-C while it runs cancels it, not the session."""
    try:
        session.run(text)
    except Quit:
        return True
    except KeyboardInterrupt:
        sys.stderr.write("gradcli: interrupted\n")
    return False


def _append_history(path: Path, text: str) -> None:
    """One entry in prompt_toolkit's FileHistory format (so both prompts share the file)."""
    if not text.strip():
        return
    import datetime

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"\n# {datetime.datetime.now()}\n" + "".join(f"+{line}\n" for line in text.split("\n")))
    except OSError:
        pass  # a read-only home: the session works without history


def interactive(session: Session, input: Any = None, output: Any = None, history: Path | None = None) -> int:
    """The prompt_toolkit prompt: history (Ctrl-R searches it), Tab completion, the line red while it can't parse."""
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.styles import Style
    except ImportError as exc:
        raise _NoPrompt from exc
    # No cursor-position requests: before leaving, prompt_toolkit waits up to a second (more under load) for the
    # terminal's answer, and a terminal or multiplexer that doesn't answer made Ctrl-D take seconds (review 23).
    os.environ.setdefault("PROMPT_TOOLKIT_NO_CPR", "1")
    path = history or history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        store: Any = FileHistory(str(path))
    except OSError:
        store = InMemoryHistory()
    try:
        prompt = PromptSession(
            history=store,
            completer=completer(session),
            lexer=lexer(session),
            complete_while_typing=False,
            bottom_toolbar=lambda: _toolbar(session, prompt),
            style=Style.from_dict({"invalid": "fg:ansired", "bottom-toolbar": "noreverse fg:ansired"}),
            input=input,
            output=output,
        )
    except Exception as exc:  # noqa: BLE001 - no usable terminal (prompt_toolkit raises several kinds)
        raise _NoPrompt from exc

    def first_drawn(_: Any) -> None:  # the warm-up starts once the prompt is on the screen, not before
        prompt.app.after_render -= first_drawn
        session.warm_up()

    prompt.app.after_render += first_drawn
    while True:
        try:
            text = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue  # Ctrl-C: the line is dropped, the session goes on
        except EOFError:
            return 0
        if _run_interactive(session, text):
            return 0


def _toolbar(session: Session, prompt: Any) -> str:
    try:
        text = prompt.default_buffer.text
    except Exception:  # noqa: BLE001
        return ""
    message = session.problem(text) if text.strip() else None
    return message or ""


def lexer(session: Session) -> Any:
    """The whole line in red while it can't parse (prompt_toolkit's Lexer protocol)."""
    from prompt_toolkit.lexers import Lexer

    class Checking(Lexer):
        def lex_document(self, document: Any) -> Any:
            style = "class:invalid" if document.text.strip() and session.problem(document.text) else ""
            lines = document.lines

            def line(k: int) -> list[tuple[str, str]]:
                return [(style, lines[k])] if k < len(lines) else []

            return line

    return Checking()


def completer(session: Session) -> Any:
    from prompt_toolkit.completion import Completer, Completion

    class Complete(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterator[Any]:
            for text, start, display, meta in candidates(session, document.text_before_cursor):
                yield Completion(text, start_position=start, display=display, display_meta=meta)

    return Complete()


def signature(name: str, arities: Iterable[int]) -> str:
    """sin(x), atan2(x, y), log(x) | log(x, y): from the primitives table's arities."""
    letters = ["x", "y", "z", "w"]
    forms = [
        f"{name}({', '.join(letters[k] if k < 4 else f'x{k}' for k in range(n))})" if n >= 0 else f"{name}(x, …)"
        for n in sorted(arities)
    ]
    return " | ".join(forms)


def candidates(session: Session, before: str) -> list[tuple[str, int, str, str]]:
    """What Tab offers at the end of `before`: (text to insert, start offset, shown as, description)."""
    import re

    session.ready()
    stripped = before.lstrip()
    if stripped.startswith(":") and " " not in stripped:
        return [(k, -len(stripped), k, v) for k, v in META.items() if k.startswith(stripped)]
    commands = session.commands.names() - {"repl"}
    words = stripped.split()
    first = words[0] if words else ""
    in_command = first in commands and (len(words) > 1 or before.endswith(" "))
    current = "" if before.endswith((" ", "\t")) or not words else words[-1]
    if in_command and current.startswith("-"):
        options = session.commands.options(first)
        return [(o, -len(current), o, options[o].help) for o in sorted(options) if o.startswith(current) and o != "-h"]
    previous = words[-1] if current == "" and words else words[-2] if len(words) >= 2 else ""
    if in_command and previous.startswith("-"):
        info = session.commands.options(first).get(previous.partition("=")[0])
        if info is not None and info.choices:
            return [(c, -len(current), c, "") for c in info.choices if c.startswith(current)]
    m = re.search(r"(?!\d)\w*$", before)
    prefix = m.group(0) if m else ""
    out: list[tuple[str, int, str, str]] = []
    at_start = stripped == prefix
    if at_start:
        out += [(c, -len(prefix), c, session.commands.help(c)) for c in sorted(commands) if c.startswith(prefix)]
        out += [(w, -len(prefix), w, "session") for w in ("help", "quit") if w.startswith(prefix)]
    if in_command and len(words) >= 2 and prefix == current:
        out += [(k, -len(prefix), k, f"keyword: {v}") for k, v in KEYWORDS.items() if k.startswith(prefix)]
    from ..engine.primitives import CONSTANTS, FUNCTIONS
    from ..numfmt import format_number

    for name in sorted(FUNCTIONS):
        if name.startswith(prefix):
            arities = sorted(FUNCTIONS[name])
            count = " or ".join(str(n) if n >= 0 else "any number of" for n in arities)
            docs = "; ".join(p.doc for p in FUNCTIONS[name].values() if p.doc)
            meta = f"function of {count} argument{'s' if arities != [1] else ''}" + (f": {docs}" if docs else "")
            out.append((name + "(", -len(prefix), signature(name, arities), meta))
    for name in sorted(CONSTANTS):
        if name.startswith(prefix):
            out.append((name, -len(prefix), name, f"constant = {format_number(CONSTANTS[name])}"))
    for name, value in session.bindings.items():
        if name.startswith(prefix):
            out.append((name, -len(prefix), name, "= " + (value if len(value) <= 40 else value[:37] + "...")))
    for name, d in session.definitions.items():
        if name.startswith(prefix):
            if d.params is None:
                out.append((name, -len(prefix), name, f"= {d.body}"))
            else:
                out.append((name + "(", -len(prefix), f"{name}({', '.join(d.params)})", f"= {d.body}"))
    return out
