"""The Python API is typed for real: gradcli ships py.typed (in the wheel too), a small client passes
`mypy --strict`, and misuse raises GradcliError subclasses whose messages speak of the API, not of options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.errors import GradcliError, UnboundError, UsageError

ROOT = Path(__file__).resolve().parent.parent

CLIENT = '''
from __future__ import annotations

import numpy as np

import gradcli
from gradcli.api import Expression


def slope(source: str, x: float) -> float:
    f: Expression = gradcli.compile(source)
    grad = f.gradient({"x": x})
    return float(grad["x"])


def hessian_entry(source: str) -> float:
    h = gradcli.compile(source).hessian({"x": 1.0, "y": 2.0})
    return float(h["x"]["y"])


def values(source: str) -> list[float]:
    return [float(v) for v in gradcli.compile(source).values({"x": np.asarray([1.0, 2.0])})]


def safe(source: str) -> str:
    try:
        gradcli.compile(source)
    except gradcli.GradcliError as exc:
        return exc.message
    return "ok"


names: tuple[str, ...] = gradcli.compile("x*y").variables
print(slope("x^2", 3.0), hessian_entry("x^2*y"), values("sum(x)"), safe("x+"), names)
'''


def test_py_typed_ships_in_the_package_and_the_wheel() -> None:
    assert (ROOT / "gradcli" / "py.typed").is_file()
    wheel = pytest.importorskip("hatchling.builders.wheel")
    included = {f.distribution_path for f in wheel.WheelBuilder(str(ROOT)).recurse_included_files()}
    assert "gradcli/py.typed" in included


def test_a_client_passes_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extra: pip install '.[test]'")
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(client)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    bad = tmp_path / "bad.py"  # and mypy does read gradcli's types: a wrong use is caught
    bad.write_text("import gradcli\n\nx: int = gradcli.compile('x').variables\n")
    wrong = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(bad)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert wrong.returncode == 1 and "Incompatible types in assignment" in wrong.stdout, wrong.stdout


@pytest.mark.parametrize("source", [3, None, b"x^2", ["x"]])
def test_a_program_that_is_not_a_string_is_a_usage_error(source: object) -> None:
    with pytest.raises(UsageError, match="as a string"):
        gradcli.compile(source)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, "a", [1, None], [1, "b"], 1 + 2j, object(), {"a": 1}, 10**400])
def test_a_value_that_is_not_a_number_is_a_usage_error(value: object) -> None:
    with pytest.raises(UsageError, match="the value of x"):
        gradcli.compile("x*y").value({"x": value, "y": 1.0})


def test_a_point_that_is_not_a_mapping_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="mapping"):
        gradcli.compile("x*y").value([1.0, 2.0])  # type: ignore[arg-type]


def test_numbers_of_every_kind_are_accepted() -> None:
    f = gradcli.compile("x*y")
    for x in (2, 2.0, np.float32(2), np.int64(2), True, [2.0], np.asarray([[2]])):
        assert float(np.sum(f.value({"x": x, "y": 1.5}))) == pytest.approx(float(np.sum(x)) * 1.5)


def test_api_messages_name_arguments_and_the_cli_names_options() -> None:
    with pytest.raises(UnboundError) as caught:
        gradcli.compile("x*y").value({"x": 1.0})
    assert "--at" not in caught.value.message and "'y'" in caught.value.message
    assert isinstance(caught.value, GradcliError) and caught.value.missing == ["y"]
    cli = subprocess.run([sys.executable, "-m", "gradcli", "eval", "x*y", "--at", "x=1"], capture_output=True, text=True)
    assert cli.returncode == 3 and "give it with --at y=…" in cli.stderr
