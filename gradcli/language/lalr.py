"""A small LALR(1) driver that runs the tables Lark computes from grammars/gradcli.lark.

Lark stays the grammar's compiler (see grammar_tables.py), but importing it and
loading its parser costs more than the rest of a one-point `gradcli diff`. The
tables are plain data cached on disk, so a start-up reads them and runs this
loop: a regex lexer feeding a shift/reduce loop with an explicit stack. The
tree-shaping rules of Lark (filtered tokens, inlined `_rules`, `?rule` single
child, `[optional]` placeholders, `-> alias` callbacks) arrive precompiled as a
per-rule recipe, so the AST built here is the one Lark's inline transformer
would build; tests/test_lalr.py holds the two side by side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

END = "$END"

# A recipe entry is (kind, index): take the child, splice a `_rule`'s children, or put None.
TAKE, SPLICE, NONE = 0, 1, 2


class Token:
    """A lexed terminal; `value` is its text."""

    __slots__ = ("type", "value", "start", "end", "line", "column")

    def __init__(self, type: str, value: str, start: int, end: int, line: int, column: int) -> None:
        self.type = type
        self.value = value
        self.start = start
        self.end = end
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"Token({self.type}, {self.value!r})"


class ParseFailure(Exception):
    """The input left the grammar: at `token` (None: at a character no terminal matches)."""

    def __init__(
        self, token: Token | None, pos: int, line: int, column: int, expected: frozenset[str], stack: tuple[int, ...] = ()
    ) -> None:
        super().__init__(f"parse failure at line {line}, column {column}")
        self.stack = stack  # the parser's states where it stopped, for Tables.viable
        self.token = token
        self.pos = pos
        self.line = line
        self.column = column
        self.expected = expected


@dataclass(frozen=True)
class Rule:
    origin: str
    size: int  # symbols popped by a reduction
    callback: str | None  # builder method (the alias, else the rule's name); None: no node of its own
    expand1: bool  # `?rule`: a single child stands for the node
    recipe: tuple[tuple[int, int], ...]

    @property
    def unit(self) -> bool:
        """`?sum: product`: the one child goes up as it is."""
        return self.expand1 and len(self.recipe) == 1 and self.recipe[0][0] == TAKE


class Tables:
    """The parse and lex tables of one grammar, as Lark analysed it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.terminals: dict[str, tuple[str, str | None]] = {name: (regex, literal) for name, regex, literal in data["terminals"]}
        self.ignore = frozenset(data["ignore"])
        self.start: int = data["start"]
        self.end: int = data["end"]
        # Per state: symbol -> shift/goto target (>= 0) or ~rule (< 0).
        self.actions: list[dict[str, int]] = data["actions"]
        self.rules = [Rule(*r) for r in data["rules"]]
        # `?sum: product` and its like are most reductions; with one symbol they only change the state.
        self.passthrough = [r.unit and r.size == 1 for r in self.rules]
        self._lexer = re.compile("|".join(f"(?P<{name}>{regex})" for name, regex, _ in data["terminals"]))

    def expected(self, state: int) -> frozenset[str]:
        return frozenset(s for s in self.actions[state] if s.isupper() or s == END)

    def viable(self, stack: tuple[int, ...], symbol: str) -> bool:
        """Whether `symbol` could come next from this stack: the state's own set also holds lookaheads that
        LALR merged in from other contexts (`]` at the top level), which the reductions would then refuse."""
        st = list(stack)
        for _ in range(10_000):  # reductions only shorten the stack or replace its top: this ends
            act = self.actions[st[-1]].get(symbol)
            if act is None:
                return False
            if act >= 0 or act == self.end:
                return True
            rule = self.rules[~act]
            if rule.size:
                del st[-rule.size :]
            target = self.actions[st[-1]].get(rule.origin)
            if target is None:
                return False
            if target == self.end:
                return symbol == END
            st.append(target)
        return True

    def tokens(self, text: str, stack: list[int]) -> Iterator[Token]:
        """Lex lazily, so an unknown character is reported with what the parser's state accepts."""
        match = self._lexer.match
        ignore = self.ignore
        pos, line, line_start, n = 0, 1, 0, len(text)
        while pos < n:
            m = match(text, pos)
            if m is None:
                raise ParseFailure(None, pos, line, pos - line_start + 1, self.expected(stack[-1]), tuple(stack))
            kind = m.lastgroup
            value = m.group()
            end = m.end()
            if kind == "NAME" and end < n and not text[end].isascii():
                end = _combining_end(text, end)  # é typed as e + U+0301: the mark is part of the name
                value = text[pos:end]
            if kind not in ignore:
                yield Token(kind, value, pos, end, line, pos - line_start + 1)  # type: ignore[arg-type]
            if "\n" in value:
                line += value.count("\n")
                line_start = pos + value.rindex("\n") + 1
            pos = end
        yield Token(END, "", n, n, line, n - line_start + 1)

    def parse(self, text: str, builder: object) -> Any:
        """Shift/reduce to the start symbol, calling `builder.<callback>(children)` at each reduction."""
        actions = self.actions
        rules = self.rules
        callbacks = [None if r.unit or r.callback is None else getattr(builder, r.callback) for r in rules]
        passthrough = self.passthrough
        end = self.end
        stack = [self.start]
        values: list[Any] = []
        for token in self.tokens(text, stack):
            kind = token.type
            while True:
                act = actions[stack[-1]].get(kind)
                if act is None:
                    raise ParseFailure(token, token.start, token.line, token.column, self.expected(stack[-1]), tuple(stack))
                if act >= 0:
                    stack.append(act)
                    values.append(token)
                    break
                index = ~act
                rule = rules[index]
                if passthrough[index]:
                    stack.pop()
                else:
                    size = rule.size
                    if size:
                        children = values[-size:]
                        del values[-size:]
                        del stack[-size:]
                    else:
                        children = []
                    values.append(_reduce(rule, children, callbacks[index]))
                target = actions[stack[-1]][rule.origin]
                if target == end:
                    return values[-1]
                stack.append(target)
        raise AssertionError("the token stream ends with $END")  # pragma: no cover


def _combining_end(text: str, end: int) -> int:
    """Past the combining marks (and any word characters after them) that continue a name at `end`:
    `\\w` leaves out marks such as U+0301, which Python's identifiers (XID_Continue) take in."""
    import unicodedata

    n = len(text)
    while end < n and (text[end].isalnum() or text[end] == "_" or unicodedata.category(text[end]) in ("Mn", "Mc")):
        end += 1
    return end


def _reduce(rule: Rule, children: list[Any], callback: Callable[[list[Any]], Any] | None) -> Any:
    if rule.unit:
        return children[rule.recipe[0][1]]
    items: list[Any] = []
    for kind, i in rule.recipe:
        if kind == TAKE:
            items.append(children[i])
        elif kind == SPLICE:
            if items:
                items.extend(children[i])
            else:
                items = children[i]  # a left-recursive `_rule` grows one list, not a copy per element
        else:
            items.append(None)
    if rule.expand1 and len(items) == 1:
        return items[0]
    if callback is None:
        return items  # an inlined `_rule`: its parent splices these
    return callback(items)
