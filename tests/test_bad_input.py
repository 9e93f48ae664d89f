"""Every bad input gets the suite's own error on every backend, and a rejected call changes nothing."""

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import backprop
from backprop import BackendError, BackpropError, InputError, InputTypeError, SpecError

CLASSIFIER = {"input_dim": 3, "layers": [{"units": 5, "activation": "prelu"}, {"units": 4, "activation": "softmax"}],
              "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.01}}
BINARY = {"input_dim": 3, "layers": [{"units": 5, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}],
          "loss": "binary_cross_entropy", "optimizer": {"name": "momentum", "lr": 0.01}}
REGRESSION = {"input_dim": 3, "layers": [{"units": 5, "activation": "relu"}, {"units": 2, "activation": "linear"}],
              "loss": "mse", "optimizer": "sgd"}

X = np.linspace(-1, 1, 18).reshape(6, 3)
LABELS = np.array([0, 1, 2, 3, 1, 0])
TARGETS = np.linspace(0, 1, 12).reshape(6, 2)


def poisoned(array, value):
    array = np.array(array, dtype=float)
    array.flat[2] = value
    return array


# (case, spec, X, y, expected error type, text the message must contain)
BATCH_CASES = [
    ("X contains NaN", CLASSIFIER, poisoned(X, np.nan), LABELS, InputError, "X: expected finite"),
    ("X contains +inf", CLASSIFIER, poisoned(X, np.inf), LABELS, InputError, "X: expected finite"),
    ("X contains -inf", REGRESSION, poisoned(X, -np.inf), TARGETS, InputError, "X: expected finite"),
    ("y contains NaN", REGRESSION, X, poisoned(TARGETS, np.nan), InputError, "y: expected finite"),
    ("y contains inf", BINARY, X, poisoned(TARGETS, np.inf), InputError, "y: expected finite"),
    ("X has too few features", CLASSIFIER, X[:, :2], LABELS, InputError, "X: expected shape (N, 3)"),
    ("X has rank 1", CLASSIFIER, X[0], LABELS[:1], InputError, "X: expected shape (N, 3)"),
    ("X has rank 3", CLASSIFIER, X[None], LABELS, InputError, "X: expected shape (N, 3)"),
    ("y has too few rows", REGRESSION, X, TARGETS[:4], InputError, "y: expected 6 rows"),
    ("y has the wrong width", REGRESSION, X, np.ones((6, 3)), InputError, "y: expected shape (6, 2)"),
    ("label out of range", CLASSIFIER, X, np.array([0, 1, 2, 4, 1, 0]), InputError, "labels must be integers in [0, 4)"),
    ("negative label", CLASSIFIER, X, np.array([0, -1, 2, 3, 1, 0]), InputError, "labels must be integers in [0, 4)"),
    ("non-integer label", CLASSIFIER, X, np.array([0, 1.5, 2, 3, 1, 0]), InputError, "non-integer"),
    ("one-hot rows not summing to 1", CLASSIFIER, X, np.ones((6, 4)), InputError, "rows summing to 1"),
    ("binary target above 1", BINARY, X, TARGETS * 2, InputError, "must lie in [0, 1]"),
    ("binary target below 0", BINARY, X, TARGETS - 0.5, InputError, "must lie in [0, 1]"),
    ("empty batch", CLASSIFIER, np.empty((0, 3)), np.empty(0, dtype=int), InputError, "empty batch"),
    ("X of strings", CLASSIFIER, np.array([["a", "b", "c"]] * 6), LABELS, InputTypeError, "numeric"),
    ("X of objects", CLASSIFIER, np.array([[object()] * 3] * 6), LABELS, InputTypeError, "numeric"),
    ("ragged X", CLASSIFIER, [[1.0, 2.0, 3.0], [1.0, 2.0]], LABELS[:2], InputTypeError, "ragged"),
    ("y of strings", CLASSIFIER, X, np.array(list("abcdef")), InputTypeError, "numeric"),
    ("complex X", REGRESSION, X.astype(complex), TARGETS, InputTypeError, "numeric"),
]


def fresh(spec, backend, dtype="float64"):
    return backprop.build(spec, backend=backend, dtype=dtype, seed=3)


def good_batch(spec):
    return X, {"cross_entropy": LABELS, "binary_cross_entropy": TARGETS, "mse": TARGETS}[spec["loss"]]


_FRESH_RUNS: dict = {}


def fresh_run(spec, backend):
    """A fresh model's parameters and its first two losses on the good batch (computed once per spec and backend)."""
    key = (repr(spec), backend)
    if key not in _FRESH_RUNS:
        reference = fresh(spec, backend)
        params = reference.get_params()
        batch = good_batch(spec)
        _FRESH_RUNS[key] = params, [reference.train_step(*batch) for _ in range(2)]
    return _FRESH_RUNS[key]


def assert_untouched(model, spec, backend):
    """Parameters equal a fresh model's, and further steps match a fresh model's steps (optimizer state too)."""
    params, losses = fresh_run(spec, backend)
    for got, expected in zip(model.get_params(), params):
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
    batch = good_batch(spec)
    assert [model.train_step(*batch) for _ in range(2)] == losses


@pytest.mark.bad_input
@pytest.mark.parametrize("case, spec, X_bad, y_bad, error, text", BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_bad_batch_is_rejected_before_the_framework(case, spec, X_bad, y_bad, error, text, backend):
    model = fresh(spec, backend)
    for call in (model.train_step, model.loss_and_grads, model.evaluate,
                 lambda a, b: model.fit(a, b, epochs=1, batch_size=2)):
        with pytest.raises(error) as raised:
            call(X_bad, y_bad)
        assert text in str(raised.value)
    if X_bad is not X:
        with pytest.raises(error):
            model.predict(X_bad)
    assert_untouched(model, spec, backend)


def params_cases(dtype):
    good = fresh(CLASSIFIER, "numpy", dtype).get_params()
    other = "float32" if dtype == "float64" else "float64"
    return [
        ("not a list", {"W": 1}, "params: expected a list of 2"),
        ("too few layers", good[:1], "params: expected a list of 2"),
        ("missing alpha", [{"W": good[0]["W"], "b": good[0]["b"]}, good[1]], "params[0]: expected keys"),
        ("extra key", [good[0], {**good[1], "gamma": good[1]["b"]}], "params[1]: expected keys"),
        ("transposed W", [{**good[0], "W": good[0]["W"].T.copy()}, good[1]], "expected shape (3, 5)"),
        ("wrong dtype", [{k: v.astype(other) for k, v in good[0].items()}, good[1]], f"expected dtype {dtype}"),
        ("NaN weight", [{**good[0], "b": poisoned(good[0]["b"], np.nan).astype(dtype)}, good[1]], "finite"),
        ("string weight", [{**good[0], "b": np.array(["x"] * 5)}, good[1]], "numeric"),
    ]


@pytest.mark.bad_input
@pytest.mark.parametrize("case", range(8), ids=[c[0] for c in params_cases("float64")])
def test_bad_set_params_is_rejected(case, backend):
    model = fresh(CLASSIFIER, backend)
    model.train_step(*good_batch(CLASSIFIER))
    before = model.get_params()
    _, bad, text = params_cases("float64")[case]
    with pytest.raises(BackpropError, match=re.escape(text)):
        model.set_params(bad)
    for got, expected in zip(model.get_params(), before):
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])


