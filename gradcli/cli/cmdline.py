"""The REPL's line grammar: what one line typed at `gradcli>` means, before anything runs.

One grammar, tried in this order (README: "The interactive calculator"):

    (blank) | # comment            nothing
    :NAME [ARGS]                   a session command (:vars, :funcs, :clear, :help, :quit)
    help [COMMAND] | quit | exit   the same, for people who don't know the colon yet
    NAME = EXPR                    a definition (NAME(a, b) = EXPR defines a function)
    COMMAND WORDS...               a CLI command: the words are the command's own arguments, split as a
                                   shell splits them, and two keywords may stand for options:
                                   `at x=1, y=2` is `--at "x=1, y=2"`, `wrt x, y` is `--wrt "x, y"`;
                                   every other word that isn't an option is part of the expression
    anything else                  an expression, evaluated at the session's bindings (eval)

Pure text in, a `Line` out: no evaluation here, so the prompt's live check can use it on every key.
"""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

from ..errors import UsageError

KEYWORDS = {"at": "--at", "wrt": "--wrt"}
META = {
    ":vars": "the session's variables: bindings (a = 3) and definitions that use free variables",
    ":funcs": "the session's functions (f(t) = t^2 + 1)",
    ":clear": "forget every definition and ans (:clear a f: only those)",
    ":help": "this help (:help diff: the options of a command)",
    ":quit": "leave (Ctrl-D does too)",
}
_NAME = r"(?!\d)\w+"
_DEFINITION = re.compile(rf"^\s*(?P<name>{_NAME})\s*(?:\((?P<params>[^()]*)\))?\s*=(?!=)\s*(?P<body>.*)$", re.DOTALL)
NAME_RE = re.compile(_NAME)


class Line(NamedTuple):
    """One parsed line. kind: empty, meta, quit, help, define, command, expression. (NamedTuples, not
    dataclasses, here and in repl.py: nothing of dataclasses' import cost before the first prompt.)"""

    kind: str
    text: str = ""
    name: str = ""  # the meta command, the command, or the defined name
    args: list[str] = []  # meta/help arguments, or the command's CLI options (never mutated)
    expression: str | None = None  # the command's (or bare line's) expression; None if the line gave none
    params: tuple[str, ...] | None = None  # a function definition's parameters


def names_in(text: str) -> set[str]:
    """Every identifier in a program text (over-approximate: also function names), found without parsing."""
    return set(NAME_RE.findall(text))


def classify(text: str, commands: set[str]) -> Line:
    """What the line is. Raises UsageError for a line that can't mean anything (an unclosed quote)."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return Line("empty", text)
    if stripped.startswith(":"):
        word, _, rest = stripped.partition(" ")
        return Line("meta", text, word, rest.split())
    first, _, rest = stripped.partition(" ")
    if stripped in ("quit", "exit"):
        return Line("quit", text)
    if first == "help" and (not rest.strip() or rest.split()[0] in commands):
        return Line("help", text, "help", rest.split())
    if stripped.endswith(";") and stripped.count(";") == 1:
        stripped = stripped[:-1].rstrip()  # `a = 3;` as Matlab users type it: the same line
    m = _DEFINITION.match(stripped)
    if m and ";" not in stripped and "\n" not in stripped:
        name = m["name"]
        if name in commands or name in KEYWORDS:
            raise UsageError(f"{name} is a command name, not a variable: choose another name")
        params = None
        if m["params"] is not None:
            params = tuple(p.strip() for p in m["params"].split(",")) if m["params"].strip() else ()
        return Line("define", stripped, name, expression=m["body"].strip(), params=params)
    head = re.match(r"\S+", stripped)
    word = head.group(0) if head else ""
    if word in commands:
        return Line("command", stripped, word)
    return Line("expression", stripped, expression=stripped)


def split_words(text: str) -> list[str]:
    """The words of a command line, as a POSIX shell splits them (quotes group, backslash escapes)."""
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise UsageError(f"can't split the line into words: {str(exc).lower()}") from None


class OptionInfo(NamedTuple):
    """What the line grammar needs to know of one CLI option."""

    takes_value: bool
    help: str = ""
    choices: tuple[str, ...] = ()


def translate(line: Line, options: dict[str, OptionInfo] | None) -> Line:
    """A command line's words → the CLI's arguments: options as typed, `at`/`wrt` as --at/--wrt, the
    other words joined into the one expression. `options` (by every spelling, --at and -a) tells flags
    from options with values; None means not known yet (then only --long=value and known keywords count)."""
    words = split_words(line.text)[1:]
    args: list[str] = []
    expr_words: list[str] = []
    k = 0
    while k < len(words):
        w = words[k]
        if w == "--":
            expr_words += words[k + 1 :]
            break
        option = _option_word(w, options)
        if option is not None:
            args.append(w)
            info = (options or {}).get(option)
            if "=" not in w and (info is None or info.takes_value) and k + 1 < len(words):
                k += 1
                args.append(words[k])
        elif w in KEYWORDS and expr_words:
            k += 1
            start = k
            while k < len(words) and words[k] not in KEYWORDS and _option_word(words[k], options) is None:
                k += 1
            if k == start:
                example = "at x=1, y=2" if w == "at" else "wrt x, y"
                raise UsageError(f"{w} needs what follows it on the line, e.g. {line.name} {' '.join(expr_words)} {example}")
            args += [KEYWORDS[w], " ".join(words[start:k])]
            continue
        else:
            expr_words.append(w)
        k += 1
    return Line("command", line.text, line.name, args, " ".join(expr_words) if expr_words else None)


def _option_word(word: str, options: dict[str, OptionInfo] | None) -> str | None:
    """The option a word names (--at for --at=x=1), or None when the word is part of the expression.
    A word like -x^2 is an expression; -a is an option when the command has -a (or isn't known)."""
    if word.startswith("--") and len(word) > 2:
        return word.partition("=")[0]
    if len(word) >= 2 and word[0] == "-" and word[1].isalpha() and word[1].isascii():
        if options is None:
            return word[:2] if len(word) == 2 else None
        if word[:2] in options:
            return word[:2]
    return None


def given_names(args: list[str]) -> set[str]:
    """The variables a command line gives values to itself: --at x=1, --grid x=0:1:5, --range x=-2:2."""
    from ..batch.points import split_top_level

    names: set[str] = set()
    valued = {"--at", "-a", "--grid", "--range", "--seed-dir"}
    k = 0
    while k < len(args):
        a = args[k]
        head, eq, inline = a.partition("=")
        value = None
        if head in valued and a.startswith("--") and eq:
            value = inline
        elif a in valued and k + 1 < len(args):
            k += 1
            value = args[k]
        if value is not None:
            for part in split_top_level(value):
                name = part.partition("=")[0].strip()
                if name:
                    names.add(name)
        k += 1
    return names
