"""The command line: the fast entry point, the Typer app, the command runners and the reports
(JSON, plain text, Rich tables). Options in, a report out; no math lives here.

May import everything below it. Kept empty so `gradcli.cli.entry` starts without Typer or Rich.
"""