FIT_CASES = [({"epochs": -3}, "epochs"), ({"epochs": 1.5}, "epochs"),
             ({"batch_size": 0}, "batch_size"), ({"batch_size": float("nan")}, "batch_size"),
             ({"seed": -1}, "seed"), ({"shuffle": "no"}, "shuffle"),
             ({"validation_data": X}, "validation_data"), ({"validation_data": (X[:, :2], TARGETS)}, "X")]


@pytest.mark.bad_input
@pytest.mark.parametrize("kwargs, field", FIT_CASES, ids=[str(c[0]) for c in FIT_CASES])
def test_bad_fit_arguments_are_rejected(kwargs, field, backend):
    model = fresh(REGRESSION, backend)
    with pytest.raises(InputError, match=f"^{field}: expected"):
        model.fit(*good_batch(REGRESSION), **kwargs)
    assert model.fit(*good_batch(REGRESSION), epochs=0) == {"loss": []}
    assert_untouched(model, REGRESSION, backend)


HYPERPARAMETER_CASES = [({"name": "sgd", "lr": 0.0}, "optimizer.lr"), ({"name": "sgd", "lr": -1e-3}, "optimizer.lr"),
                        ({"name": "adam", "lr": math.nan}, "optimizer.lr"),
                        ({"name": "momentum", "momentum": 1.0}, "optimizer.momentum"),
                        ({"name": "momentum", "momentum": -0.1}, "optimizer.momentum"),
                        ({"name": "adam", "beta1": 1.0}, "optimizer.beta1"),
                        ({"name": "adam", "beta2": math.nan}, "optimizer.beta2"),
                        ({"name": "adam", "eps": 0.0}, "optimizer.eps")]


