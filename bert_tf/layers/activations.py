"""The feed-forward activations that BERT configs name in `hidden_act`."""

import keras

from bert_tf import configs


@keras.saving.register_keras_serializable(package="bert_tf")
def gelu_exact(x):
    """GELU with the exact Gaussian CDF, 0.5 x (1 + erf(x / sqrt(2))).

    What the 2018 BERT release and HF's `"gelu"` compute.
    """
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="bert_tf")
def gelu_tanh(x):
    """GELU's tanh approximation (HF `gelu_new` / `gelu_pytorch_tanh`)."""
    return keras.activations.gelu(x, approximate=True)


# What each kind of `configs.ACTIVATIONS` computes.
_BY_KIND = {
    "gelu_exact": gelu_exact,
    "gelu_tanh": gelu_tanh,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "silu": keras.activations.silu,
}


def get(name):
    """The activation function for a config's `hidden_act` name."""
    if name not in configs.ACTIVATIONS:
        raise ValueError(f"unknown hidden_act {name!r}; supported: "
                         f"{', '.join(sorted(configs.ACTIVATIONS))}")
    return _BY_KIND[configs.ACTIVATIONS[name]]
