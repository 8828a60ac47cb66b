"""Optimizers of BERT training: AdamW or LAMB, warmup then linear decay.

The learning rate rises linearly from 0 to its peak over the warmup steps,
then falls linearly from the peak to 0 at the last step (as TF Model
Garden's and HF transformers' BERT recipes; google-research/bert's decayed
over all steps and let warmup override the start, so its rate right after
warmup was `peak * (1 - warmup / total)`: 10% lower with the usual 10%
warmup, and lower all the way down). AdamW has beta 0.9 / 0.999, epsilon
1e-6 and decoupled weight decay 0.01 that skips LayerNorm parameters and
biases. Gradients are clipped to global norm 1.0 by the training loop
(after the cross-replica sum, see `bert_tf.training`), not by the
optimizer.

Epsilon is added to the bias-corrected second moment, as in Adam's
definition (Kingma & Ba 2015, Algorithm 1) and torch.optim.AdamW:
`update = lr * m_hat / (sqrt(v_hat) + epsilon)`. Keras' `AdamW` adds it
before the correction, which makes it `epsilon / sqrt(1 - beta_2^t)`: 30x
larger at step 1 and still 2.4x at step 200, which damps the first few
hundred steps. Short fine-tuning runs (a few hundred steps) are all in that
range: see docs/finetuning.md, "Accuracy against other stacks".
"""

import keras
from keras import ops

# Substrings of variable names that get no weight decay: LayerNorm's gamma
# and beta, and every bias (the MLM head's `output_bias` included).
NO_DECAY = ("gamma", "beta", "bias")
OPTIMIZERS = ("adamw", "lamb")


@keras.saving.register_keras_serializable(package="bert_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `peak` over `warmup_steps`, then linear decay to 0.

    Args:
        peak: float. Learning rate at the end of warmup.
        total_steps: int. Step at which the rate reaches 0.
        warmup_steps: int. Steps of linear warmup (0 for none).
    """

    def __init__(self, peak, total_steps, warmup_steps=0):
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"warmup_steps ({warmup_steps}) must be in "
                             f"[0, total_steps ({total_steps})]")
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay_steps = float(max(self.total_steps - self.warmup_steps, 1))
        decayed = self.peak * ops.maximum(
            0.0, 1.0 - (step - self.warmup_steps) / decay_steps)
        if not self.warmup_steps:
            return decayed
        warmup = self.peak * step / float(self.warmup_steps)
        return ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="bert_tf")
class AdamW(keras.optimizers.AdamW):
    """Keras' AdamW with epsilon where Adam defines it (see module doc)."""

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m),
                                        1 - self.beta_1))
        self.assign_add(v, ops.multiply(
            ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        m_hat = ops.divide(m, 1 - ops.power(
            ops.cast(self.beta_1, variable.dtype), step))
        v_hat = ops.divide(v, 1 - ops.power(
            ops.cast(self.beta_2, variable.dtype), step))
        self.assign_sub(variable, ops.divide(
            ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon)))


def create_optimizer(name, learning_rate, num_train_steps, num_warmup_steps,
                     weight_decay=0.01):
    """AdamW or LAMB with BERT's hyper-parameters and schedule."""
    schedule = WarmupLinearDecay(learning_rate, num_train_steps,
                                 num_warmup_steps)
    if name == "adamw":
        optimizer = AdamW(
            learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9,
            beta_2=0.999, epsilon=1e-6)
    elif name == "lamb":
        optimizer = keras.optimizers.Lamb(
            learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9,
            beta_2=0.999, epsilon=1e-6)
    else:
        raise ValueError(f"unknown optimizer {name!r}; one of "
                         f"{', '.join(OPTIMIZERS)}")
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
