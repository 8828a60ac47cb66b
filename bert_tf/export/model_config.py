"""BASE/models.config: the ModelServerConfig listing every model under BASE,
and BASE/batching.config, an example of TF Serving's batching parameters.

For `tensorflow_model_server --model_config_file=BASE/models.config` (and
`serving.dev_server`): one entry per directory of BASE that holds numbered
versions, named after the directory, with its absolute base path.

`batching.config` (written once; edit it, exports leave it alone) is for
`tensorflow_model_server --enable_batching
--batching_parameters_file=BASE/batching.config`. Raw-text signatures
batch as they are (string [B] inputs); `tokenized` inputs [B, L] differ in
L between requests, hence `pad_variable_length_inputs`. (The dev server
does not batch across requests.)
"""

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from bert_tf import file_io

CONFIG_FILE = "models.config"
BATCHING_FILE = "batching.config"
# A BatchingParameters text proto (tensorflow_serving/servables/tensorflow/
# session_bundle_config.proto): batches of up to 32 requests' examples,
# waiting at most 2 ms for a batch to fill.
BATCHING_EXAMPLE = """\
max_batch_size { value: 32 }
batch_timeout_micros { value: 2000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 4 }
pad_variable_length_inputs: true
"""


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
    file_io.atomic_write(path, text_format.MessageToString(config))
    batching = os.path.join(base_dir, BATCHING_FILE)
    if not os.path.exists(batching):
        file_io.atomic_write(batching, BATCHING_EXAMPLE)
    return path
