"""The NumPy model: forward pass, backward pass by the chain rule, and the optimizer step.

Forward, layer l = 1..L with a_0 = X (N, fan_in):
    z_l = a_{l−1} @ W_l + b_l = [a_{l−1}, 1] @ [W_l; b_l]      W_l (fan_in, units), b_l (units,)
    a_l = f_l(z_l)
Backward, from g_L = dL/dz_L given by the loss (fused for softmax/sigmoid outputs):
    d[W_l; b_l] = [a_{l−1}, 1]ᵀ @ g_l                          (dL/dW_l = a_{l−1}ᵀ g_l, dL/db_l = Σ_n g_l)
    g_{l−1} = f'_{l−1}(z_{l−1}) ⊙ (g_l @ W_lᵀ)

Speed (see reports/performance.md):
- all parameters live in one flat array and all gradients in another. A layer's W is followed by its b, so the
  pair is one (fan_in + 1, units) matrix [W; b], and every activation buffer carries a trailing column of ones:
  one GEMM computes z with its bias, one GEMM computes dW with db;
- an optimizer update is a fixed handful of whole-buffer calls, whatever the depth;
- every intermediate lives in a workspace preallocated per batch size, written with ``out=``;
- with plain sgd, large layers fold the update into the weight-gradient GEMM (BLAS ``beta = 1``):
  [W; b] ← [W; b] − lr·[a, 1]ᵀ @ g, so their gradient is never stored. Such a model sends every BLAS call
  through SciPy's BLAS (:func:`scipy_gemm`, :func:`scipy_dot`): two BLAS thread pools busy-waiting against each
  other would cost more than the fusion saves.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import blas

from backprop.model import Model as BaseModel, Params

from .activations import RowSum, make_activation
from .losses import make_loss
from .optimizers import SGD, make_optimizer

# Layers with at least this many weights fold the sgd update into their GEMM (below it, the separate
# whole-buffer update is cheaper than the extra BLAS call).
FUSED_SGD_MIN_WEIGHTS = 65_536
# Workspaces kept, one per recently used batch size.
WORKSPACES_KEPT = 4


# out ← a @ b with NumPy's BLAS, called as ``numpy_gemm(a, b, out)``: ``np.dot`` itself, since it has the least
# per-call overhead for tiny arrays and a Python wrapper around it would add a frame to every GEMM.
numpy_gemm = np.dot


def scipy_gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> None:
    """out ← alpha·a @ b + beta·out in place with SciPy's BLAS, for a C-contiguous ``out``.

    BLAS is column-major: the C-ordered ``out`` is the Fortran array outᵀ = alpha·bᵀ @ aᵀ + beta·outᵀ. Each operand
    is passed as a Fortran view of itself or of its transpose (with the transpose flag), so nothing is copied.
    """
    gemm = blas.sgemm if out.dtype == np.float32 else blas.dgemm
    (x, trans_x), (y, trans_y) = _fortran(b.T), _fortran(a.T)
    gemm(alpha, x, y, beta=beta, c=out.T, trans_a=trans_x, trans_b=trans_y, overwrite_c=True)


def numpy_dot(x: np.ndarray, y: np.ndarray) -> float:
    """Σ x·y over two same-shape arrays, with NumPy's BLAS."""
    return float(np.vdot(x, y))


def scipy_dot(x: np.ndarray, y: np.ndarray) -> float:
    """Σ x·y over two same-shape arrays, with SciPy's BLAS (the partner of :func:`scipy_gemm`)."""
    dot = blas.sdot if x.dtype == np.float32 else blas.ddot
    return float(dot(x.ravel(), y.ravel()))


