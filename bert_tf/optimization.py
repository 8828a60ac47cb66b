"""Optimizers of BERT training, with warmup then linear decay.

`create_optimizer` builds one of `OPTIMIZERS`, each with beta 0.9 / 0.999,
epsilon 1e-6 and decoupled weight decay 0.01 that skips LayerNorm
parameters and biases (`NO_DECAY`):

- "adamw", `AdamW`: Adam with bias-corrected moments (Kingma & Ba 2015,
  Algorithm 1) and decoupled weight decay (Loshchilov & Hutter 2019), as
  torch.optim.AdamW: `w -= lr * (m_hat / (sqrt(v_hat) + epsilon) +
  weight_decay * w)`.
- "adam_weight_decay", `AdamWeightDecay`: google-research/bert's
  `AdamWeightDecayOptimizer`, the same without bias correction:
  `w -= lr * (m / (sqrt(v) + epsilon) + weight_decay * w)`. Early steps
  are larger: `m / sqrt(v)` is `(1 - beta_1^t) / sqrt(1 - beta_2^t)` times
  the corrected ratio, 3.2x at step 1, 6.6x at step 12, 3.2x at step 100
  and 1.3x at step 1,000.
- "lamb", `Lamb`: LAMB (You et al. 2019, Algorithm 2), the optimizer of
  NVIDIA's large-batch BERT recipe. The decayed Adam update
  `r = m_hat / (sqrt(v_hat) + epsilon) + weight_decay * w` is rescaled per
  variable by the trust ratio `||w|| / ||r||` (1 when either is 0):
  `w -= lr * ||w|| / ||r|| * r`. LayerNorm parameters and biases get
  neither decay nor trust ratio. Keras' own `Lamb` differs on both: it
  decays the weights before the step (outside the ratio) and rescales
  every variable.

The learning rate rises linearly from 0 to its peak over the warmup steps,
then falls linearly from the peak to 0 at the last step (as TF Model
Garden's and HF transformers' BERT recipes; google-research/bert's decayed
over all steps and let warmup override the start, so its rate right after
warmup was `peak * (1 - warmup / total)`: 10% lower with the usual 10%
warmup, and lower all the way down); every optimizer follows it.
Gradients are clipped to global norm 1.0 by the training loop (after the
cross-replica sum, see `bert_tf.training`), not by the optimizer.

`AdamW` adds epsilon to the bias-corrected second moment, as in Adam's
definition and torch.optim.AdamW. Keras' `AdamW` adds it before the
correction, which makes it `epsilon / sqrt(1 - beta_2^t)`: 30x larger at
step 1 and still 2.4x at step 200, which damps the first few hundred
steps. Short fine-tuning runs (a few hundred steps) are all in that range:
see docs/finetuning.md, "Accuracy against other stacks".
"""

import keras
from keras import ops

# Substrings of variable names that get no weight decay: LayerNorm's gamma
# and beta, and every bias (the MLM head's `output_bias` included).
NO_DECAY = ("gamma", "beta", "bias")
OPTIMIZERS = ("adamw", "adam_weight_decay", "lamb")


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


