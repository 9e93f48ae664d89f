"""The torch model: ``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm*d`` and ``torch.nn`` activation modules chained by
:class:`.layers.Network`, autograd, torch.optim.

Forward, layer l = 1..L with a_0 = X (N, fan_in):
    z_l = a_{l−1} @ weight_lᵀ + bias_l     weight_l (units, fan_in) = W_lᵀ, bias_l (units,) = b_l
    a_l = f_l(z_l)
When the loss is computed from logits (cross_entropy, binary_cross_entropy) the network stops at z_L, the loss takes
the logits and ``predict`` applies the output softmax/sigmoid. Gradients come from torch autograd.

Layout: the suite's W (fan_in, units) is torch's ``weight`` transposed; b and a prelu layer's alpha (units,) are
``bias`` and ``PReLU.weight`` as they are, and so are batch_norm's gamma, beta (``weight``, ``bias``) and its running
statistics (buffers). ``_read_params`` / ``_write_params`` translate, copying values in place so the optimizer keeps
its state. Gradients and the optimizer cover the trainable parameters only (``spec.trainable_shapes()``).

Training and inference: training hooks put the network in torch's training mode (``Module.train()``: batch
statistics, dropout masks), ``_predict`` and ``_loss`` in eval mode (running statistics, no dropout); the switch is
made only when the mode changes. A training forward of ``nn.BatchNorm*d`` moves the running statistics as it runs,
before the step is known to be applied, so they are copied aside first (one ``torch._foreach_copy_``) and copied
back after ``_loss_and_grads`` and after a step that is not applied.

Dropout masks: the suite's masks (``masks``, suite layout) are multiplied in by :class:`.layers.Dropout`. With
``dropout_rng: "native"`` the masks are torch's own draw, made as ``F.dropout`` makes them on the CPU but from a
``torch.Generator`` the model owns, seeded from the model seed (its stream ``(seed, MASK_STREAM)``): ``nn.Dropout`` and
``F.dropout`` take no generator and would draw from (and advance) torch's global one, and a generator cannot enter a
``torch.compile(fullgraph=True)`` graph (Dynamo breaks the graph on it). So the native masks are drawn eagerly, just
before the objective, in both modes; the generator's state is part of the snapshot.

Modes: ``eager`` runs the objective (forward + loss) op by op; ``compile`` runs it through ``torch.compile``
(inductor), which also compiles its backward through AOTAutograd. ``fullgraph=True`` makes a graph break an error
instead of a silent eager fallback, and ``isolate_recompiles=True`` gives each model its own compile cache: without it
every model shares the cache of the one ``_objective`` code object, and after 8 architectures in a process torch falls
back to eager without saying so in the results. ``dynamic=False`` turns off torch's automatic dynamic shapes, whose
profile is kept per code object even with isolated caches: a second architecture in the process would otherwise
compile its first step with every size that differed from an earlier model's (H, W, C) as a symbol, and inductor
(torch 2.13) then fails on the channels_last strides ("cannot determine truth value of Relational: 1 < s90"). The
model does that job itself, for its own batch sizes only: static for its first batch size, and inputs of any other
size are marked dynamic in the batch (``torch._dynamo.maybe_mark_dynamic``), so other batch sizes share a dynamic
graph, as they would in a process with one model (torch may still add a graph where its guards bound the batch, e.g.
a batch of 1). The compiled objective always runs in training mode, with its masks as inputs, and functionalizes
batch_norm's buffer updates (written back into the same buffers). The optimizer step and the schedule stay eager in
both modes: the step is already one fused kernel (:mod:`.optimizers`). ``predict`` runs the eager network in both
modes.

Non-finite loss or gradient: ``_train_step`` reads the loss (a CPU scalar) and a flag that
``torch._amp_foreach_non_finite_check_and_unscale_`` (the one-call check of every gradient that AMP's GradScaler
uses, with scale 1) sets when any gradient is inf or nan, and skips ``optimizer.step()`` and the schedule's step
unless both are clean, so parameters, slots, step counts, the learning rate and the running statistics stay as they
were. torch on CPU runs every op to completion before it returns, so these reads wait for nothing. The public
``torch.nn.utils.get_total_norm`` would do the same check for ~90 µs per step against ~4 µs.

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

from backprop.model import MASK_STREAM, Model as BaseModel, Params
from backprop.optimizer_state import slot_names
from backprop.spec import NetworkSpec

from .layers import TO_SUITE, Dropout, Network, torch_modules
from .losses import make_loss
from .optimizers import COUNTS_PER_PARAMETER, TORCH_SLOTS, make_optimizer, make_schedule

Masks = list[torch.Tensor] | None


def build_network(spec: NetworkSpec, dtype: torch.dtype) -> tuple[Network, list[dict[str, torch.Tensor]],
                                                                   nn.Module | None]:
    """The network (conv weights in torch's channels_last format), its parameters and running statistics per layer
    in the suite's naming, and the output activation kept for ``predict``."""
    modules, params, output_activation = torch_modules(spec, dtype)
    network = Network(modules)
    if len(spec.input_shape) == 3:
        network = network.to(memory_format=torch.channels_last)
    return network, params, output_activation


class Model(BaseModel):
    backend = "torch"

    def _setup(self, params: Params) -> None:
        with torch.inference_mode(False):
            self._build(params)

    def _build(self, params: Params) -> None:
        self.torch_dtype = getattr(torch, self.dtype.name)
        self.network, self.layer_params, self.output_activation = build_network(self.spec, self.torch_dtype)
        self.trainable = [{key: p for key, p in layer.items() if key not in spec_layer.STATE}
                          for layer, spec_layer in zip(self.layer_params, self.spec.layers)]
        self.flat_params = [p for layer in self.trainable for p in layer.values()]
        self.statistics = [p for layer, spec_layer in zip(self.layer_params, self.spec.layers)
                           for key, p in layer.items() if key in spec_layer.STATE]
        self.saved_statistics = [torch.empty_like(p) for p in self.statistics]
        self.dropouts = [module for module in self.network.stack if isinstance(module, Dropout)]
        self.generator = None
        if self.dropouts and self.spec.dropout_rng == "native":
            seed = np.random.SeedSequence((self.seed, MASK_STREAM)).generate_state(1, np.uint64)[0]
            self.generator = torch.Generator().manual_seed(int(seed))
        self._write_params(params)
        self.loss = make_loss(self.spec.loss, self.spec.loss_reduction)
        self.optimizer = make_optimizer(self.flat_params, self.spec.optimizer)
        self.schedule = make_schedule(self.optimizer, self.spec.optimizer)
        self.found_non_finite, self.unit_scale = torch.zeros(1, dtype=torch.float32), torch.ones(1)
        self.applied_steps = 0
        self.first_batch: int | None = None
        self.compiled = (torch.compile(self._objective, fullgraph=True, dynamic=False, isolate_recompiles=True)
                         if self.mode == "compile" else None)
        self.objective: Callable[[torch.Tensor, torch.Tensor, Masks], torch.Tensor] = (
            self._compiled_objective if self.mode == "compile" else self._objective)

    def _objective(self, X: torch.Tensor, y: torch.Tensor, masks: Masks) -> torch.Tensor:
        """Mean loss of the network on (X, y) with the dropout ``masks``, from logits for the classification
        losses."""
        return self.loss(self.network(X, masks), y)

    def _compiled_objective(self, X: torch.Tensor, y: torch.Tensor, masks: Masks) -> torch.Tensor:
        """The compiled objective, static for the model's first batch size and dynamic in the batch for any other."""
        if self.first_batch is None:
            self.first_batch = X.shape[0]
        elif X.shape[0] != self.first_batch:
            for tensor in (X, y, *(masks or ())):
                torch._dynamo.maybe_mark_dynamic(tensor, 0)
        return self.compiled(X, y, masks)

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

    def native_array(self, array: np.ndarray) -> torch.Tensor:
        """A tensor sharing ``array``'s memory; a read-only array is copied (torch warns on those, never writes)."""
        with torch.inference_mode(False):
            return torch.from_numpy(array if array.flags.writeable else array.copy())

    def _export(self) -> nn.Sequential:
        from .export import native_module

        return native_module(self.spec, self._read_params(), self.torch_dtype)

    def _snapshot(self) -> dict:
        return {"params": self._read_params(), "applied_steps": self.applied_steps,
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "schedule": None if self.schedule is None else copy.deepcopy(self.schedule.state_dict()),
                "generator": None if self.generator is None else self.generator.get_state().numpy().copy()}

    def _restore(self, snapshot: dict) -> None:
        with torch.inference_mode(False):
            self._write_params(snapshot["params"])
            self.applied_steps = snapshot["applied_steps"]
            self.optimizer.load_state_dict(copy.deepcopy(snapshot["optimizer"]))
            if self.schedule is not None:
                self.schedule.load_state_dict(copy.deepcopy(snapshot["schedule"]))
            if self.generator is not None:
                self.generator.set_state(torch.from_numpy(snapshot["generator"].copy()))

    def _read_optimizer_state(self) -> dict:
        """torch's per-parameter state under the suite's slot names (:data:`.optimizers.TORCH_SLOTS`), in the
        suite's layout; a slot torch has not created yet (before the first step) is zeros."""
        state = self.optimizer.state
        slots = {name: [{key: np.ascontiguousarray(self._suite_layout(
                            index, key, state.get(p, {}).get(TORCH_SLOTS[name], torch.zeros_like(p)))).copy()
                         for key, p in layer.items()} for index, layer in enumerate(self.trainable)]
                 for name in slot_names(self.spec.optimizer)}
        return {"step": self.applied_steps, "slots": slots}

    def _write_optimizer_state(self, state: dict) -> None:
        """The slots as torch's per-parameter state (tensors shaped and strided like their parameters, torch's
        float32 ``step`` where the optimizer counts per parameter) through ``load_state_dict``, and the schedule
        moved to the same step."""
        step = state["step"]
        per_param = [{} for _ in self.flat_params]
        for name, layers in state["slots"].items():
            flat = iter(per_param)
            for index, layer in enumerate(self.trainable):
                for key, p in layer.items():
                    axes = TO_SUITE.get((self.spec.layers[index].type, key))
                    value = layers[index][key]
                    next(flat)[TORCH_SLOTS[name]] = torch.empty_like(p).copy_(
                        torch.from_numpy(value.transpose(np.argsort(axes)) if axes else value))
        if self.spec.optimizer.name in COUNTS_PER_PARAMETER:
            for entry in per_param:
                entry["step"] = torch.tensor(float(step), dtype=torch.float32)
        with torch.inference_mode(False):
            self.optimizer.load_state_dict({**self.optimizer.state_dict(), "state": dict(enumerate(per_param))})
            if self.schedule is not None:
                lr = float(self.spec.optimizer.lr) * self.spec.optimizer.schedule.factor(step)
                self.schedule.load_state_dict({**self.schedule.state_dict(), "last_epoch": step, "_last_lr": [lr]})
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
        self.applied_steps = step

    def _train_mode(self, training: bool) -> None:
        """Put the network in torch's training or eval mode, if it is not already there."""
        if self.network.training != training:
            self.network.train(training)

    def _begin_training(self, X: torch.Tensor, masks: Masks) -> Masks:
        """Training mode, the running statistics copied aside, and this step's masks (the suite's, or native ones
        drawn from the model's generator)."""
        self._train_mode(True)
        if self.statistics:
            torch._foreach_copy_(self.saved_statistics, self.statistics)
        if masks is None and self.generator is not None:
            return [module.draw(X.shape[0], self.torch_dtype, self.generator) for module in self.dropouts]
        return masks

    def _put_back_statistics(self) -> None:
        """The running statistics as they were before the training forward pass."""
        if self.statistics:
            torch._foreach_copy_(self.statistics, self.saved_statistics)

    def _loss_and_grads(self, X: torch.Tensor, y: torch.Tensor, masks: Masks) -> tuple[torch.Tensor, Params]:
        with torch.inference_mode(False):
            masks = self._begin_training(X, masks)
            try:
                with torch.enable_grad():
                    loss = self.objective(X, y, masks)
                    grads = iter(torch.autograd.grad(loss, self.flat_params))
            finally:
                self._put_back_statistics()
        return loss.detach(), [{key: self._suite_layout(index, key, next(grads)) for key in layer}
                               for index, layer in enumerate(self.trainable)]

    def _train_step(self, X: torch.Tensor, y: torch.Tensor, masks: Masks) -> torch.Tensor:
        with torch.inference_mode(False):
            masks = self._begin_training(X, masks)
            applied = False
            try:
                self.optimizer.zero_grad(set_to_none=True)
                with torch.enable_grad():
                    loss = self.objective(X, y, masks)
                    loss.backward()
                self.found_non_finite.zero_()
                torch._amp_foreach_non_finite_check_and_unscale_([p.grad for p in self.flat_params],
                                                                 self.found_non_finite, self.unit_scale)
                finite_loss = math.isfinite(loss.item())
                if finite_loss and not self.found_non_finite.item():
                    self.optimizer.step()
                    if self.schedule is not None:
                        self.schedule.step()
                    self.applied_steps += 1
                    applied = True
                    return loss.detach()
                return torch.full_like(loss, math.nan) if finite_loss else loss.detach()
            finally:
                if not applied:
                    self._put_back_statistics()

    def _predict(self, X: torch.Tensor) -> np.ndarray:
        self._train_mode(False)
        with torch.no_grad():
            out = self.network(X)
            if self.output_activation is not None:
                out = self.output_activation(out)
        return out.numpy()

    def _loss(self, X: torch.Tensor, y: torch.Tensor) -> float:
        self._train_mode(False)
        with torch.no_grad():
            return float(self.loss(self.network(X), y))
