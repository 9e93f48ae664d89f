"""The spec: validation errors name the field and the choices; dict and JSON round-trips are exact."""

import json

import pytest
from hypothesis import given, settings, strategies as st

import backprop
from backprop import NetworkSpec, SpecError
from backprop.spec import ACTIVATIONS, LOSSES, OPTIMIZERS

GOOD = {"input_dim": 2, "layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
        "loss": "binary_cross_entropy", "optimizer": {"name": "adam", "lr": 0.01}}


def with_changes(**changes):
    return {**GOOD, **changes}


@pytest.mark.parametrize("bad, field, listed", [
    (with_changes(layers=[{"units": 4, "activation": "swish"}, {"units": 1, "activation": "sigmoid"}]),
     "layers[0].activation", ACTIVATIONS),
    (with_changes(layers=[{"units": 0, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]),
     "layers[0].units", ()),
    (with_changes(loss="cross_entropy"), "layers[1].activation", ("softmax",)),
    (with_changes(loss="hinge"), "loss", LOSSES),
    (with_changes(optimizer={"name": "adam", "lr": -0.1}), "optimizer.lr", ()),
    (with_changes(optimizer={"name": "lbfgs"}), "optimizer.name", OPTIMIZERS),
    (with_changes(optimizer={"name": "momentum", "momentum": 1.0}), "optimizer.momentum", ()),
    (with_changes(optimizer={"name": "adam", "lr": float("nan")}), "optimizer.lr", ()),
    (with_changes(optimizer={"name": "sgd", "beta1": 0.9}), "optimizer", ("lr",)),
    (with_changes(input_dim=0), "input_dim", ()),
    (with_changes(input_dim=2.5), "input_dim", ()),
    (with_changes(layers=[]), "layers", ()),
    (with_changes(dtype="float16"), "dtype", ("float32", "float64")),
    (with_changes(init="zeros"), "init", ("glorot_uniform", "he_normal", "uniform")),
    (with_changes(colour="red"), "spec", ("input_dim", "layers")),
    (with_changes(layers=[{"units": 4, "activation": "softmax"}, {"units": 1, "activation": "sigmoid"}]),
     "layers[0].activation", ()),
    (with_changes(layers=[{"units": 4, "activation": "tanh", "negative_slope": 0.1},
                          {"units": 1, "activation": "sigmoid"}]), "layers[0].negative_slope", ("leaky_relu",)),
    (with_changes(loss="mse", layers=[{"units": 3, "activation": "softmax"}]), "loss", ("cross_entropy",)),
])
def test_invalid_spec_names_field_and_choices(bad, field, listed):
    with pytest.raises(SpecError) as error:
        NetworkSpec.from_dict(bad)
    message = str(error.value)
    assert message.startswith(field), message
    for choice in listed:
        assert choice in message


def test_spec_error_is_a_value_error():
    with pytest.raises(ValueError):
        backprop.build(with_changes(loss="hinge"))


def test_malformed_json_is_a_spec_error():
    with pytest.raises(SpecError, match="malformed JSON at line 1"):
        NetworkSpec.from_json('{"input_dim": 2,')


def test_json_file_round_trip(tmp_path):
    spec = NetworkSpec.from_dict(GOOD)
    path = tmp_path / "net.json"
    spec.to_json(path)
    assert NetworkSpec.from_json(path) == spec
    assert json.loads(path.read_text())["optimizer"] == {"name": "adam", "lr": 0.01, "beta1": 0.9,
                                                          "beta2": 0.999, "eps": 1e-8}


layer_strategy = st.one_of(
    st.builds(lambda u, a: {"units": u, "activation": a}, st.integers(1, 64),
              st.sampled_from(["linear", "sigmoid", "tanh", "relu"])),
    st.builds(lambda u, s: {"units": u, "activation": "leaky_relu", "negative_slope": s}, st.integers(1, 64),
              st.floats(0.0, 1.0)),
    st.builds(lambda u, a: {"units": u, "activation": "prelu", "alpha_init": a}, st.integers(1, 64),
              st.floats(-1.0, 1.0)),
)
optimizer_strategy = st.one_of(
    st.builds(lambda lr: {"name": "sgd", "lr": lr}, st.floats(1e-6, 10.0)),
    st.builds(lambda lr, mu, n: {"name": "momentum", "lr": lr, "momentum": mu, "nesterov": n},
              st.floats(1e-6, 1.0), st.floats(0.0, 0.999), st.booleans()),
    st.builds(lambda lr, b1, b2, eps: {"name": "adam", "lr": lr, "beta1": b1, "beta2": b2, "eps": eps},
              st.floats(1e-6, 1.0), st.floats(0.0, 0.999), st.floats(0.0, 0.9999), st.floats(1e-12, 1e-3)),
)


@st.composite
def spec_dicts(draw):
    hidden = draw(st.lists(layer_strategy, min_size=0, max_size=3))
    loss = draw(st.sampled_from(LOSSES))
    output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss) or \
        draw(st.sampled_from(["linear", "sigmoid", "tanh"]))
    units = draw(st.integers(2 if output == "softmax" else 1, 10))
    return {"input_dim": draw(st.integers(1, 50)), "layers": hidden + [{"units": units, "activation": output}],
            "loss": loss, "optimizer": draw(optimizer_strategy),
            "init": draw(st.sampled_from(["glorot_uniform", "he_normal", "uniform"])),
            "dtype": draw(st.sampled_from(["float32", "float64"]))}


@settings(max_examples=60, deadline=None)
@given(spec_dicts())
def test_dict_and_json_round_trip(data):
    spec = NetworkSpec.from_dict(data)
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    assert NetworkSpec.from_json(spec.to_json()) == spec
    assert spec.to_dict() == json.loads(spec.to_json())