@pytest.mark.bad_input
@pytest.mark.parametrize("optimizer, field", HYPERPARAMETER_CASES, ids=[str(c[0]) for c in HYPERPARAMETER_CASES])
def test_bad_hyperparameters_are_rejected_at_build(optimizer, field, backend):
    with pytest.raises(SpecError, match=f"^{field}: expected"):
        backprop.build({**REGRESSION, "optimizer": optimizer}, backend=backend)


@pytest.mark.bad_input
@pytest.mark.parametrize("text, field", [('{"input_dim": 3, "layers": [', "malformed JSON"),
                                         ('{"input_dim": 3, "layers": [{"units": 2}], "lyaers": []}', "unknown key"),
                                         ('[1, 2]', "spec: expected a dict"),
                                         ('{"input_dim": 3, "layers": [{"units": 2, "act": "relu"}]}', "unknown key")])
def test_bad_json_spec_is_rejected(text, field, backend):
    with pytest.raises(SpecError, match=field):
        backprop.build(text, backend=backend)


@pytest.mark.bad_input
def test_unknown_and_uninstalled_backends_are_rejected():
    with pytest.raises(BackendError, match="known backends are numpy, torch, tensorflow, jax"):
        backprop.build(REGRESSION, backend="theano")
    with pytest.raises(SpecError, match="dtype: expected one of float32, float64"):
        backprop.build(REGRESSION, dtype="float16")


@pytest.mark.bad_input
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_invalid_batches_raise_suite_errors(data, backend):
    model = fresh(CLASSIFIER, backend, "float32")
    before = model.get_params()
    n = data.draw(st.integers(0, 4))
    X_bad = data.draw(st.one_of(
        st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3), min_size=n,
                 max_size=n).map(np.array),
        st.lists(st.lists(st.floats(-1, 1), min_size=0, max_size=5), min_size=1, max_size=4),
        st.text(max_size=5)))
    y_bad = data.draw(st.one_of(st.lists(st.integers(-5, 10), min_size=n, max_size=n),
                                st.lists(st.floats(allow_nan=True), min_size=n, max_size=n), st.text(max_size=3)))
    try:
        model.train_step(X_bad, y_bad)
    except BackpropError as error:
        assert isinstance(error, (ValueError, TypeError))
    for got, expected in zip(model.get_params(), before):
        if not np.array_equal(got["W"], expected["W"]):
            assert np.all(np.isfinite(got["W"])), "an accepted batch must give finite parameters"


def with_layer(**options):
    return {**REGRESSION, "layers": [{"units": 5, "activation": "relu", **options},
                                     {"units": 2, "activation": "linear"}]}


