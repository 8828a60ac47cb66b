"""The feed-forward activations that BERT configs name in `hidden_act`."""

import keras


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


_BY_NAME = {
    "gelu": gelu_exact,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
}


def get(name):
    """The activation function for a config's `hidden_act` name."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown hidden_act {name!r}; supported: "
                         f"{', '.join(sorted(_BY_NAME))}")
    return _BY_NAME[name]
