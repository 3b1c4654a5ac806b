"""The tools: check, verify, trace, graph, symbolic formulas, plot — questions asked of a program.

May import the engine, the language and gradcli.api; never batch/ or cli/ (and rich or typer only
lazily, where a tool draws something itself).
"""
