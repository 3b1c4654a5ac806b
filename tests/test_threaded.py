"""The threaded evaluator gives exactly what the single-threaded one gives, errors included."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli
from gradcli.engine import evaluate

N = evaluate.SPLIT_ABOVE + 1001  # just past the threshold, with parts of unequal size

HEAVY = "sin(x)*cos(y) + exp(-x^2)*tanh(x*y) + log(1 + x^2) + atan(y)"


def _tape(source: str, point: dict[str, np.ndarray]) -> tuple:
    expr = gradcli.compile(source)
    tape, refs = expr.gradient_tape(point, tuple(expr.variables), 0)
    return expr, tape, [expr.lowered.outputs[0], *[r for r in refs if r is not None]]


def test_split_equals_whole_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    point = {"x": rng.uniform(-2, 2, N), "y": rng.uniform(-2, 2, N)}
    _, tape, outs = _tape(HEAVY, point)
    whole = evaluate.run(tape, point, outs)
    split = evaluate.run_split(tape, point, outs, workers=3)
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(np.broadcast_to(a, (N,)), np.broadcast_to(b, (N,)))


def test_api_results_match_the_formulas() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0.5, 2, N), rng.uniform(-1, 1, N)
    expr = gradcli.compile("sin(3*x + y) + cos(x - y) + exp(-x) * sin(y) + log(x) * cos(y)")
    value, grad = expr.value_and_gradient({"x": x, "y": y})
    np.testing.assert_allclose(value, np.sin(3 * x + y) + np.cos(x - y) + np.exp(-x) * np.sin(y) + np.log(x) * np.cos(y))
    dx = 3 * np.cos(3 * x + y) - np.sin(x - y) - np.exp(-x) * np.sin(y) + np.cos(y) / x
    np.testing.assert_allclose(grad["x"], dx, rtol=1e-12, atol=1e-12)


def test_domain_error_names_the_element_in_the_whole_batch() -> None:
    x = np.linspace(1, 2, N)
    x[N - 5] = -1.0  # in the last part
    expr = gradcli.compile("log(x) + sin(x) + cos(x) + exp(x) + tanh(x) + atan(x)")
    with pytest.raises(gradcli.DomainError, match=rf"element {N - 5}\)"):
        expr.value_and_gradient({"x": x})


def test_reductions_are_never_split() -> None:
    x = np.linspace(0, 1, N)
    expr = gradcli.compile("sum(sin(x) + cos(x) + exp(x) + log(1 + x) + tanh(x) + atan(x))")
    value, grad = expr.value_and_gradient({"x": x})
    np.testing.assert_allclose(value, np.sum(np.sin(x) + np.cos(x) + np.exp(x) + np.log1p(x) + np.tanh(x) + np.arctan(x)))
    np.testing.assert_allclose(grad["x"], np.cos(x) - np.sin(x) + np.exp(x) + 1 / (1 + x) + 1 - np.tanh(x) ** 2 + 1 / (1 + x**2))
