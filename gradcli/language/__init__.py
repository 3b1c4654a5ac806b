"""The language layer: program text → AST → tape (the grammar's LALR tables, the driver, lowering).

May import the engine (lowering emits tape instructions and resolves names against the primitives
table) and the shared modules at the package root (errors, span); nothing above it.
"""
