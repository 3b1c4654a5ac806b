"""Many points: `--at` values and program files, points files and grids read in chunks, results
streamed out as CSV or JSON Lines.

May import the engine, the language and gradcli.api; never tools/ or cli/.
"""