class _NoDecay:
    """Mixin: the names of the variables without decay, kept in the config.

    Args:
        no_decay: strings. Variables whose names contain one of them get no
            weight decay (and, with LAMB, no layer adaptation either).
        *args, **kwargs: the optimizer's other arguments.
    """

    def __init__(self, *args, no_decay=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.no_decay = tuple(no_decay)
        self.exclude_from_weight_decay(var_names=list(self.no_decay))

    def get_config(self):
        return {**super().get_config(), "no_decay": list(self.no_decay)}


@keras.saving.register_keras_serializable(package="bert_tf")
class AdamW(_NoDecay, keras.optimizers.AdamW):
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


class _DecayInUpdate(_NoDecay, keras.optimizers.Optimizer):
    """Adam's moments, with the weight decay a term of the update.

    Keras' optimizers shrink the weights before the step; these two add
    `weight_decay * w` to the update instead, which LAMB needs (its trust
    ratio is taken over the decayed update).

    Args:
        learning_rate: float or `LearningRateSchedule`. Peak rate.
        weight_decay: float. Rate of the decoupled weight decay.
        beta_1: float. Decay rate of the first moment.
        beta_2: float. Decay rate of the second moment.
        epsilon: float. Added to the square root of the second moment.
        **kwargs: `no_decay` and `keras.optimizers.Optimizer` arguments.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.01, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-6, **kwargs):
        super().__init__(learning_rate=learning_rate,
                         weight_decay=weight_decay, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])

    def _apply_weight_decay(self, variables):
        """Nothing here: `update_step` adds the decay to the update."""

    def _moments(self, gradient, variable):
        """Moves the variable's moments towards `gradient`; returns them."""
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m),
                                        1 - self.beta_1))
        self.assign_add(v, ops.multiply(
            ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        return m, v

    def _plus_decay(self, update, variable):
        """`update + weight_decay * w`."""
        if not self.weight_decay:
            return update
        return ops.add(update, ops.multiply(
            ops.cast(self.weight_decay, variable.dtype), variable))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="bert_tf")
class AdamWeightDecay(_DecayInUpdate):
    """google-research/bert's `AdamWeightDecayOptimizer`.

    Adam without bias correction: `w -= lr * (m / (sqrt(v) + epsilon) +
    weight_decay * w)`, the decay left out for `no_decay` variables.
    """

    def update_step(self, gradient, variable, learning_rate):
        m, v = self._moments(gradient, variable)
        update = ops.divide(m, ops.add(ops.sqrt(v), self.epsilon))
        if self._use_weight_decay(variable):
            update = self._plus_decay(update, variable)
        self.assign_sub(variable, ops.multiply(
            ops.cast(learning_rate, variable.dtype), update))


@keras.saving.register_keras_serializable(package="bert_tf")
class Lamb(_DecayInUpdate):
    """LAMB (You et al. 2019, Algorithm 2) as NVIDIA's BERT recipe runs it.

    `r = m_hat / (sqrt(v_hat) + epsilon) + weight_decay * w` from the
    bias-corrected moments, then `w -= lr * ||w|| / ||r|| * r` (the trust
    ratio is 1 when either norm is 0). `no_decay` variables get neither
    the decay nor the trust ratio: `w -= lr * m_hat / (sqrt(v_hat) +
    epsilon)`, an Adam step.
    """

    def update_step(self, gradient, variable, learning_rate):
        m, v = self._moments(gradient, variable)
        step = ops.cast(self.iterations + 1, variable.dtype)
        m_hat = ops.divide(m, 1 - ops.power(
            ops.cast(self.beta_1, variable.dtype), step))
        v_hat = ops.divide(v, 1 - ops.power(
            ops.cast(self.beta_2, variable.dtype), step))
        update = ops.divide(m_hat, ops.add(ops.sqrt(v_hat), self.epsilon))
        if self._use_weight_decay(variable):
            update = self._plus_decay(update, variable)
            update = ops.multiply(update, _trust_ratio(variable, update))
        self.assign_sub(variable, ops.multiply(
            ops.cast(learning_rate, variable.dtype), update))


def _trust_ratio(weights, update):
    """`||weights|| / ||update||`, or 1 where either norm is 0."""
    weights_norm = ops.sqrt(ops.sum(ops.square(weights)))
    update_norm = ops.sqrt(ops.sum(ops.square(update)))
    both = ops.logical_and(ops.greater(weights_norm, 0),
                           ops.greater(update_norm, 0))
    return ops.where(both, ops.divide(
        weights_norm, ops.where(both, update_norm, 1.0)), 1.0)


_CLASSES = {"adamw": AdamW, "adam_weight_decay": AdamWeightDecay,
            "lamb": Lamb}


def create_optimizer(name, learning_rate, num_train_steps, num_warmup_steps,
                     weight_decay=0.01):
    """An optimizer of `OPTIMIZERS` with BERT's hyper-parameters, schedule
    and weight-decay exclusions (`NO_DECAY`).

    Args:
        name: str. "adamw", "adam_weight_decay" or "lamb".
        learning_rate: float. Peak learning rate.
        num_train_steps: int. Steps of the whole run.
        num_warmup_steps: int. Steps of linear warmup.
        weight_decay: float. Decoupled weight decay rate.

    Returns:
        The Keras optimizer.
    """
    if name not in _CLASSES:
        raise ValueError(f"unknown optimizer {name!r}; one of "
                         f"{', '.join(OPTIMIZERS)}")
    schedule = WarmupLinearDecay(learning_rate, num_train_steps,
                                 num_warmup_steps)
    return _CLASSES[name](
        learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9,
        beta_2=0.999, epsilon=1e-6, no_decay=NO_DECAY)
