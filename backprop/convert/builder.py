"""What importing from any framework shares: spec layers and their parameters, built layer by layer, with activation
layers merged into the dense or conv2d layer before them (the suite's spec puts activations on those layers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec import NetworkSpec, as_spec, layer_from_dict

# The output activation each classification loss is defined with; a model that ends at logits gets it for the loss.
LOSS_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


class Builder:
    """Spec layers and their parameters in the suite's layout, with each layer's output shape tracked."""

    def __init__(self, input_shape: tuple[int, ...]):
        self.input_shape = tuple(int(size) for size in input_shape)
        self.shape = self.input_shape
        self.layers: list[dict] = []
        self.params: list[dict[str, np.ndarray]] = []

    def add(self, layer: dict, params: dict[str, np.ndarray] | None = None, where: str = "") -> None:
        self.shape = layer_from_dict(layer, where).output_shape(self.shape, where)
        self.layers.append(layer)
        self.params.append({name: np.ascontiguousarray(value) for name, value in (params or {}).items()})

    def activation(self, name: str, where: str, negative_slope: float | None = None,
                   alpha: np.ndarray | None = None) -> None:
        """Merge an activation layer into the dense or conv2d layer just before it."""
        before = self.layers[-1] if self.layers else {}
        if before.get("type", "dense" if before else None) not in ("dense", "conv2d") or \
                before.get("activation", "linear") != "linear":
            raise SpecError(f"{where}: a {name} activation layer is supported only right after a dense or conv2d "
                            f"layer without an activation of its own (the suite's spec has activations on dense and "
                            f"conv2d layers, not as layers of their own)")
        before["activation"] = name
        if negative_slope is not None:
            before["negative_slope"] = float(negative_slope)
        if alpha is not None:
            units = self.shape[-1]
            alpha = np.broadcast_to(np.asarray(alpha).reshape(-1), (units,)) if np.size(alpha) == 1 else alpha
            if np.size(alpha) != units:
                raise SpecError(f"{where}: a prelu alpha of shape {np.shape(alpha)} is not one per unit or filter "
                                f"({units}); shared over other axes it is not supported")
            before["alpha_init"] = float(np.asarray(alpha).reshape(-1)[0])
            self.params[-1]["alpha"] = np.ascontiguousarray(np.asarray(alpha).reshape(units))

    def result(self, source: str, loss: str | None, optimizer: Any, dtype: str) -> tuple[NetworkSpec, list]:
        """The spec (loss inferred from the output activation unless given) and the parameters, in ``dtype``."""
        if not self.layers:
            raise SpecError(f"{source}: the model has no layers the suite can convert")
        output = self.layers[-1]
        activation = output.get("activation", "linear")
        if loss is None:
            loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(activation, "mse")
        elif loss in LOSS_OUTPUT and activation == "linear" and output.get("type", "dense") == "dense":
            output["activation"] = LOSS_OUTPUT[loss]
        spec = {("input_dim" if len(self.input_shape) == 1 else "input_shape"):
                (self.input_shape[0] if len(self.input_shape) == 1 else list(self.input_shape)),
                "layers": self.layers, "loss": loss, "dtype": dtype}
        if optimizer is not None:
            spec["optimizer"] = optimizer
        network = as_spec(spec)
        params = [{name: layer_params.get(name, default).astype(dtype) for name, default in defaults.items()}
                  for layer_params, defaults in zip(self.params, _defaults(network))]
        return network, params


def _defaults(spec: NetworkSpec) -> list[dict[str, np.ndarray]]:
    """Every parameter the spec has, with the suite's initial value where the source had none."""
    from ..init import init_params

    return init_params(spec, np.float64, 0)