def _fortran(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    return (matrix, 0) if matrix.flags.f_contiguous else (matrix.T, 1)


class ParameterBuffers:
    """One flat array for the parameters and one for the gradients.

    ``values``/``grads`` are per-layer ``{"W", "b"[, "alpha"]}`` views in the suite's layout;
    ``augmented_values``/``augmented_grads`` are the (fan_in + 1, units) views [W; b] of the same memory, and
    ``layer_values``/``layer_grads`` each layer's whole flat segment [W; b; α].
    """

    def __init__(self, shapes: list[dict[str, tuple[int, ...]]], dtype: np.dtype):
        size = sum(math.prod(shape) for layer in shapes for shape in layer.values())
        self.flat_values, self.flat_grads = np.zeros(size, dtype=dtype), np.zeros(size, dtype=dtype)
        self.values, self.augmented_values, self.layer_values = self._views(self.flat_values, shapes)
        self.grads, self.augmented_grads, self.layer_grads = self._views(self.flat_grads, shapes)

    @staticmethod
    def _views(flat: np.ndarray, shapes: list[dict[str, tuple[int, ...]]]
               ) -> tuple[Params, list[np.ndarray], list[np.ndarray]]:
        views, augmented, segments, offset = [], [], [], 0
        for layer in shapes:
            fan_in, units = layer["W"]
            start = offset
            matrix = flat[offset:offset + (fan_in + 1) * units].reshape(fan_in + 1, units)
            entry = {"W": matrix[:-1], "b": matrix[-1]}
            offset += matrix.size
            if "alpha" in layer:
                entry["alpha"] = flat[offset:offset + units]
                offset += units
            views.append(entry)
            augmented.append(matrix)
            segments.append(flat[start:offset])
        return views, augmented, segments


class Workspace:
    """Every intermediate of one step for batch size N, allocated once.

    ``inputs[l]`` is [a_{l−1}, 1] (N, fan_in + 1), its last column fixed at 1; ``z[l]``, ``activations[l]``,
    ``grad[l]``, ``scratch[l]`` are (N, units) for layer l; ``output`` is a_L. Activations are computed into their
    own contiguous buffers and then copied once into the next layer's input slot ``inputs[l + 1][:, :-1]``: an
    element-wise op writing into that strided slot costs 2-3x a contiguous one, and the backward pass reads ``a``.
    """

    def __init__(self, widths: list[int], n: int, dtype: np.dtype):
        self.inputs = [np.ones((n, width + 1), dtype=dtype) for width in widths[:-1]]
        self.z, self.activations, self.grad, self.scratch = (
            [np.empty((n, width), dtype=dtype) for width in widths[1:]] for _ in range(4))
        self.output = self.activations[-1]
        self.features = self.inputs[0][:, :-1]
        self.input_slots = [inputs[:, :-1] for inputs in self.inputs[1:]]
        self.inputs_transposed = [inputs.T for inputs in self.inputs]


class Model(BaseModel):
    backend = "numpy"

    def _setup(self, params: Params) -> None:
        self.buffers = ParameterBuffers(self.spec.param_shapes(), self.dtype)
        self.params, self.grads = self.buffers.values, self.buffers.grads
        self.weights_transposed = [layer["W"].T for layer in self.params]
        self._write_params(params)
        self.optimizer = make_optimizer(self.buffers.flat_values, self.spec.optimizer)
        fusable = isinstance(self.optimizer, SGD)
        self.fused_sgd = [fusable and p["W"].size >= FUSED_SGD_MIN_WEIGHTS for p in self.params]
        self.any_fused_sgd = any(self.fused_sgd)
        self.gemm, dot = (scipy_gemm, scipy_dot) if self.any_fused_sgd else (numpy_gemm, numpy_dot)
        row_sum = RowSum(self.gemm, self.spec.output_dim, self.dtype)
        self.activations = [make_activation(layer, p, g, self.dtype, row_sum)
                            for layer, p, g in zip(self.spec.layers, self.params, self.grads)]
        self.loss = make_loss(self.spec.loss, row_sum, dot)
        self.widths = [self.spec.input_dim, *(layer.units for layer in self.spec.layers)]
        self.workspaces: dict[int, Workspace] = {}

    def _read_params(self) -> Params:
        return self.params

    def _write_params(self, params: Params) -> None:
        for live, new in zip(self.params, params):
            for key, value in new.items():
                live[key][...] = value

    def to_native(self, array: np.ndarray) -> np.ndarray:
        return array

    def _workspace(self, n: int) -> Workspace:
        if n not in self.workspaces:
            if len(self.workspaces) >= WORKSPACES_KEPT:
                del self.workspaces[next(iter(self.workspaces))]
            self.workspaces[n] = Workspace(self.widths, n, self.dtype)
        return self.workspaces[n]

    def _forward(self, X: np.ndarray, output_activation: bool = True) -> Workspace:
        """Fill the workspace's z and a for every layer; the last activation only if ``output_activation``."""
        ws = self._workspace(X.shape[0])
        np.copyto(ws.features, X)
        gemm = self.gemm
        for inputs, matrix, z, activation, a, slot in zip(ws.inputs, self.buffers.augmented_values, ws.z,
                                                          self.activations, ws.activations, ws.input_slots):
            gemm(inputs, matrix, z)
            activation.forward(z, a)
            np.copyto(slot, a)
        gemm(ws.inputs[-1], self.buffers.augmented_values[-1], ws.z[-1])
        if output_activation:
            self.activations[-1].forward(ws.z[-1], ws.output)
        return ws

    def _backward(self, X: np.ndarray, y: np.ndarray, sgd_lr: float | None = None) -> float:
        """Forward, loss, then the chain rule from the output down, writing every gradient into ``self.grads``.

        With ``sgd_lr`` (and a finite loss) each layer also takes its sgd step as soon as its gradient is known,
        after g @ Wᵀ has used the old W; layers marked in ``self.fused_sgd`` do it inside the GEMM.
        """
        ws = self._forward(X, output_activation=not self.loss.fused)
        loss = self.loss.value_and_grad(ws.z[-1], ws.output, y, ws.grad[-1], ws.scratch[-1])
        update = sgd_lr is not None and math.isfinite(loss)
        gemm, buffers, last = self.gemm, self.buffers, len(self.activations) - 1
        for l in range(last, -1, -1):
            grad = ws.grad[l]
            if l < last or not self.loss.fused:
                self.activations[l].backward(ws.z[l], ws.activations[l], grad, ws.scratch[l])
            if l > 0:
                gemm(grad, self.weights_transposed[l], ws.grad[l - 1])
            if update and self.fused_sgd[l]:
                scipy_gemm(ws.inputs_transposed[l], grad, buffers.augmented_values[l], alpha=-sgd_lr, beta=1.0)
                continue
            gemm(ws.inputs_transposed[l], grad, buffers.augmented_grads[l])
            if update:
                buffers.layer_values[l] -= sgd_lr * buffers.layer_grads[l]
        return loss

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        loss = self._backward(X, y)
        return loss, [{key: value.copy() for key, value in layer.items()} for layer in self.grads]

    def _train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        if self.any_fused_sgd:
            return self._backward(X, y, sgd_lr=self.optimizer.lr)
        loss = self._backward(X, y)
        if math.isfinite(loss):
            self.optimizer.step(self.buffers.flat_grads)
        return loss

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X).output.copy()
