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
    family_of: dict[str, str] = {}
    syntax: dict[str, list[str]] = {}
    for family in FAMILY_NAMES:
        for p in importlib.import_module(f"{__package__}.{family}").table():
            assert p.name not in family_of, f"{p.name} is defined in {family_of[p.name]} and {family}"
            family_of[p.name] = family
            if p.syntax is not None and family not in syntax.setdefault(p.syntax, []):
                syntax[p.syntax].append(family)
    for name, target in _ONE_ARGUMENT.items():
        if family_of[target] not in syntax[name]:
            syntax[name].append(family_of[target])
    lines = [HEADER, "PRIMITIVE_FAMILY: dict[str, str] = {\n"]
    lines += [f'    "{name}": "{family}",\n' for name, family in family_of.items()]
    lines.append("}\n\nSYNTAX_FAMILIES: dict[str, tuple[str, ...]] = {\n")
    lines += [f'    "{name}": {_tuple(fams)},\n' for name, fams in syntax.items()]
    lines.append("}\n\n# scipy's names of the Bessel functions (special.SYNTAX), for the language's call-only aliases\n")
    special = importlib.import_module(f"{__package__}.special")
    lines.append("BESSEL_SYNTAX: dict[str, str] = {\n")
    lines += [f'    "{k}": "{v}",\n' for k, v in special.SYNTAX.items()]
    lines.append("}\n")
    return "".join(lines)


def _tuple(names: list[str]) -> str:
    inner = ", ".join(f'"{n}"' for n in names)
    return f"({inner},)" if len(names) == 1 else f"({inner})"


def main() -> None:
    path = Path(__file__).with_name("index.py")
    path.write_text(source(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
