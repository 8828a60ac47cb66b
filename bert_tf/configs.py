"""BERT model configuration: google-research `bert_config.json`, HF `config.json`.

`BertConfig` holds the hyper-parameters every BERT checkpoint is described by,
with the key names google-research/bert used. It reads both file flavours
(HF's `config.json` is recognised by its `model_type`), validates them with
errors that name the file and field, and writes either flavour back.

Presets: the 24 compact BERTs of Turc et al. (2019), "Well-Read Students Learn
Better" (layers L in 2/4/6/8/10/12 x hidden H in 128/256/512/768, H/64 heads,
4H intermediate), named `bert_L{L}_H{H}`, their aliases tiny/mini/small/medium,
and BERT-Base and BERT-Large of Devlin et al. (2018).
"""

import contextvars
import dataclasses
import json
import math
import os
from typing import Optional

from bert_tf import errors

# `hidden_act` names -> what they compute (bert_tf/layers/activations.py has
# one function per kind). "gelu" is the exact erf form used by the 2018
# release and by HF; the tanh approximation only when asked for.
ACTIVATIONS = {"gelu": "gelu_exact", "gelu_new": "gelu_tanh",
               "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu",
               "tanh": "tanh", "silu": "silu", "swish": "silu"}

_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers",
             "num_attention_heads", "intermediate_size")

# Upper bounds on the sizes, checked before anything is allocated: a config
# file is input, and 1e12 rows or a million layers would exhaust memory or
# hang while the model is built. Each is far above any published BERT-style
# model (largest vocabulary: XLM-V's 901,629; widest: 12,288; deepest: 96
# layers; longest: 32k positions) and far below what breaks.
LIMITS = {
    "vocab_size": 1 << 21,  # 2,097,152
    "hidden_size": 1 << 16,  # 65,536
    "num_hidden_layers": 1000,
    "num_attention_heads": 1 << 16,  # must divide hidden_size anyway
    "intermediate_size": 1 << 18,  # 262,144 = 4 x the largest hidden_size
    "max_position_embeddings": 1 << 20,  # 1,048,576
    "type_vocab_size": 1024,
}
# A config file is a few hundred bytes (HF ones with large label maps: some
# hundred KB).
MAX_CONFIG_BYTES = 16 << 20


ConfigError = errors.ConfigError


