"""grammars/gradcli.lark → LALR tables for lalr.py: computed by Lark once, then cached on disk.

Lark is imported only when the cache is missing or was written for another
grammar text (the whole text is stored and compared, so an edited grammar can
never run stale tables). The cache is marshal data in the user's cache
directory; an unreadable or unwritable cache just means Lark runs again.
"""

from __future__ import annotations

import marshal
import os
import re
import zlib
from functools import lru_cache
from typing import Any

from ..cachefiles import cache_root, write_whole
from .lalr import NONE, SPLICE, TAKE, Tables

GRAMMAR_FILE = "gradcli.lark"
START = "program"
FORMAT = 2  # bump when the data layout below changes


def grammar_text() -> str:
    """The grammar ships inside the wheel as gradcli/grammars; a source checkout keeps it at the top."""
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the package; os.path, not pathlib: start-up time
    for folder in (here, os.path.dirname(here)):
        path = os.path.join(folder, "grammars", GRAMMAR_FILE)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
    from importlib import resources  # an unusual install (a zip): ask the import system

    return (resources.files("gradcli") / "grammars" / GRAMMAR_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def tables() -> Tables:
    text = grammar_text()
    path = _cache_path(text)
    data = _read(path, text) if path else None
    if data is not None:
        try:
            return Tables(data)
        except (KeyError, TypeError, ValueError, re.error):
            pass  # a damaged cache: compute afresh
    data = compute(text)
    if path:
        _write(path, data)
    return Tables(data)


def compute(text: str) -> dict[str, Any]:
    """Let Lark analyse the grammar and keep what the driver needs, as plain data."""
    from lark import Lark

    lark = Lark(text, parser="lalr", start=START, maybe_placeholders=True)
    table = lark.parser.parser._parse_table  # Lark keeps no public handle on its LALR table
    terminals = sorted(lark.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
    rules: list[Any] = []
    index: dict[Any, int] = {}
    actions: list[dict[str, int]] = []
    # Terminals some rule keeps as a child: the driver makes Token objects for these only.
    kept = sorted(
        {str(s.name) for r in lark.rules for s in r.expansion if s.is_term and (r.options.keep_all_tokens or not s.filter_out)}
    )
    for state in range(len(table.states)):
        row: dict[str, int] = {}
        for symbol, (action, arg) in table.states[state].items():
            if action.name == "Shift":
                row[str(symbol)] = int(arg)
            else:
                if arg not in index:
                    index[arg] = len(rules)
                    rules.append(_rule(arg))
                row[str(symbol)] = ~index[arg]
        actions.append(row)
    data = {
        "format": FORMAT,
        "grammar": text,
        "terminals": [
            (str(t.name), _regex(t.pattern), str(t.pattern.value) if t.pattern.type == "str" else None) for t in terminals
        ],
        "ignore": [str(name) for name in lark.lexer_conf.ignore],
        "kept": kept,
        "start": int(table.start_states[START]),
        "end": int(table.end_states[START]),
        "actions": actions,
        "rules": rules,
    }
    data["check"] = _checksum(data)
    return data


def _checksum(data: dict[str, Any]) -> int:
    """A CRC of the tables, so a cache file changed in any way (a row cut short, a byte flipped) is rebuilt."""
    keys = ("terminals", "ignore", "kept", "start", "end", "actions", "rules")
    return zlib.crc32(repr(tuple(data[k] for k in keys)).encode("utf-8"))  # repr: marshal output varies with interning


def _regex(pattern: Any) -> str:
    regex = str(pattern.to_regexp())
    return f"(?{''.join(sorted(pattern.flags))}:{regex})" if pattern.flags else regex


def _rule(rule: Any) -> tuple[Any, ...]:
    """Lark's tree shaping for one rule, as a recipe over the popped children (see lalr._reduce)."""
    options = rule.options
    symbols = iter(enumerate(rule.expansion))
    recipe: list[tuple[int, int]] = []
    # empty_indices marks where an absent `[optional]` stood among the symbols; it becomes None.
    slots = options.empty_indices or (False,) * len(rule.expansion)
    for absent in slots:
        if absent:
            recipe.append((NONE, 0))
            continue
        i, symbol = next(symbols)
        if symbol.is_term:
            if options.keep_all_tokens or not symbol.filter_out:
                recipe.append((TAKE, i))
        else:
            recipe.append((SPLICE if symbol.name.startswith("_") else TAKE, i))
    name = str(rule.origin.name)
    callback = None if name.startswith("_") else str(rule.alias or name)
    return (name, len(rule.expansion), callback, bool(options.expand1 and not rule.alias), tuple(recipe))


def _cache_path(text: str) -> str | None:
    key = f"{zlib.crc32(text.encode('utf-8')):08x}"
    return os.path.join(cache_root(), f"parser-{FORMAT}-{key}.marshal")


def _read(path: str, text: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            data = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("grammar") != text:
        return None
    return data if _consistent(data) else None  # a damaged (truncated, edited) cache is rebuilt, never run


def _consistent(data: dict[str, Any]) -> bool:
    """The tables hang together: every shift/goto target is a state, every reduction a rule, every rule's
    recipe within its symbols, every terminal a regex. Cheap (one pass over plain data), and it is what
    keeps a damaged file from becoming an IndexError in the middle of a parse."""
    try:
        if data.get("check") != _checksum(data):
            return False
        actions, rules, terminals = data["actions"], data["rules"], data["terminals"]
        if not (isinstance(actions, list) and isinstance(rules, list) and isinstance(terminals, list) and actions and rules):
            return False
        states, n_rules = len(actions), len(rules)
        if not (0 <= data["start"] < states and 0 <= data["end"] < states) or not isinstance(data["ignore"], list):
            return False
        if not isinstance(data["kept"], list) or not all(isinstance(k, str) for k in data["kept"]):
            return False
        for row in actions:
            if not isinstance(row, dict):
                return False
            for symbol, target in row.items():
                if not isinstance(symbol, str) or type(target) is not int or not (-n_rules <= target < states):
                    return False
        for rule in rules:
            name, size, callback, expand1, recipe = rule
            if not (isinstance(name, str) and type(size) is int and size >= 0 and isinstance(expand1, bool)):
                return False
            if callback is not None and not isinstance(callback, str):
                return False
            for kind, i in recipe:
                if kind not in (TAKE, SPLICE, NONE) or type(i) is not int or not (0 <= i <= max(size - 1, 0)):
                    return False
        for name, regex, literal in terminals:
            if not isinstance(name, str) or not isinstance(regex, str) or not (literal is None or isinstance(literal, str)):
                return False
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _write(path: str, data: dict[str, Any]) -> None:
    write_whole(path, marshal.dumps(data))
