"""The engine: the tape, the one primitives table, derivative transforms, evaluation, finite
differences and formula printing.

Imports nothing above it: only its own modules and the shared ones at the package root
(errors, numfmt, gcpause, span). It knows nothing of text, commands or output formats.
"""