# What validation errors name as the config's origin (a file path when read).
_SOURCE = contextvars.ContextVar("config_source", default="BertConfig")


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of a BERT encoder, with google-research's key names.

    Args:
        vocab_size: int. Number of rows of the word-piece embedding table.
        hidden_size: int. Width H of every Transformer layer.
        num_hidden_layers: int. Number of Transformer layers L.
        num_attention_heads: int. Attention heads; must divide hidden_size.
        intermediate_size: int. Width of the feed-forward inner layer.
        hidden_act: str. Feed-forward activation, one of `ACTIVATIONS`.
        hidden_dropout_prob: float. Dropout on embeddings and sub-layer outputs.
        attention_probs_dropout_prob: float. Dropout on attention probabilities.
        max_position_embeddings: int. Longest sequence the model can take.
        type_vocab_size: int. Number of segment (token type) ids.
        initializer_range: float. Stddev of the truncated-normal initialiser.
        layer_norm_eps: float. LayerNorm epsilon (the original used 1e-12).

    Example:
    >>> config = BertConfig.preset("mini", vocab_size=30522)
    >>> config.num_hidden_layers, config.hidden_size
    (4, 256)
    """

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        self.validate(_SOURCE.get())

    def validate(self, source):
        """Raises `ConfigError` naming `source` and the offending field."""
        for name in ("vocab_size", "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"{source}: field '{name}' must be a positive integer, "
                    f"got {value!r}")
            if value > LIMITS[name]:
                raise ConfigError(
                    f"{source}: field '{name}' is {value}, above the limit of "
                    f"{LIMITS[name]} (bert_tf.configs.LIMITS); the file is "
                    "corrupt or not a BERT config")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"{source}: hidden_size ({self.hidden_size}) is not a multiple "
                f"of num_attention_heads ({self.num_attention_heads})")
        # Not a str (a JSON list or object): unhashable, so test the type
        # first.
        if not isinstance(self.hidden_act, str) or \
                self.hidden_act not in ACTIVATIONS:
            raise ConfigError(
                f"{source}: field 'hidden_act' is {self.hidden_act!r}; "
                f"supported: {', '.join(ACTIVATIONS)}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value < 1:
                raise ConfigError(
                    f"{source}: field '{name}' must be in [0, 1), got {value!r}")
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < math.inf:
                raise ConfigError(
                    f"{source}: field '{name}' must be a positive number, "
                    f"got {value!r}")

    def parameter_count(self):
        """Number of encoder parameters (embeddings, layers, pooler)."""
        h, i = self.hidden_size, self.intermediate_size
        embeddings = (self.vocab_size + self.max_position_embeddings
                      + self.type_vocab_size + 2) * h
        layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h
        return embeddings + self.num_hidden_layers * layer + h * h + h

    @property
    def head_size(self):
        return self.hidden_size // self.num_attention_heads

    def check_max_seq_length(self, max_seq_length):
        """Raises if sequences of `max_seq_length` cannot be embedded."""
        if max_seq_length > self.max_position_embeddings:
            raise ConfigError(
                f"max_seq_length {max_seq_length} exceeds "
                f"max_position_embeddings {self.max_position_embeddings}")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------- I/O

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values, source="config"):
        """Builds a config from google-research or HF keys.

        HF-only keys (`model_type`, `architectures`, ...) are checked where they
        change the architecture and otherwise ignored.
        """
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got "
                              f"{type(values).__name__}")
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise ConfigError(
                f"{source}: model_type is {model_type!r}; only 'bert' "
                "checkpoints are supported")
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ConfigError(
                f"{source}: position_embedding_type {position_type!r} is not "
                "supported; BERT uses learned 'absolute' positions")
        missing = [key for key in _REQUIRED if key not in values]
        if missing:
            raise ConfigError(
                f"{source}: missing required field(s) {', '.join(missing)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in fields}
        token = _SOURCE.set(source)
        try:
            return cls(**kwargs)
        finally:
            _SOURCE.reset(token)

    @classmethod
    def from_json_file(cls, path):
        """Reads a google-research `bert_config.json` or an HF `config.json`."""
        return cls.from_dict(read_json_file(path), source=path)

    def to_json_file(self, path, flavor="google"):
        """Writes `bert_config.json` (flavor "google") or HF `config.json`."""
        values = self.to_dict()
        if flavor == "hf":
            values.update(model_type="bert", architectures=["BertModel"],
                          position_embedding_type="absolute", pad_token_id=0)
        elif flavor != "google":
            raise ValueError(f"flavor must be 'google' or 'hf', got {flavor!r}")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(values, f, indent=2, sort_keys=True)
            f.write("\n")

    # ------------------------------------------------------------ presets

    @classmethod
    def preset(cls, name, vocab_size=30522, **overrides):
        """A named architecture: `base`, `large`, `tiny`, ..., `bert_L4_H256`."""
        if name not in PRESETS:
            raise ConfigError(
                f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        return cls(vocab_size=vocab_size, **{**PRESETS[name], **overrides})


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_json_file(path):
    """The JSON value of a config file; `ConfigError` naming the file (and
    line) if it is missing, too large, not UTF-8 or not JSON."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    size = os.path.getsize(path)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size} bytes; a config file is far "
                          f"below {MAX_CONFIG_BYTES}")
    with open(path, "rb") as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (byte "
                          f"0x{raw[e.start]:02x})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from e
    except (ValueError, RecursionError) as e:  # huge numbers, deep nesting
        raise ConfigError(f"{path}: not valid JSON ({e})") from e


def _compact(layers, hidden):
    return dict(num_hidden_layers=layers, hidden_size=hidden,
                num_attention_heads=hidden // 64, intermediate_size=4 * hidden)


PRESETS = {
    f"bert_L{layers}_H{hidden}": _compact(layers, hidden)
    for layers in (2, 4, 6, 8, 10, 12)
    for hidden in (128, 256, 512, 768)
}
PRESETS.update(
    tiny=PRESETS["bert_L2_H128"],
    mini=PRESETS["bert_L4_H256"],
    small=PRESETS["bert_L4_H512"],
    medium=PRESETS["bert_L8_H512"],
    base=PRESETS["bert_L12_H768"],
    large=dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16,
               intermediate_size=4096),
)


def find_config_file(directory) -> Optional[str]:
    """The config file of a model directory, google name first."""
    for name in ("bert_config.json", "config.json"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None