VALUE_TYPE_CASES = [
    ("lr is a 400-digit integer", {**REGRESSION, "optimizer": {"name": "sgd", "lr": 10**400}}, "optimizer.lr"),
    ("lr is a NumPy complex", {**REGRESSION, "optimizer": {"name": "sgd", "lr": np.complex128(0.1)}}, "optimizer.lr"),
    ("lr is a NumPy bool", {**REGRESSION, "optimizer": {"name": "sgd", "lr": np.bool_(True)}}, "optimizer.lr"),
    ("momentum is an array", {**REGRESSION, "optimizer": {"name": "momentum", "momentum": np.array([0.9])}},
     "optimizer.momentum"),
    ("units is an array", with_layer(units=np.array([3])), "layers[0].units"),
    ("units is a 0-d array", with_layer(units=np.array(3)), "layers[0].units"),
    ("units is a NumPy bool", with_layer(units=np.bool_(True)), "layers[0].units"),
    ("units is a float", with_layer(units=3.0), "layers[0].units"),
    ("input_dim is a string", {**REGRESSION, "input_dim": "3"}, "input_dim"),
    ("alpha_init overflows float32", with_layer(activation="prelu", alpha_init=1e300), "layers[0].alpha_init"),
    ("negative_slope overflows float32", with_layer(activation="leaky_relu", negative_slope=1e39),
     "layers[0].negative_slope"),
    ("eps rounds to 0 in float32", {**REGRESSION, "optimizer": {"name": "adam", "eps": 1e-50}}, "optimizer.eps"),
    ("lr rounds to 0 in float32", {**REGRESSION, "optimizer": {"name": "sgd", "lr": 1e-50}}, "optimizer.lr"),
]


@pytest.mark.bad_input
@pytest.mark.parametrize("case, spec, field", VALUE_TYPE_CASES, ids=[c[0] for c in VALUE_TYPE_CASES])
def test_bad_spec_values_get_a_spec_error_naming_the_field(case, spec, field, backend):
    with pytest.raises(SpecError, match=f"^{re.escape(field)}: expected"):
        backprop.build(spec, backend=backend, dtype="float32")


def test_values_that_fit_float64_are_accepted_there(backend):
    model = backprop.build(with_layer(activation="prelu", alpha_init=1e300), backend=backend, dtype="float64")
    assert model.get_params()[0]["alpha"][0] == 1e300


SPEC_TEXT = '{"input_dim": 3, "layers": [{"units": 2}]}'


def spec_sources(tmp_path):
    (tmp_path / "net.txt").write_text(SPEC_TEXT)
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "latin1.json").write_bytes('{"input_dim": 3, "layers": [{"units": 2, "activation": "é"}]}'
                                           .encode("latin-1"))
    return [("duplicate keys", '{"input_dim": 3, "layers": [{"units": 4, "units": 400000}]}', "duplicate key"),
            ("duplicate top-level keys", '{"input_dim": 3, "input_dim": 4, "layers": [{"units": 1}]}',
             "duplicate key"),
            ("path not ending in .json", str(tmp_path / "net.txt"), "must be a .json file"),
            ("Path not ending in .json", tmp_path / "net.txt", "must be a .json file"),
            ("missing file", str(tmp_path / "missing.json"), "no such file"),
            ("directory", tmp_path / "folder.json", "not a regular file"),
            ("file that is not UTF-8", tmp_path / "latin1.json", "not UTF-8 text")]


@pytest.mark.bad_input
@pytest.mark.parametrize("case", range(7), ids=["duplicate keys", "duplicate top-level keys", "path not .json",
                                                "Path not .json", "missing file", "directory", "not UTF-8"])
def test_bad_spec_sources_are_rejected(case, tmp_path, backend):
    _, source, text = spec_sources(tmp_path)[case]
    with pytest.raises(SpecError, match=text):
        backprop.build(source, backend=backend)


def test_a_json_path_builds(tmp_path, backend):
    path = tmp_path / "net.json"
    path.write_text(SPEC_TEXT)
    assert backprop.build(str(path), backend=backend).spec == backprop.build(path, backend=backend).spec


