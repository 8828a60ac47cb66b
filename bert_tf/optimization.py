"""Optimizers of BERT training: AdamW or LAMB, warmup then linear decay.

As google-research/bert's `optimization.py`: the learning rate rises
linearly from 0 to its peak over the warmup steps, then falls linearly to 0
at the last step; AdamW has beta 0.9 / 0.999, epsilon 1e-6 and decoupled
weight decay 0.01 that skips LayerNorm parameters and biases. Gradients are
clipped to global norm 1.0 by the training loop (after the cross-replica
sum, see `bert_tf.training`), not by the optimizer.
"""

import keras

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
        step = keras.ops.cast(step, "float32")
        decayed = self.peak * keras.ops.maximum(
            0.0, 1.0 - step / float(self.total_steps))
        if not self.warmup_steps:
            return decayed
        warmup = self.peak * step / float(self.warmup_steps)
        return keras.ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


def create_optimizer(name, learning_rate, num_train_steps, num_warmup_steps,
                     weight_decay=0.01):
    """AdamW or LAMB with BERT's hyper-parameters and schedule."""
    schedule = WarmupLinearDecay(learning_rate, num_train_steps,
                                 num_warmup_steps)
    if name == "adamw":
        optimizer = keras.optimizers.AdamW(
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
