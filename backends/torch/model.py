"""The torch model: ``nn.Linear`` and ``torch.nn`` activation modules in an ``nn.Sequential``, autograd, torch.optim.

Forward, layer l = 1..L with a_0 = X (N, fan_in):
    z_l = a_{l−1} @ weight_lᵀ + bias_l     weight_l (units, fan_in) = W_lᵀ, bias_l (units,) = b_l
    a_l = f_l(z_l)
When the loss is computed from logits (cross_entropy, binary_cross_entropy) the network stops at z_L, the loss takes
the logits and ``predict`` applies the output softmax/sigmoid. Gradients come from torch autograd.

Layout: the suite's W (fan_in, units) is torch's ``weight`` transposed; b and a prelu layer's alpha (units,) are
``bias`` and ``PReLU.weight`` as they are. ``_read_params`` / ``_write_params`` translate, copying values in place so
the optimizer keeps its state.

Modes: ``eager`` runs the objective (forward + loss) op by op; ``compile`` runs it through ``torch.compile``
(inductor), which also compiles its backward through AOTAutograd. ``fullgraph=True`` makes a graph break an error
instead of a silent eager fallback, and ``isolate_recompiles=True`` gives each model its own compile cache: without it
every model shares the cache of the one ``_objective`` code object, and after 8 architectures in a process torch falls
back to eager without saying so in the results. The optimizer step stays eager in both modes: it is already one fused
kernel per step (:mod:`.optimizers`). ``predict`` runs the eager network in both modes.

Non-finite loss or gradient: ``_train_step`` reads the loss (a CPU scalar) and a flag that
``torch._amp_foreach_non_finite_check_and_unscale_`` (the one-call check of every gradient that AMP's GradScaler
uses, with scale 1) sets when any gradient is inf or nan, and skips ``optimizer.step()`` unless both are clean, so
parameters, slots and Adam's step count stay as they were. torch on CPU runs every op to completion before it
returns, so these reads wait for nothing. The public ``torch.nn.utils.get_total_norm`` would do the same check
for ~90 µs per step against ~4 µs.

Gradients are enabled explicitly around every training computation, and building, converting and training all
run outside inference mode (``torch.inference_mode(False)``; a tensor made in inference mode can never enter
autograd), so ``fit``, ``train_step`` and ``loss_and_grads`` work inside a caller's ``torch.no_grad()`` or
``torch.inference_mode()``.
"""

from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from backprop.model import Model as BaseModel, Params
from backprop.spec import NetworkSpec

from .layers import TO_SUITE, torch_modules
from .losses import LOSSES
from .optimizers import make_optimizer


def build_network(spec: NetworkSpec, dtype: torch.dtype) -> tuple[nn.Sequential, list[dict[str, nn.Parameter]],
                                                                   nn.Module | None]:
    """The network (conv weights in torch's channels_last format), its parameters per layer in the suite's naming,
    and the output activation kept for ``predict``."""
    modules, params, output_activation = torch_modules(spec, dtype)
    network = nn.Sequential(*modules)
    if len(spec.input_shape) == 3:
        network = network.to(memory_format=torch.channels_last)
    return network, params, output_activation


class Model(BaseModel):
    backend = "torch"

    def _setup(self, params: Params) -> None:
        with torch.inference_mode(False):
            self._build(params)

    def _build(self, params: Params) -> None:
        torch_dtype = getattr(torch, self.dtype.name)
        self.network, self.layer_params, self.output_activation = build_network(self.spec, torch_dtype)
        self.flat_params = [p for layer in self.layer_params for p in layer.values()]
        self._write_params(params)
        self.loss = LOSSES[self.spec.loss]
        self.optimizer = make_optimizer(self.flat_params, self.spec.optimizer)
        self.found_non_finite, self.unit_scale = torch.zeros(1, dtype=torch.float32), torch.ones(1)
        self.objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
            torch.compile(self._objective, fullgraph=True, isolate_recompiles=True) if self.mode == "compile"
            else self._objective)

    def _objective(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss of the network on (X, y), from logits for the classification losses."""
        return self.loss(self.network(X), y)

    def _suite_layout(self, index: int, key: str, tensor: torch.Tensor) -> np.ndarray:
        """A NumPy view of a torch parameter (or its gradient) in the suite's layout."""
        axes = TO_SUITE.get((self.spec.layers[index].type, key))
        array = tensor.detach().numpy()
        return array.transpose(axes) if axes else array

    def _read_params(self) -> Params:
        return [{key: np.ascontiguousarray(self._suite_layout(index, key, p)).copy() for key, p in layer.items()}
                for index, layer in enumerate(self.layer_params)]

    def _write_params(self, params: Params) -> None:
        with torch.inference_mode(False), torch.no_grad():
            for index, (live, new) in enumerate(zip(self.layer_params, params)):
                for key, p in live.items():
                    axes = TO_SUITE.get((self.spec.layers[index].type, key))
                    p.copy_(torch.from_numpy(new[key].transpose(np.argsort(axes)) if axes else new[key]))

    def to_native(self, array: np.ndarray) -> torch.Tensor:
        """A tensor sharing ``array``'s memory; a read-only array is copied (torch warns on those, never writes)."""
        with torch.inference_mode(False):
            return torch.from_numpy(array if array.flags.writeable else array.copy())

    def _snapshot(self) -> dict:
        return {"params": self._read_params(), "optimizer": copy.deepcopy(self.optimizer.state_dict())}

    def _restore(self, snapshot: dict) -> None:
        with torch.inference_mode(False):
            self._write_params(snapshot["params"])
            self.optimizer.load_state_dict(copy.deepcopy(snapshot["optimizer"]))

    def _loss_and_grads(self, X: torch.Tensor, y: torch.Tensor, masks) -> tuple[torch.Tensor, Params]:
        with torch.inference_mode(False), torch.enable_grad():
            loss = self.objective(X, y)
            grads = iter(torch.autograd.grad(loss, self.flat_params))
        return loss.detach(), [{key: self._suite_layout(index, key, next(grads)) for key in layer}
                               for index, layer in enumerate(self.layer_params)]

    def _train_step(self, X: torch.Tensor, y: torch.Tensor, masks) -> torch.Tensor:
        with torch.inference_mode(False):
            self.optimizer.zero_grad(set_to_none=True)
            with torch.enable_grad():
                loss = self.objective(X, y)
                loss.backward()
            self.found_non_finite.zero_()
            torch._amp_foreach_non_finite_check_and_unscale_([p.grad for p in self.flat_params],
                                                             self.found_non_finite, self.unit_scale)
            if math.isfinite(loss.item()) and not self.found_non_finite.item():
                self.optimizer.step()
                return loss.detach()
            return torch.full_like(loss, math.nan) if math.isfinite(loss.item()) else loss.detach()

    def _predict(self, X: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            out = self.network(X)
            if self.output_activation is not None:
                out = self.output_activation(out)
        return out.numpy()

    def _loss(self, X: torch.Tensor, y: torch.Tensor) -> float:
        with torch.no_grad():
            return float(self.loss(self.network(X), y))