@pytest.mark.bad_input
def test_a_network_too_large_for_memory_is_refused_before_allocating(backend):
    import time
    import tracemalloc

    spec = {"input_dim": 10, "layers": [{"units": 10**7, "activation": "relu"}, {"units": 10**7}]}
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SpecError, match=r"^layers: a network of 100,000,120,000,000 parameters .* needs about"):
            backprop.build(spec, backend=backend, dtype="float32")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5 and peak < 2**24


@pytest.mark.bad_input
def test_a_batch_too_large_for_memory_is_refused_before_allocating(backend):
    spec = {"input_dim": 2, "layers": [{"units": 2**16, "activation": "relu"}, {"units": 2}], "loss": "mse"}
    model = backprop.build(spec, backend=backend, dtype="float32")
    before = model.get_params()
    rows = np.broadcast_to(np.float32(0.5), (2**22, 2))
    with pytest.raises(InputError, match=r"^X: a training batch of 4194304 rows needs about"):
        model.train_step(rows, np.zeros((2**22, 2), dtype=np.float32))
    with pytest.raises(InputError, match=r"^batch_size: a training batch of 4194304 rows needs about"):
        model.fit(rows, np.zeros((2**22, 2), dtype=np.float32), batch_size=2**22)
    for got, expected in zip(model.get_params(), before):
        np.testing.assert_array_equal(got["W"], expected["W"])


DTYPE_ALIASES = [(np.float32, "float32"), (np.dtype("float32"), "float32"), ("f4", "float32"),
                 ("single", "float32"), ("double", "float64"), (np.float64, "float64"), ("f8", "float64"),
                 (float, "float64")]


@pytest.mark.parametrize("alias, name", DTYPE_ALIASES, ids=[str(a) for a, _ in DTYPE_ALIASES])
def test_dtype_names_and_numpy_dtypes_are_accepted(alias, name, backend):
    model = backprop.build(REGRESSION, backend=backend, dtype=alias)
    assert model.dtype == np.dtype(name) and model.predict(X).dtype == np.dtype(name)


@pytest.mark.bad_input
@pytest.mark.parametrize("alias", ["float16", np.int32, "int", np.complex64, 32, True])
def test_other_dtypes_get_a_spec_error(alias, backend):
    with pytest.raises(SpecError, match="^dtype: expected one of float32, float64"):
        backprop.build(REGRESSION, backend=backend, dtype=alias)


def test_an_all_numeric_dataframe_is_accepted(backend):
    import pandas as pd

    frame = pd.DataFrame({"f": X[:, 0], "i": np.arange(6), "b": np.arange(6) % 2 == 0})
    labels = pd.Series(LABELS)
    model, reference = fresh(CLASSIFIER, backend), fresh(CLASSIFIER, backend)
    as_array = np.column_stack([X[:, 0], np.arange(6), np.arange(6) % 2 == 0]).astype(float)
    assert model.train_step(frame, labels) == reference.train_step(as_array, LABELS)
    np.testing.assert_array_equal(model.predict(frame), reference.predict(as_array))


@pytest.mark.bad_input
def test_a_dataframe_with_a_text_column_is_rejected_naming_it(backend):
    import pandas as pd

    frame = pd.DataFrame({"f": X[:, 0], "name": list("abcdef"), "b": np.ones(6)})
    model = fresh(CLASSIFIER, backend)
    with pytest.raises(InputTypeError, match=r"^X: expected numeric or bool columns, got non-numeric column\(s\) "
                                             r"'name' \((object|str)\)"):
        model.train_step(frame, LABELS)
    nullable = pd.DataFrame({"f": X[:, 0], "i": pd.array([1, None, 2, 3, 4, 5], dtype="Int64"), "b": np.ones(6)})
    with pytest.raises(InputError, match="^X: expected finite values"):
        model.train_step(nullable, LABELS)
    assert_untouched(model, CLASSIFIER, backend)
