"""The optimizer and the compiled gradient step of the training engine (train.py), on any strategy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from .epochs import steps
from .settings import TrainSettings


def make_optimizer(s: TrainSettings, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam with the run's schedule: cosine (a short warm-up, then decay to the floor) or constant."""
    rate: Any = s.learning_rate
    if s.schedule == "cosine":
        total = steps_per_epoch * (s.decay_epochs or s.epochs)  # after this the rate stays at its floor
        warmup = max(1, total // 20)  # a short warm-up keeps Adam's first steps from saturating the gates
        rate = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, total - warmup),
            alpha=s.floor,
            warmup_target=s.learning_rate,
            warmup_steps=warmup,
        )
    return keras.optimizers.Adam(rate, clipnorm=s.clipnorm)


def polishing_optimizer(s: TrainSettings, epoch: int) -> keras.optimizers.Optimizer:
    """A fresh Adam at the floor rate for the polishing rounds. The decayed one's second-moment estimates
    trail the smaller gradients of the end of the decay, so the hard rounds' larger ones took steps several
    times the rate: right and wrong questions swapped places round after round.

    With --polish-ema it averages the weights and overwrites them with the average at the end of every round
    (its step count), so each round's checks, checkpoint and best weights see the average."""
    average: dict[str, Any] = {}
    if s.polish_ema is not None:
        average = {"use_ema": True, "ema_momentum": s.polish_ema, "ema_overwrite_frequency": steps(s, epoch)}
    return keras.optimizers.Adam(s.learning_rate * s.floor, clipnorm=s.clipnorm, **average)


def compile_with(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
    # Compiled so the checkpoint archive carries the optimizer and its state; the loop is our own.
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    optimizer.build(model.trainable_variables)  # its variables made now, mirrored, not inside the step


def uses_xla(strategy: tf.distribute.Strategy, workers: int, batch_size: int) -> bool:
    """Whether each replica's forward and backward pass is compiled with XLA: it pays off for large batches
    with one device per machine (the optimizer's update, with its all-reduce, stays outside); several
    devices of one machine run the plain graph."""
    local_replicas = strategy.num_replicas_in_sync // workers
    return local_replicas == 1 and batch_size // strategy.num_replicas_in_sync >= 256


def make_step(
    model: keras.Model, strategy: tf.distribute.Strategy, global_batch: int, *, xla: bool
) -> Callable[[Any], tf.Tensor]:
    """One gradient step on the next global batch of an iterator, on every replica; returns its mean loss.

    Each replica's loss is its share of the global batch's mean (summed over its questions, divided by the
    global batch), so the optimizer's all-reduce of the gradients sums to the global batch's gradient.
    """
    optimizer = model.optimizer

    def loss_and_gradients(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        with tf.GradientTape() as tape:
            per_character = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
            loss = tf.reduce_sum(tf.reduce_mean(per_character, axis=-1)) / global_batch
        return loss, tape.gradient(loss, model.trainable_variables)

    if xla:
        loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

    def replica_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        loss, gradients = loss_and_gradients(x, y)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    def step(iterator: Any) -> tf.Tensor:
        x, y = next(iterator)  # the input pipeline stays outside XLA
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(x, y)), axis=None)

    return tf.function(step)
