"""The NumPy reference: chain-rule gradients equal central finite differences; dtype and stability hold."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import backprop
from backprop.agreement import HIDDEN_ACTIVATIONS, OUTPUT_LOSSES
from backprop.datasets import random_batch
from backprop.gradcheck import finite_difference_check
from backprop.spec import mlp_spec
from backprop.tolerances import TOLERANCES, compare

from .helpers import kink_free_batch


@settings(max_examples=4, deadline=None)
@given(widths=st.lists(st.integers(1, 5), min_size=2, max_size=3), n=st.integers(1, 6),
       seed=st.integers(0, 2**16))
@pytest.mark.parametrize("hidden, options", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output, loss", OUTPUT_LOSSES)
def test_gradients_match_finite_differences(hidden, options, output, loss, widths, n, seed):
    """Every example is a real check: biases are nonzero (a dead relu unit then cannot make the next layer's z
    exactly 0) and the batch is redrawn until every relu-family z is 1e-3 clear of its kink."""
    widths = [*widths, max(widths[-1], 2) if output == "softmax" else widths[-1]]
    spec = mlp_spec([3, *widths], hidden, output, loss, **options)
    rng = np.random.default_rng(seed)
    params = backprop.init_params(backprop.as_spec(spec), np.float64, seed)
    for layer in params:
        layer["b"] = rng.uniform(0.1, 0.5, layer["b"].shape) * rng.choice([-1.0, 1.0], layer["b"].shape)
    X, y = kink_free_batch(spec, rng, n=n, seed=seed, margin=1e-3, exact_zero_ok=False, params=params)
    table = finite_difference_check(spec, X, y, params=params, seed=seed)
    assert len(table) == 2 * len(spec["layers"]) + (hidden == "prelu") * (len(spec["layers"]) - 1)
    assert table["passed"].all(), table.to_string()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.1}, {"name": "momentum", "nesterov": True},
                                       {"name": "adam"}])
def test_dtype_stays_put(dtype, optimizer, rng):
    spec = {**mlp_spec([5, 7, 6, 3], "prelu", "softmax", "cross_entropy"), "optimizer": optimizer}
    model = backprop.build(spec, backend="numpy", dtype=dtype, seed=0)
    X, y = random_batch(spec, 8, rng)
    for _ in range(3):
        model.train_step(X, y)
    loss, grads = model.loss_and_grads(X, y)
    buffers = [value for ws in model.workspaces[len(X)] for value in vars(ws).values()
               if isinstance(value, np.ndarray) and value.dtype.kind == "f"]
    slots = [getattr(model.optimizer, name) for name in ("velocity", "m", "v") if hasattr(model.optimizer, name)]
    arrays = [*buffers, *(a for layer in model.get_params() + grads for a in layer.values()),
              *slots, model.buffers.flat_values, model.buffers.flat_grads, model.predict(X), *model.pre_activations(X)]
    assert {a.dtype for a in arrays} == {np.dtype(dtype)}
    assert isinstance(loss, float)


@pytest.mark.parametrize("output, loss", OUTPUT_LOSSES)
def test_no_floating_point_warnings_at_extremes(output, loss, rng):
    spec = mlp_spec([4, 6, 2 if output == "softmax" else 3], "sigmoid", output, loss)
    model = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    X, y = random_batch(spec, 5, rng)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss_value, grads = model.loss_and_grads(X * 1e6, y)
        model.predict(np.full((2, 4), -1000.0))
    assert np.isfinite(loss_value)
    assert all(np.all(np.isfinite(g)) for layer in grads for g in layer.values())


def test_uses_no_autograd():
    """Every module of the NumPy backend imports only the standard library, NumPy, SciPy and the suite itself."""
    import ast
    import pathlib
    import sys

    root = pathlib.Path(backprop.__file__).parent.parent / "backends" / "numpy"
    imported = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert len(list(root.rglob("*.py"))) > 8
    assert imported - set(sys.stdlib_module_names) <= {"numpy", "scipy", "backprop"}, imported


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sgd_fused_into_gemm_matches_the_plain_update(dtype, rng):
    """Large layers take W ← W − lr·aᵀg inside the BLAS call; the result equals p − lr·g from loss_and_grads."""
    spec = {**mlp_spec([300, 256, 300, 2], "relu", "linear", "mse"), "optimizer": {"name": "sgd", "lr": 0.01}}
    model = backprop.build(spec, backend="numpy", dtype=dtype, seed=0)
    assert model.fused_sgd == [True, True, False]
    X, y = random_batch(spec, 16, rng)
    before = model.get_params()
    _, grads = model.loss_and_grads(X, y)
    model.train_step(X, y)
    tolerance = TOLERANCES[("gradients", dtype)]
    for got, start, grad in zip(model.get_params(), before, grads):
        for key in start:
            expected = start[key] - 0.01 * grad[key]
            assert got[key].dtype == np.dtype(dtype)
            assert compare(got[key], expected, tolerance).passed, key


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("row_offsets", [[0.0, 1.0, -3.0], [0.0, -60.0, -1e4]], ids=["shared-shift", "own-max-rows"])
def test_softmax_shift_is_exact_for_rows_far_apart(dtype, row_offsets, rng):
    """The batch-wide shift and the per-row fallback both give softmax and log Σ e^z to the dtype's precision."""
    from backends.numpy.activations import RowSum, softmax_parts

    z = (rng.standard_normal((3, 4)) + np.array(row_offsets)[:, None]).astype(dtype)
    exact_lse = np.logaddexp.reduce(z.astype("float64"), axis=1, keepdims=True)
    out = np.empty_like(z)
    m, s = softmax_parts(z, out, RowSum(np.dot, 4, np.dtype(dtype)))
    tolerance = TOLERANCES[("gradients", dtype)]
    assert compare(out, np.exp(z - exact_lse), tolerance).passed
    assert compare(m + np.log(s), exact_lse, tolerance).passed
    assert out.dtype == np.dtype(dtype)


def test_phase_steps_compose_into_the_train_step():
    """The profiler's phases: backward then optimizer is exactly one train step; a fused-sgd model has no separate
    optimizer phase."""
    spec = {**mlp_spec([6, 8, 3], "tanh", "softmax", "cross_entropy"), "optimizer": {"name": "adam", "lr": 0.01}}
    profiled, stepped = (backprop.build(spec, backend="numpy", dtype="float64", seed=0) for _ in range(2))
    X, y = profiled.prepare_batch(*random_batch(spec, 16, np.random.default_rng(0)))
    phases = profiled.phase_steps(X, y)
    phases["forward"]()
    phases["loss"]()
    phases["backward"]()
    phases["optimizer"]()
    stepped.native_train_step(X, y)
    for mine, theirs in zip(profiled.get_params(), stepped.get_params()):
        for key in mine:
            np.testing.assert_array_equal(mine[key], theirs[key])
    wide = backprop.build({**mlp_spec([300, 256, 3]), "optimizer": {"name": "sgd", "lr": 0.01}}, backend="numpy")
    assert wide.phase_steps(*wide.prepare_batch(*random_batch(wide.spec, 4, np.random.default_rng(0))))[
        "optimizer"] is None
