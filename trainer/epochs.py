"""The plan of a run's epochs: how many questions each trains on, which are polishing rounds, and the
tf.data pipeline that feeds them to the network.

An epoch trains on `samples_per_epoch` questions. With `--polish-samples`, the
epochs after `--decay-epochs` are polishing rounds instead: that many questions
each, half of them the hard ones (POLISH_HARD_SHARE), on a fresh optimizer at
the floor rate (train.py). All of this is a pure function of the settings and
the epoch number, so a resumed run makes the same plan.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model import steps as stepping
from model.codec import encode_answers, encode_questions
from model.config import TaskConfig
from model.questions import Questions, answers

from .settings import TrainSettings

POLISH_HARD_SHARE = 0.5  # share of a polishing round drawn from the hard questions


def polishing(s: TrainSettings, epoch: int) -> bool:
    """Whether epoch (counted from 0) is a polishing round: after the rate has decayed to its floor."""
    return s.polish_samples is not None and s.decay_epochs is not None and epoch >= s.decay_epochs


def epoch_size(s: TrainSettings, epoch: int) -> int:
    """Questions trained on in epoch (counted from 0)."""
    return s.polish_samples if polishing(s, epoch) and s.polish_samples else s.samples_per_epoch


def questions_before(s: TrainSettings, epoch: int) -> int:
    """Questions trained on in the epochs before epoch (counted from 0)."""
    return sum(epoch_size(s, e) for e in range(epoch))


def steps(s: TrainSettings, epoch: int) -> int:
    return max(1, epoch_size(s, epoch) // s.batch_size)


def batches(
    questions: Questions, task: TaskConfig, batch_size: int, *, teacher_forcing: bool = False
) -> tf.data.Dataset:
    """The questions as (one-hot question, answer tokens) batches. They travel as int8 tokens and are
    one-hot encoded batch by batch, so an epoch of millions of questions never sits in memory as floats.

    teacher_forcing (the attention decoder): the input is (question, the answer shifted right by one
    character), the decoder reading at each step the true character before it (model.codec.shifted_answers).

    Written steps (steps "rewrite"): the network learns one operation per pass, so the pairs are (an
    expression, the expression after one operation) from every question's chain; as many pairs as there
    are questions are taken, at random, so an epoch's size and its batches count training sequences.
    """
    if task.rewrites:
        x, y = step_pairs(questions, task)
    else:
        x = encode_questions(questions, task).astype(np.int8)
        y = encode_answers(answers(questions), task).astype(np.int8)
    depth = task.num_chars

    def one_hot(a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor | tuple[tf.Tensor, tf.Tensor], tf.Tensor]:
        question, answer = tf.one_hot(tf.cast(a, tf.int32), depth), tf.cast(b, tf.int32)
        if not teacher_forcing:
            return question, answer
        before = tf.one_hot(answer[:, :-1], depth)  # the first step reads the all-zero vector
        previous = tf.pad(before, [[0, 0], [1, 0], [0, 0]])
        return (question, previous), answer

    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(batch_size, drop_remainder=True)
        .map(one_hot, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def step_pairs(questions: Questions, task: TaskConfig) -> tuple[np.ndarray, np.ndarray]:
    """(expressions (N, question_length), next expressions (N, answer_length)) int8: N of the chains' pairs,
    drawn at random (seeded by the questions themselves, so a resumed epoch draws the same)."""
    chains = stepping.question_chains(questions)
    inputs = [c[i] for c in chains for i in range(len(c) - 1)]
    targets = [c[i + 1] for c in chains for i in range(len(c) - 1)]
    seed = int(questions.terms[:64].sum()) if len(questions) else 0
    pick = np.random.default_rng(seed).permutation(len(inputs))[: len(questions)]
    x = stepping.encode_texts([inputs[i] for i in pick], task.question_length)
    y = stepping.encode_texts([targets[i] for i in pick], task.answer_length)
    return x.astype(np.int8), y.astype(np.int8)
