"""gradcli's cache folder and how a file gets into it: whole or not at all.

The LALR tables (language/grammar_tables.py) and --jit's modules, object code and index (tools/jit*.py)
live here. Another process may read a file while this one writes it, so each is written to a temporary
name and renamed over the old one; a cache that can't be written is no error (the next run rebuilds).
"""

from __future__ import annotations

import os


def cache_root() -> str:
    """$XDG_CACHE_HOME/gradcli, or ~/.cache/gradcli."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gradcli")


def write_whole(path: str, data: bytes) -> bool:
    """data to path, atomically (readers see the whole file or none of it); False where the cache is read-only."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError:
        return False
    return True
