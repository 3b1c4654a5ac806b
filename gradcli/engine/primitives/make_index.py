"""Write index.py, which family defines each primitive and each function name, from the tables themselves.

Run `python -m gradcli.engine.primitives.make_index` after adding or renaming a primitive (tests/test_primitives.py
compares the file with `source()`). Never imported by gradcli itself.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from . import _ONE_ARGUMENT, FAMILY_NAMES

HEADER = '''"""Which family (module of this package) defines each primitive and each function name of the language.

Generated from the tables by `python -m gradcli.engine.primitives.make_index`: don't edit. The primitives
themselves are defined only in their families' tables; this says where to find them without importing all.
"""

'''


def source() -> str:
    names: dict[str, list[str]] = {}
    functions: dict[str, list[str]] = {}
    family_of: dict[str, str] = {}
    for family in FAMILY_NAMES:
        for p in importlib.import_module(f"{__package__}.{family}").table():
            assert p.name not in family_of, f"{p.name} is defined in {family_of[p.name]} and {family}"
            family_of[p.name] = family
            names.setdefault(family, []).append(p.name)
            if p.syntax is not None and p.syntax not in functions.setdefault(family, []):
                functions[family].append(p.syntax)
    for name, target in _ONE_ARGUMENT.items():  # max(x): a reduction, so max is also the reductions' name
        if name not in functions[family_of[target]]:
            functions[family_of[target]].append(name)
    special = importlib.import_module(f"{__package__}.special")
    return (
        HEADER
        + _table("PRIMITIVES", "the primitives each family defines", names)
        + _table("FUNCTIONS", "the language's function names each family's primitives answer to", functions)
        + "# scipy's names of the Bessel functions (special.SYNTAX), for the language's call-only aliases\n"
        + "BESSEL_SYNTAX: dict[str, str] = {\n"
        + "".join(f'    "{k}": "{v}",\n' for k, v in special.SYNTAX.items())
        + "}\n"
    )


def _table(name: str, what: str, by_family: dict[str, list[str]]) -> str:
    """family → space-separated names, wrapped as implicitly joined string literals."""
    out = [f"# {what}\n{name}: dict[str, str] = {{\n"]
    for family, names in by_family.items():
        lines, line = [], ""
        for n in names:
            if line and len(line) + len(n) + 1 > 100:
                lines.append(line + " ")
                line = ""
            line += (" " if line else "") + n
        lines.append(line)
        if len(lines) == 1:
            out.append(f'    "{family}": "{line}",\n')
            continue
        body = "\n".join(f'        "{text}"' for text in lines)
        out.append(f'    "{family}": (\n{body}\n    ),\n')
    out.append("}\n\n")
    return "".join(out)


def main() -> None:
    path = Path(__file__).with_name("index.py")
    path.write_text(source(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
