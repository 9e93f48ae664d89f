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
- every intermediate of a train step lives in a workspace preallocated per batch size, written with ``out=``;
  ``predict`` and ``evaluate`` use workspaces that live only for the call, without gradient buffers;
- with plain sgd, large layers fold the update into the weight-gradient GEMM (BLAS ``beta = 1``):
  [W; b] ← [W; b] − lr·[a, 1]ᵀ @ g, so their gradient is never stored. The updates run after the whole backward
  pass, once every gradient (or, for a fused layer, its [a, 1] and g) is known to be finite. Such a model sends
  every BLAS call through SciPy's BLAS (:func:`scipy_gemm`, :func:`scipy_dot`): two BLAS thread pools
  busy-waiting against each other would cost more than the fusion saves.

A step whose loss or any gradient is non-finite changes nothing (``_train_step`` then returns a non-finite value).
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

    ``inputs[l]`` is [a_{l−1}, 1] (N, fan_in + 1), its last column fixed at 1; ``z[l]`` and ``activations[l]`` are
    (N, units) for layer l; ``output`` is a_L. Activations are computed into their own contiguous buffers and then
    copied once into the next layer's input slot ``inputs[l + 1][:, :-1]``: an element-wise op writing into that
    strided slot costs 2-3x a contiguous one, and the backward pass reads ``a``. A training workspace also has
    ``grad[l]`` (dL/dz_l) and ``scratch[l]`` for every layer; an inference workspace (``training=False``) has them
    for the output layer only, where the loss writes its gradient.
    """

    def __init__(self, widths: list[int], n: int, dtype: np.dtype, training: bool = True):
        self.inputs = [np.ones((n, width + 1), dtype=dtype) for width in widths[:-1]]
        self.z, self.activations = ([np.empty((n, width), dtype=dtype) for width in widths[1:]] for _ in range(2))
        backward_widths = widths[1:] if training else widths[-1:]
        self.grad, self.scratch = ([np.empty((n, width), dtype=dtype) for width in backward_widths]
                                   for _ in range(2))
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
        self.gemm, self.dot = (scipy_gemm, scipy_dot) if self.any_fused_sgd else (numpy_gemm, numpy_dot)
        row_sum = RowSum(self.gemm, self.spec.output_dim, self.dtype)
        self.activations = [make_activation(layer, p, g, self.dtype, row_sum)
                            for layer, p, g in zip(self.spec.layers, self.params, self.grads)]
        self.loss = make_loss(self.spec.loss, row_sum, self.dot)
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

    def _snapshot(self) -> dict:
        return {"values": self.buffers.flat_values.copy(), "optimizer": self.optimizer.state()}

    def _restore(self, snapshot: dict) -> None:
        self.buffers.flat_values[...] = snapshot["values"]
        self.optimizer.load_state(snapshot["optimizer"])

    def _workspace(self, n: int) -> Workspace:
        """The training workspace for batch size ``n`` (the last :data:`WORKSPACES_KEPT` sizes are kept)."""
        if n not in self.workspaces:
            if len(self.workspaces) >= WORKSPACES_KEPT:
                del self.workspaces[next(iter(self.workspaces))]
            self.workspaces[n] = Workspace(self.widths, n, self.dtype)
        return self.workspaces[n]

    def _forward(self, X: np.ndarray, ws: Workspace, output_activation: bool = True) -> None:
        """Fill ``ws``'s z and a for every layer; the last activation only if ``output_activation``."""
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

    def _backward(self, X: np.ndarray, y: np.ndarray, ws: Workspace, fuse: bool) -> float:
        """Forward, loss, then the chain rule from the output down: g_l = dL/dz_l of every layer into ``ws.grad``
        and every gradient into ``self.grads``; with ``fuse``, not [W; b] of the layers marked in
        ``self.fused_sgd`` (their sgd update takes aᵀg inside the GEMM, :meth:`_fused_sgd_update`). Returns the
        loss."""
        self._forward(X, ws, output_activation=not self.loss.fused)
        loss = self.loss.value_and_grad(ws.z[-1], ws.output, y, ws.grad[-1], ws.scratch[-1])
        gemm, augmented_grads, last = self.gemm, self.buffers.augmented_grads, len(self.activations) - 1
        skip = self.fused_sgd if fuse else [False] * len(self.fused_sgd)
        for l in range(last, -1, -1):
            grad = ws.grad[l]
            if l < last or not self.loss.fused:
                self.activations[l].backward(ws.z[l], ws.activations[l], grad, ws.scratch[l])
            if l > 0:
                gemm(grad, self.weights_transposed[l], ws.grad[l - 1])
            if not skip[l]:
                gemm(ws.inputs_transposed[l], grad, augmented_grads[l])
        return loss

    def _gradients_finite(self, ws: Workspace) -> bool:
        """Every gradient the update will use is finite (checked as a finite sum of squares, with an exact check
        when that sum overflows). For a fused-sgd layer, [a, 1] and g are checked in place of aᵀg."""
        if not self.any_fused_sgd:
            return _all_finite(self.buffers.flat_grads, self.dot)
        buffers = self.buffers
        for l, fused in enumerate(self.fused_sgd):
            parts = ([buffers.layer_grads[l][buffers.augmented_grads[l].size:], ws.inputs[l], ws.grad[l]] if fused
                     else [buffers.layer_grads[l]])
            if not all(_all_finite(part, self.dot) for part in parts if part.size):
                return False
        return True

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        loss = self._backward(X, y, self._workspace(X.shape[0]), fuse=False)
        return loss, [{key: value.copy() for key, value in layer.items()} for layer in self.grads]

    def _train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        ws = self._workspace(X.shape[0])
        loss = self._backward(X, y, ws, fuse=True)
        if not (math.isfinite(loss) and self._gradients_finite(ws)):
            return loss if not math.isfinite(loss) else math.nan
        if self.any_fused_sgd:
            self._fused_sgd_update(ws)
        else:
            self.optimizer.step(self.buffers.flat_grads)
        return loss

    def _fused_sgd_update(self, ws: Workspace) -> None:
        """The sgd step of a model with fused layers, once every gradient is known and checked.

        A fused layer takes [W; b] ← [W; b] − lr·[a, 1]ᵀ g in one GEMM (BLAS beta = 1) and the rest of its segment
        (a prelu alpha) with its stored gradient; every other layer takes p ← p − lr·g over its whole segment.
        """
        buffers, lr = self.buffers, self.optimizer.lr
        for l, fused in enumerate(self.fused_sgd):
            values, grads = buffers.layer_values[l], buffers.layer_grads[l]
            if fused:
                scipy_gemm(ws.inputs_transposed[l], ws.grad[l], buffers.augmented_values[l], alpha=-lr, beta=1.0)
                start = buffers.augmented_values[l].size
                values, grads = values[start:], grads[start:]
            self.optimizer.step_segment(values, grads)

    def _inference(self, X: np.ndarray, output_activation: bool) -> Workspace:
        """A forward pass over ``X`` in a workspace that lives only for this call (no gradient buffers kept)."""
        ws = Workspace(self.widths, X.shape[0], self.dtype, training=False)
        self._forward(X, ws, output_activation)
        return ws

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._inference(X, output_activation=True).output

    def pre_activations(self, X) -> list[np.ndarray]:
        """z_l = a_{l−1} @ W_l + b_l of every layer for the batch ``X`` (copies, (N, units) each)."""
        from backprop.validation import check_features

        with self._lock:
            return self._inference(check_features(X, self.spec, self.dtype), output_activation=False).z

    def _loss(self, X: np.ndarray, y: np.ndarray) -> float:
        ws = self._inference(X, output_activation=not self.loss.fused)
        return self.loss.value_and_grad(ws.z[-1], ws.output, y, ws.grad[-1], ws.scratch[-1])


def _all_finite(array: np.ndarray, dot) -> bool:
    """True when every element of ``array`` is finite: Σ x² as one BLAS dot, and an exact check only when that
    sum is not finite (it also overflows for finite |x| above ~1e19 in float32)."""
    flat = array.reshape(-1) if array.flags.c_contiguous else array
    return math.isfinite(dot(flat, flat)) or _exactly_finite(array)


def _exactly_finite(array: np.ndarray) -> bool:
    """The element-by-element check behind :func:`_all_finite`'s fast sum of squares."""
    return bool(np.isfinite(array).all())
