"""Where something is in the user's text: spans travel from the parser through the tape to error messages."""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    start: int  # offsets into the source text
    end: int
    line: int
    column: int
