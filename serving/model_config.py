"""BASE/models.config: the ModelServerConfig listing every model under BASE.

For `tensorflow_model_server --model_config_file=BASE/models.config` (and
`serving.dev_server`): one entry per directory of BASE that holds numbered
versions, named after the directory, with its absolute base path.
"""

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

CONFIG_FILE = "models.config"


def models_under(base_dir):
    """{name: absolute path} of the subdirectories holding versions."""
    models = {}
    for name in sorted(os.listdir(base_dir)):
        path = os.path.abspath(os.path.join(base_dir, name))
        if os.path.isdir(path) and any(
                entry.isdigit() for entry in os.listdir(path)):
            models[name] = path
    return models


def write(base_dir):
    """(Re)writes BASE/models.config atomically; returns its path."""
    config = model_server_config_pb2.ModelServerConfig()
    for name, path in models_under(base_dir).items():
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = path
        entry.model_platform = "tensorflow"
    path = os.path.join(base_dir, CONFIG_FILE)
    staging = f"{path}.tmp-{os.getpid()}"
    with open(staging, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    os.replace(staging, path)
    return path
