"""The NumPy model: a chain of layer objects, forward and backward by the chain rule, and the optimizer step.

Forward, a_0 = X:  a_l = layer_l(a_{l−1}), each layer writing its output into its workspace.
Loss:  L(a_L, y), with dL/d(a_L) (or dL/dz_L, when the output activation is folded into the loss) written into
       the last layer's gradient buffer.
Backward, l = L … 1:  layer_l writes its parameter gradients and, when an earlier layer has parameters,
       dL/da_{l−1} into the previous layer's gradient buffer.
Update:  once every gradient is known and finite, the optimizer steps the flat parameter buffer.

The layers and their math are in :mod:`.layers`; parameters and gradients live in flat buffers (:mod:`.buffers`);
activations, losses and optimizers in their own modules. The model keeps one training workspace per recent batch
size (every layer's buffers for that size); ``predict`` and ``evaluate`` use workspaces that live only for the call,
without gradient buffers. A step whose loss or any gradient is non-finite changes nothing (``_train_step`` then
returns a non-finite value).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from backprop.model import Model as BaseModel, Params
from backprop.validation import check_features

from .blas import Blas, RowSum
from .buffers import ParameterBuffers
from .layers import make_layers
from .layers.dense import FUSED_SGD_MIN_WEIGHTS
from .losses import make_loss
from .optimizers import SGD, make_optimizer

# Training workspaces kept, one per recently used batch size.
WORKSPACES_KEPT = 4


class Model(BaseModel):
    backend = "numpy"

    def _setup(self, params: Params) -> None:
        trainable = self.spec.trainable_shapes()
        state = [{name: shape for name, shape in shapes.items() if name not in trained}
                 for shapes, trained in zip(self.spec.param_shapes(), trainable)]
        self.buffers = ParameterBuffers(trainable, state, self.dtype)
        self._write_params(params)
        self.optimizer = make_optimizer(self.buffers.flat_values, self.spec.optimizer)
        sgd = isinstance(self.optimizer, SGD)
        self.fused_sgd = [sgd and layer.type == "dense" and shapes["W"][0] * shapes["W"][1] >= FUSED_SGD_MIN_WEIGHTS
                          for layer, shapes in zip(self.spec.layers, trainable)]
        self.any_fused_sgd = any(self.fused_sgd)
        self.blas = Blas.choose(self.any_fused_sgd)
        row_sum = RowSum(self.blas.gemm, self.spec.output_dim, self.dtype)
        native_masks = np.random.default_rng((self.seed, 1)) if self.spec.dropout_rng == "native" else None
        self.layers = make_layers(self.spec, self.buffers, self.blas, row_sum, self.dtype, self.fused_sgd,
                                  native_masks)
        self.dropouts = [self.layers[i] for i in self.spec.dropout_layers]
        self.loss = make_loss(self.spec.loss, row_sum, self.blas.dot, self.spec.loss_scale)
        self.needs_input_grad = [any(layer.values is not None for layer in self.layers[:index])
                                 for index in range(len(self.layers))]
        self.workspaces: dict[int, list] = {}

    def _read_params(self) -> Params:
        return [self.buffers.arrays(index) for index in range(len(self.spec.layers))]

    def _write_params(self, params: Params) -> None:
        for index, new in enumerate(params):
            live = self.buffers.arrays(index)
            for key, value in new.items():
                live[key][...] = value

    def native_array(self, array: np.ndarray) -> np.ndarray:
        return array

    def _export(self) -> "Model":
        from .export import native_copy

        return native_copy(self)

    def _snapshot(self) -> dict:
        return {"values": self.buffers.flat_values.copy(), "state": self.buffers.flat_state.copy(),
                "optimizer": self.optimizer.state(), "masks": self._dropout_rng_state()}

    def _restore(self, snapshot: dict) -> None:
        self.buffers.flat_values[...] = snapshot["values"]
        self.buffers.flat_state[...] = snapshot["state"]
        self.optimizer.load_state(snapshot["optimizer"])
        if snapshot["masks"] is not None:
            self.layers[self.spec.dropout_layers[0]].rng.bit_generator.state = snapshot["masks"]

    def _read_optimizer_state(self) -> dict:
        return {"step": self.optimizer.t, "slots": {name: self.buffers.split(flat) for name, flat in
                                                    self.optimizer.suite_slots().items()}}

    def _write_optimizer_state(self, state: dict) -> None:
        flats = {}
        for name, layers in state["slots"].items():
            flats[name] = np.zeros_like(self.buffers.flat_values)
            for views, layer in zip(self.buffers.split(flats[name]), layers):
                for key, value in layer.items():
                    views[key][...] = value
        self.optimizer.load_suite_slots(flats, state["step"])

    def _dropout_rng_state(self) -> dict | None:
        """The state of this backend's own mask generator (``dropout_rng: "native"``), shared by its dropouts."""
        layers = [self.layers[i] for i in self.spec.dropout_layers]
        return layers[0].rng.bit_generator.state if layers and layers[0].rng is not None else None

    def _new_workspaces(self, n: int, training: bool) -> list:
        """Every layer's buffers for batch size ``n``; each layer gets the previous one's gradient buffer."""
        spaces, input_grad = [], None
        for layer in self.layers:
            spaces.append(layer.workspace(n, training, input_grad))
            input_grad = getattr(spaces[-1], "grad_out", None)
        return spaces

    def _workspace(self, n: int) -> list:
        """The training workspaces for batch size ``n`` (the last :data:`WORKSPACES_KEPT` sizes are kept)."""
        if n not in self.workspaces:
            if len(self.workspaces) >= WORKSPACES_KEPT:
                del self.workspaces[next(iter(self.workspaces))]
            self.workspaces[n] = self._new_workspaces(n, training=True)
        return self.workspaces[n]

    def _forward(self, X: np.ndarray, spaces: list) -> np.ndarray:
        a = X
        for layer, ws in zip(self.layers, spaces):
            a = layer.forward(a, ws)
        return a

    def _loss_value(self, output: np.ndarray, y: np.ndarray, ws) -> float:
        """The loss on the network's output; its gradient goes into the last layer's ``grad_out`` (a temporary in
        inference)."""
        grad = getattr(ws, "grad_out", None)
        grad = np.empty_like(output) if grad is None else grad
        scratch = getattr(ws, "scratch", None)
        return self.loss.value_and_grad(getattr(ws, "z", output), output, y, grad,
                                        np.empty_like(output) if scratch is None else scratch)

    def _backward(self, X: np.ndarray, y: np.ndarray, spaces: list, fuse: bool, masks) -> float:
        """Forward (the suite's dropout ``masks`` in their layers), loss, then every layer's backward from the
        output down; returns the loss."""
        for index, mask in zip(self.spec.dropout_layers, masks or ()):
            spaces[index].mask = mask
        loss = self._loss_value(self._forward(X, spaces), y, spaces[-1])
        for index in range(len(self.layers) - 1, -1, -1):
            dx = spaces[index - 1].grad_out if self.needs_input_grad[index] else None
            self.layers[index].backward(spaces[index], dx, fuse)
        return loss

    def _gradients_finite(self, spaces: list, fuse: bool) -> bool:
        """Every gradient the update will use is finite (checked as a finite sum of squares, with an exact check
        when that sum overflows). A fused-sgd layer contributes [a, 1] and dL/dz in place of its gradient."""
        if not (fuse and self.any_fused_sgd):
            return _all_finite(self.buffers.flat_grads, self.blas.dot)
        return all(_all_finite(part, self.blas.dot) for layer, ws in zip(self.layers, spaces)
                   for part in layer.update_inputs(ws, fuse) if part.size)

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray, masks) -> tuple[float, Params]:
        loss = self._backward(X, y, self._workspace(X.shape[0]), False, masks)
        return loss, [{key: value.copy() for key, value in views.arrays.items()} for views in self.buffers.grads]

    def _train_step(self, X: np.ndarray, y: np.ndarray, masks) -> float:
        spaces, fuse = self._workspace(X.shape[0]), self.any_fused_sgd
        loss = self._backward(X, y, spaces, fuse, masks)
        if not (math.isfinite(loss) and self._gradients_finite(spaces, fuse)):
            return loss if not math.isfinite(loss) else math.nan
        if fuse:
            self._fused_sgd_update(spaces)
        else:
            self.optimizer.step(self.buffers.flat_grads)
        for layer, ws in zip(self.layers, spaces):
            if hasattr(layer, "commit"):
                layer.commit(ws)
        return loss

    def _fused_sgd_update(self, spaces: list) -> None:
        """The sgd step of a model with fused layers: each fused layer updates itself inside its GEMM, every other
        layer's segment takes p ← p − lr·g."""
        self.optimizer.begin()
        for layer, ws, values, grads in zip(self.layers, spaces, self.buffers.values, self.buffers.grads):
            if getattr(layer, "fused_sgd", False):
                layer.fused_sgd_update(ws, self.optimizer)
            elif values.segment.size:
                self.optimizer.segment(values.segment, grads.segment)
        self.optimizer.t += 1

    def _inference(self, X: np.ndarray) -> tuple[np.ndarray, list]:
        """A forward pass over ``X`` in workspaces that live only for this call."""
        spaces = self._new_workspaces(X.shape[0], training=False)
        return self._forward(X, spaces), spaces

    def _predict(self, X: np.ndarray) -> np.ndarray:
        output, spaces = self._inference(X)
        last = self.layers[-1]
        return last.activate(spaces[-1]) if getattr(last, "folded", False) else output

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        output, spaces = self._inference(X)
        return self._loss_value(output, y, spaces[-1])

    def phase_steps(self, X: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], object] | None]:
        """For profiling: zero-argument callables that each run one phase of the train step on a prepared batch
        (:meth:`prepare_batch`) in the training workspace of its size: "forward", "loss" (on the output of one
        forward), "backward" (forward, loss and backward: its time minus the other two is the backward pass's) and
        "optimizer" (the update from the current gradients; None when sgd is fused into the backward GEMMs).
        Running them changes the gradients and, for "optimizer", the parameters."""
        spaces, fuse = self._workspace(X.shape[0]), self.any_fused_sgd
        output = self._forward(X, spaces)
        grads = self.buffers.flat_grads
        return {"forward": lambda: self._forward(X, spaces),
                "loss": lambda: self._loss_value(output, y, spaces[-1]),
                "backward": lambda: self._backward(X, y, spaces, fuse, None),
                "optimizer": None if fuse else lambda: self.optimizer.step(grads)}

    def pre_activations(self, X) -> list[np.ndarray | None]:
        """z of every layer with an activation (dense: (N, units); conv2d: (N, H', W', filters)) for the batch
        ``X``, in inference; None for the other layers."""
        with self._lock:
            _, spaces = self._inference(check_features(X, self.spec, self.dtype))
        return [getattr(ws, "z", None) for ws in spaces]


def _all_finite(array: np.ndarray, dot) -> bool:
    """True when every element of ``array`` is finite: Σ x² as one BLAS dot, and an exact check only when that
    sum is not finite (it also overflows for finite |x| above ~1e19 in float32)."""
    flat = array.reshape(-1) if array.flags.c_contiguous else array
    return math.isfinite(dot(flat, flat)) or _exactly_finite(array)


def _exactly_finite(array: np.ndarray) -> bool:
    """The element-by-element check behind :func:`_all_finite`'s fast sum of squares."""
    return bool(np.isfinite(array).all())
