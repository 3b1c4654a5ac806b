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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

END = "$END"
ACCEPT = -1  # Tables._chain: the reductions reached the end state

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
        self.kept = frozenset(data["kept"])
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

    def _chain(self, below: int, top: int, kind: str) -> int:
        """Where a run of `?rule: single` reductions on lookahead `kind` leaves the top of the stack (ACCEPT:
        at the end state). Each only swaps the top for goto(below, rule), so the run is a function of
        (below, top, kind): the parser looks it up once per triple instead of stepping through ?sum → ?product
        → … at every token."""
        actions, rules, passthrough = self.actions, self.rules, self.passthrough
        while True:
            act = actions[top].get(kind)
            if act is None or act >= 0 or not passthrough[~act]:
                return top
            top = actions[below][rules[~act].origin]
            if top == self.end:
                return ACCEPT

    def _reducers(self, builder: object) -> list[tuple[int, str, Callable[[list[Any]], Any]]]:
        """Per rule: (symbols popped, the rule's name, what makes its value from the popped children)."""
        out = []
        for r in self.rules:
            callback = None if r.unit or r.callback is None else getattr(builder, r.callback)
            recipe = r.recipe
            fn: Callable[[list[Any]], Any]
            if r.unit:
                fn = _taker(recipe[0][1])
            elif callback is not None and not r.expand1 and recipe == tuple((TAKE, i) for i in range(r.size)):
                fn = callback  # every child kept, in order: the builder takes the popped list as it is
            elif callback is None and not r.expand1 and recipe[:1] == ((SPLICE, 0),) and all(k == TAKE for k, _ in recipe[1:]):
                fn = _appender(tuple(i for _, i in recipe[1:]))  # `_list: _list "," item`: grow the list in place
            elif callback is not None and not r.expand1 and len(recipe) == 2 and all(k == TAKE for k, _ in recipe):
                fn = _picker(callback, recipe[0][1], recipe[1][1])  # `sum "+" product -> add`: the operator token dropped
            else:
                fn = _generic(r, callback)
            out.append((r.size, r.origin, fn))
        return out

    def _goto_chain(self, below: int, origin: str, kind: str) -> int:
        """The goto after a reduction to `origin`, then the `?rule: single` run from there (see _chain)."""
        target = self.actions[below][origin]
        return ACCEPT if target == self.end else self._chain(below, target, kind)

    def parse(self, text: str, builder: object, prebuilt: dict[int, tuple[str, int, Any]] | None = None) -> Any:
        """Shift/reduce to the start symbol, calling `builder.<callback>(children)` at each reduction.

        The lexer runs inside the loop (one regex scanner over the text), so an unknown character is
        reported with what the parser's state accepts there. Only terminals some rule keeps become Token
        objects; the others (",", ";") hold a None on the value stack, which no recipe reads.

        `prebuilt` maps a text offset to (nonterminal, end offset, value): a phrase the caller has already
        built (syntax.py: a vector literal of numbers). Where its first token would be shifted and the state
        has a goto on that nonterminal, the driver takes the value and goes on lexing at the end offset:
        what reducing the phrase token by token would have left on the stacks."""
        actions = self.actions
        passthrough = self.passthrough
        reducers = self._reducers(builder)
        chains: dict[tuple[int, int, str], int] = {}
        gotos: dict[tuple[int, str, str], int] = {}
        chain, goto_chain = self._chain, self._goto_chain
        ignore, kept = self.ignore, self.kept
        stack = [self.start]
        values: list[Any] = []
        n = len(text)
        pos, line, line_start = 0, 1, 0
        kind = ""
        shortcut = None
        scan = self._lexer.scanner(text).match
        while True:
            if pos < n:
                m = scan()
                if m is None:
                    raise ParseFailure(None, pos, line, pos - line_start + 1, self.expected(stack[-1]), tuple(stack))
                kind = m.lastgroup  # type: ignore[assignment]
                value = m.group()
                end = m.end()
                if kind == "NAME" and end < n and not text[end].isascii():
                    stop = _combining_end(text, end)  # é typed as e + U+0301: the mark is part of the name
                    if stop != end:
                        end = stop
                        value = text[pos:end]
                        scan = self._lexer.scanner(text, end).match
                start, token_line, column, pos = pos, line, pos - line_start + 1, end
                if "\n" in value:
                    line += value.count("\n")
                    line_start = start + value.rindex("\n") + 1
                if kind in ignore:
                    continue
                token = Token(kind, value, start, end, token_line, column) if kind in kept else None
                if prebuilt:
                    shortcut = prebuilt.get(start)
            elif kind != END:
                kind, value, start, end, token_line, column = END, "", n, n, line, n - line_start + 1
                token = Token(END, "", n, n, line, column)
            else:
                raise AssertionError("the tables shifted $END")  # pragma: no cover
            while True:
                top = stack[-1]
                act = actions[top].get(kind)
                if act is None:
                    if token is None:
                        token = Token(kind, value, start, end, token_line, column)
                    raise ParseFailure(token, start, token_line, column, self.expected(top), tuple(stack))
                if act >= 0:
                    if shortcut is not None:
                        symbol, stop, built = shortcut
                        shortcut = None
                        target = actions[top].get(symbol)
                        if target is not None:  # the phrase as one goto: skip its tokens
                            stack.append(target)
                            values.append(built)
                            newlines = text.count("\n", pos, stop)
                            if newlines:
                                line += newlines
                                line_start = text.rindex("\n", pos, stop) + 1
                            pos = stop
                            scan = self._lexer.scanner(text, pos).match
                            break
                    stack.append(act)
                    values.append(token)
                    break
                index = ~act
                if passthrough[index]:
                    below = stack[-2]
                    key = (below, top, kind)
                    target = chains.get(key)
                    if target is None:
                        target = chains[key] = chain(below, top, kind)
                    if target == ACCEPT:
                        return values[-1]
                    stack[-1] = target
                    continue
                size, origin, fn = reducers[index]
                if size:
                    children = values[-size:]
                    del values[-size:]
                    del stack[-size:]
                else:
                    children = []
                values.append(fn(children))
                below = stack[-1]
                gkey = (below, origin, kind)
                target = gotos.get(gkey)
                if target is None:
                    target = gotos[gkey] = goto_chain(below, origin, kind)
                if target == ACCEPT:
                    return values[-1]
                stack.append(target)


def _taker(i: int) -> Callable[[list[Any]], Any]:
    return lambda children: children[i]


def _picker(callback: Callable[[list[Any]], Any], i: int, j: int) -> Callable[[list[Any]], Any]:
    return lambda children: callback([children[i], children[j]])


def _generic(rule: Rule, callback: Callable[[list[Any]], Any] | None) -> Callable[[list[Any]], Any]:
    return lambda children: _reduce(rule, children, callback)


def _appender(takes: tuple[int, ...]) -> Callable[[list[Any]], Any]:
    def grow(children: list[Any]) -> Any:
        items = children[0]
        for i in takes:
            items.append(children[i])
        return items

    return grow


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
