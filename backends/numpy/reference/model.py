"""The textbook NumPy model (``backend="numpy", mode="reference"``): backpropagation as a textbook writes it.

    forward:   a_0 = X;  a_l = layer_l(a_{l−1}), each layer caching what its backward needs
    loss:      L and g = dL/d(a_L) (dL/dz_L when the output activation is folded into the loss)
    backward:  for l = L … 1:  g = layer_l.backward(g)   (the chain rule; each layer stores its dL/dparams)
    update:    one plain update per parameter (:mod:`.optimizers`), then batch_norm's running statistics

No workspaces, fused updates or BLAS tricks, and no autograd: this mode is the suite's plainest statement of the
math, held to the same agreement tests as the fast mode. Where the two disagree, trust this one.
"""

from __future__ import annotations

import math

import numpy as np

from backprop.model import Model as BaseModel, Params

from . import losses
from .layers import LAYERS
from .optimizers import Optimizer


class Model(BaseModel):
    backend = "numpy"

    def _setup(self, params: Params) -> None:
        self.params = [{name: value.copy() for name, value in layer.items()} for layer in params]
        self.layers = [LAYERS[layer.type](layer, layer_params) for layer, layer_params in
                       zip(self.spec.layers, self.params)]
        self.layers[-1].folded = self.spec.loss_from_logits
        trainable = [{name: layer[name] for name in shapes} for layer, shapes in
                     zip(self.params, self.spec.trainable_shapes())]
        self.optimizer = Optimizer(self.spec.optimizer, trainable)
        self.own_masks = np.random.default_rng((self.seed, 1)) if self.spec.dropout_rng == "native" else None

    def _read_params(self) -> Params:
        return self.params

    def _write_params(self, params: Params) -> None:
        for live, new in zip(self.params, params):
            live.update({name: value.copy() for name, value in new.items()})

    def native_array(self, array: np.ndarray) -> np.ndarray:
        return array

    def _forward(self, X: np.ndarray, training: bool, masks) -> np.ndarray:
        masks = iter(masks if masks is not None else self._own_masks(X) if training else ())
        a = X
        for layer, spec in zip(self.layers, self.spec.layers):
            a = layer.forward(a, training, next(masks) if spec.type == "dropout" and training else None)
        return a

    def _own_masks(self, X: np.ndarray) -> list:
        """This mode's own dropout masks (``dropout_rng: "native"``), drawn as the suite draws its masks."""
        masks = []
        for index in self.spec.dropout_layers:
            rate = self.spec.layers[index].rate
            keep = self.own_masks.random((X.shape[0], *self.spec.input_shapes[index]), dtype=np.float32) >= rate
            masks.append(np.multiply(keep, 1.0 / (1.0 - rate), dtype=self.dtype))
        return masks

    def _backpropagate(self, X: np.ndarray, y: np.ndarray, masks) -> tuple[float, list[dict]]:
        """Forward in training mode, the loss, then the chain rule from the output down."""
        out = self._forward(X, True, masks)
        loss, grad = losses.value_and_gradient(self.spec.loss, self.layers[-1].z if self.layers[-1].folded
                                               else out, y, self.spec.loss_scale(X.shape[0]))
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return loss, [{name: layer.grads[name] for name in shapes} for layer, shapes in
                      zip(self.layers, self.spec.trainable_shapes())]

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray, masks) -> tuple[float, Params]:
        return self._backpropagate(X, y, masks)

    def _train_step(self, X: np.ndarray, y: np.ndarray, masks) -> float:
        loss, grads = self._backpropagate(X, y, masks)
        if not math.isfinite(loss):
            return loss
        if not all(np.all(np.isfinite(g)) for layer in grads for g in layer.values()):
            return math.nan
        trainable = [{name: layer[name] for name in shapes} for layer, shapes in
                     zip(self.params, self.spec.trainable_shapes())]
        self.optimizer.step(trainable, grads)
        for layer_params, updated in zip(self.params, trainable):
            layer_params.update(updated)
        for layer in self.layers:
            if hasattr(layer, "commit"):
                layer.commit()
        return loss

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X, False, None)

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        out = self._forward(X, False, None)
        return losses.value_and_gradient(self.spec.loss, self.layers[-1].z if self.layers[-1].folded else out, y,
                                         self.spec.loss_scale(X.shape[0]))[0]

    def _read_optimizer_state(self) -> dict:
        from backprop.optimizer_state import slot_names

        names = slot_names(self.spec.optimizer)
        return {"step": self.optimizer.t, "slots": {name: [{key: slots[name] for key, slots in layer.items()}
                                                           for layer in self.optimizer.slots] for name in names}}

    def _write_optimizer_state(self, state: dict) -> None:
        self.optimizer.t = state["step"]
        for name, layers in state["slots"].items():
            for layer_slots, layer in zip(self.optimizer.slots, layers):
                for key, value in layer.items():
                    layer_slots[key][name] = value.copy()

    def _export(self) -> "Model":
        from ..export import native_copy

        return native_copy(self)

    def _snapshot(self) -> dict:
        return {"params": [{name: value.copy() for name, value in layer.items()} for layer in self.params],
                "slots": [{name: {slot: value.copy() for slot, value in slots.items()} for name, slots in
                           layer.items()} for layer in self.optimizer.slots],
                "t": self.optimizer.t, "masks": None if self.own_masks is None else self.own_masks.bit_generator.state}

    def _restore(self, snapshot: dict) -> None:
        self._write_params(snapshot["params"])
        self.optimizer.slots = [{name: {slot: value.copy() for slot, value in slots.items()} for name, slots in
                                 layer.items()} for layer in snapshot["slots"]]
        self.optimizer.t = snapshot["t"]
        if snapshot["masks"] is not None:
            self.own_masks.bit_generator.state = snapshot["masks"]
