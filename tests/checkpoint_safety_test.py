"""Hostile and malformed checkpoint files: refused with a `CheckpointError`.

The checks are `bert_tf/checkpoint_checks.py`'s; the readers that call them
are `checkpoint_sources` and `torch_pickle`.

Every file here is crafted in the test (a few KB): `pytorch_model.bin`
archives whose pickle declares tensors outside their storages, zip bombs and
lying zip headers, safetensors headers that declare more than the file
holds, configs larger than their weights, non-float and NaN weights,
truncated TF checkpoints. The fuzz tests mutate a small valid file and load
every mutant in a child process with a memory cap: each outcome must be a
successful load or a `CheckpointError`, never another exception or a crash.
"""

import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import tensorflow as tf

from bert_tf import checkpoint_sources
from bert_tf import checkpoints
from bert_tf import configs
from bert_tf import torch_pickle
from bert_tf.checkpoint_sources import CheckpointError
from bert_tf.layers import encoder as encoder_lib
from tests import testing

TINY_HF = os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining")


# ------------------------------------------------- crafting torch archives


def _op(value):
    """Pickle opcodes that push `value` (protocol 2, without PROTO/STOP)."""
    return pickle.dumps(value, 2)[2:-1]


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tensor_ops(storage, offset, size, stride):
    """Opcodes of torch's `_rebuild_tensor_v2(storage, offset, size,
    stride, requires_grad, hooks)`; storage = (type, key, numel)."""
    storage_type, key, numel = storage
    pid = (b"(" + _op("storage") + _global("torch", storage_type) + _op(key)
           + _op("cpu") + _op(numel) + b"tQ")
    return (_global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid
            + _op(offset) + _op(tuple(size)) + _op(tuple(stride))
            + _op(False) + _global("collections", "OrderedDict") + b")R"
            + b"tR")


def torch_bin(path, tensors, storages, pickle_bytes=None,
              compression=zipfile.ZIP_STORED):
    """Writes a torch-style zip: tensors {name: (storage, offset, size,
    stride)}, storages {key: bytes}."""
    if pickle_bytes is None:
        pickle_bytes = b"\x80\x02" + _global("collections", "OrderedDict") \
            + b")R("
        for name, args in tensors.items():
            pickle_bytes += _op(name) + _tensor_ops(*args)
        pickle_bytes += b"u."
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/byteorder", "little")
        for key, data in storages.items():
            archive.writestr(f"archive/data/{key}", data)
    return path


def _floats(n):
    return np.arange(n, dtype="<f4").tobytes()


class TorchPickleBoundsTest(tf.test.TestCase):

    def _load(self, tensors, storages=None, **kwargs):
        path = os.path.join(self.create_tempdir().full_path, "model.bin")
        torch_bin(path, tensors, storages or {"0": _floats(4)}, **kwargs)
        return path, lambda: torch_pickle.load_state_dict(path)

    def test_torch_pickle_crafted_archive_reads_back(self):
        _, load = self._load({"w": (("FloatStorage", "0", 4), 1, (2,), (2,))})
        self.assertAllEqual(load()["w"], [1.0, 3.0])

    def test_torch_pickle_tensor_past_its_storage_is_refused(self):
        path, load = self._load(
            {"w": (("FloatStorage", "0", 4), 0, (1 << 20,), (1,))})
        with self.assertRaisesRegex(
                CheckpointError, f"{path}: tensor 'w' reads elements "
                r"\[0, 1048576\) of a storage of 4"):
            load()

    def test_torch_pickle_offset_and_strides_past_storage_are_refused(self):
        for offset, size, stride, message in [
                (9, (1,), (1,), r"\[9, 10\) of a storage of 4"),
                (0, (2, 2), (1, 3), r"\[0, 5\) of a storage of 4"),
                (5, (0,), (1,), "starts at element 5 of a storage of 4")]:
            _, load = self._load(
                {"w": (("FloatStorage", "0", 4), offset, size, stride)})
            with self.assertRaisesRegex(CheckpointError, message):
                load()

    def test_torch_pickle_negative_stride_or_offset_is_refused(self):
        for offset, stride in [(3, (-1,)), (-1, (1,))]:
            _, load = self._load(
                {"w": (("FloatStorage", "0", 4), offset, (2,), stride)})
            with self.assertRaisesRegex(CheckpointError, "non-negative"):
                load()

    def test_torch_pickle_zero_stride_broadcast_is_refused(self):
        # One element viewed 10^12 times: a copy would take 4 TB.
        _, load = self._load({"w": (("FloatStorage", "0", 4), 0,
                                    (10**6, 10**6), (0, 0))})
        with self.assertRaisesRegex(CheckpointError, "tensor 'w' has "
                                    "1000000000000 elements, more than its "
                                    "storage of 4"):
            load()

    def test_torch_pickle_storage_size_must_match_its_numel(self):
        _, load = self._load({"w": (("FloatStorage", "0", 1000), 0, (4,),
                                    (1,))})
        with self.assertRaisesRegex(CheckpointError, "storage '0' should hold "
                                    "1000 FloatStorage elements"):
            load()

    def test_torch_pickle_zip_bomb_is_refused_before_inflating(self):
        path = os.path.join(self.create_tempdir().full_path, "bomb.bin")
        numel = 40 << 20  # 160 MiB of zeros deflate to ~160 KB
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("archive/data.pkl", b"\x80\x02}.")
            with archive.open("archive/data/0", "w") as f:
                block = bytes(1 << 20)
                for _ in range(numel * 4 >> 20):
                    f.write(block)
        self.assertLess(os.path.getsize(path), 1 << 20)
        with self.assertRaisesRegex(CheckpointError, "possible zip bomb"):
            torch_pickle.load_state_dict(path)

    def test_torch_pickle_lying_zip_header_is_refused(self):
        path, load = self._load(
            {"w": (("FloatStorage", "0", 4), 0, (4,), (1,))})
        with open(path, "rb") as f:
            data = bytearray(f.read())
        # Shrink the declared size of data/0 (16 bytes) in both headers:
        # the capped read then sees the CRC of a truncated member.
        name = b"archive/data/0"
        for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            at = data.find(signature)
            while data[at + (30 if signature == b"PK\x03\x04" else 46):]\
                    [:len(name)] != name:
                at = data.find(signature, at + 1)
            struct.pack_into("<I", data, at + size_at, 8)
        with open(path, "wb") as f:
            f.write(data)
        with self.assertRaisesRegex(CheckpointError, path):
            load()

    def test_torch_pickle_malformed_pickles_are_checkpoint_errors(self):
        good = _tensor_ops(("FloatStorage", "0", 4), 0, (4,), (1,))
        cases = {
            "truncated": b"\x80\x02}(" + _op("w") + good[:40],
            "wrong arity": b"\x80\x02}(" + _op("w") + _global(
                "torch._utils", "_rebuild_tensor_v2") + b")R" + b"u.",
            "short pid": b"\x80\x02}(" + _op("w") + b"(" + _op("storage")
            + b"tQ" + b"u.",
            "missing storage": b"\x80\x02}(" + _op("w") + _tensor_ops(
                ("FloatStorage", "9", 4), 0, (4,), (1,)) + b"u.",
            "not a tensor": b"\x80\x02}(" + _op("w") + _op(3) + b"u.",
            "nested dict": b"\x80\x02}(" + _op("w") + b"}" + b"u.",
            "not a dict": b"\x80\x02" + _op([1, 2]) + b".",
            "garbage": b"\x80\x02\xff\xfe\xfd.",
        }
        for case, data in cases.items():
            _, load = self._load({}, pickle_bytes=data)
            with self.subTest(case):
                with self.assertRaises(CheckpointError):
                    load()

    def test_torch_pickle_unsafe_pickle_is_a_checkpoint_error(self):
        data = b"\x80\x02" + _global("os", "system") + _op(("echo x",)) + \
            b"R."
        _, load = self._load({}, pickle_bytes=data)
        with self.assertRaisesRegex(CheckpointError,
                                    "refusing to unpickle 'os.system'"):
            load()


# ------------------------------------------------------- directory level


def _tiny_weights():
    encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
    return checkpoints.model_weights(encoder)


class HostileDirectoryTest(tf.test.TestCase):
    """`bert_tf.load_encoder` on hostile directories: `CheckpointError`
    before any model is built."""

    def _bert_tf_dir(self, weights):
        from safetensors.numpy import save_file

        tmp = self.create_tempdir().full_path
        save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
                  os.path.join(tmp, checkpoints.WEIGHTS_FILE))
        testing.ODD_CONFIG.to_json_file(os.path.join(tmp, "bert_config.json"))
        with open(os.path.join(tmp, checkpoints.MODEL_FILE), "w") as f:
            json.dump({"format_version": 1, "model": "BertEncoder"}, f)
        return tmp

    def _with_config(self, weights, **changes):
        tmp = self._bert_tf_dir(weights)
        path = os.path.join(tmp, "bert_config.json")
        with open(path) as f:
            values = json.load(f)
        values.update(changes)
        with open(path, "w") as f:
            json.dump(values, f)
        return tmp

    def test_hostile_bin_in_hf_directory_is_a_checkpoint_error(self):
        tmp = self.create_tempdir().full_path
        with open(os.path.join(TINY_HF, "config.json")) as f, \
                open(os.path.join(tmp, "config.json"), "w") as g:
            g.write(f.read())
        torch_bin(os.path.join(tmp, "pytorch_model.bin"), {}, {},
                  pickle_bytes=b"\x80\x02" + _global("os", "system")
                  + _op(("echo x",)) + b"R.")
        with self.assertRaisesRegex(CheckpointError, "refusing to unpickle"):
            checkpoints.load_encoder(tmp)

    def test_config_larger_than_its_weights_is_refused_before_building(self):
        weights = _tiny_weights()
        for changes, message in [
                (dict(max_position_embeddings=1000000),
                 "'bert/embeddings/position_embeddings' has shape \\(64, 32\\)"
                 " but the config says max_position_embeddings 1000000, "
                 "hidden_size 32"),
                (dict(vocab_size=2000000),
                 "'bert/embeddings/word_embeddings' has shape \\(99, 32\\) "
                 "but the config says vocab_size 2000000"),
                (dict(num_hidden_layers=1000),
                 "the config says num_hidden_layers 1000 but the checkpoint "
                 "holds 2 layer\\(s\\)"),
                (dict(intermediate_size=100000), "intermediate_size 100000")]:
            path = self._with_config(weights, **changes)
            with self.subTest(changes):
                with self.assertRaisesRegex(CheckpointError, message):
                    checkpoints.load_encoder(path)

    def test_config_beyond_limits_is_a_checkpoint_and_config_error(self):
        path = self._with_config(_tiny_weights(), vocab_size=10**12)
        with self.assertRaisesRegex(
                checkpoint_sources.CheckpointConfigError,
                "field 'vocab_size' is 1000000000000, above the limit"):
            checkpoints.load_encoder(path)
        with self.assertRaises(configs.ConfigError):
            checkpoints.load_encoder(path)

    def test_integer_and_bool_weights_are_refused(self):
        for dtype in (np.int32, np.bool_):
            weights = _tiny_weights()
            weights["bert/pooler/dense/bias"] = np.ones(32, dtype)
            with self.subTest(dtype):
                with self.assertRaisesRegex(
                        CheckpointError, "'bert/pooler/dense/bias' holds "
                        f"{np.dtype(dtype)} values; weights must be floating"):
                    checkpoints.load_encoder(self._bert_tf_dir(weights))

    def test_nan_and_inf_weights_name_the_variable(self):
        weights = _tiny_weights()
        weights["bert/encoder/layer_1/output/dense/bias"][[0, 3]] = \
            [np.nan, np.inf]
        with self.assertRaisesRegex(
                CheckpointError, "'bert/encoder/layer_1/output/dense/bias' "
                "holds 2 NaN or infinite value\\(s\\) of 32"):
            checkpoints.load_encoder(self._bert_tf_dir(weights))

    def test_binary_config_json_is_named_with_its_line(self):
        # Probed as a keras-hub preset first, then read as an HF config.
        tmp = self.create_tempdir().full_path
        with open(os.path.join(TINY_HF, "pytorch_model.bin"), "rb") as f, \
                open(os.path.join(tmp, "pytorch_model.bin"), "wb") as g:
            g.write(f.read())
        with open(os.path.join(tmp, "config.json"), "wb") as f:
            f.write(b'{"a": 1,\n"class_name": "\xff\xfe"}')
        with self.assertRaisesRegex(CheckpointError,
                                    "config.json: line 2: not UTF-8"):
            checkpoints.load_encoder(tmp)

    def test_keras_hub_config_larger_than_its_weights_file_is_refused(self):
        tmp = self.create_tempdir().full_path
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"class_name": "BertBackbone", "config": {
                "vocabulary_size": 100000, "hidden_dim": 128,
                "num_layers": 2, "num_heads": 2, "intermediate_dim": 512}}, f)
        with open(os.path.join(tmp, "model.weights.h5"), "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n" + bytes(1000))
        with self.assertRaisesRegex(CheckpointError,
                                    "describes 13.* parameters but .*"
                                    "model.weights.h5 hold\\(s\\) only 1008 "
                                    "bytes"):
            checkpoints.load_encoder(tmp)

    def test_safetensors_header_bomb_and_bad_entries_are_named(self):
        tmp = self._bert_tf_dir({"x": np.zeros(4, np.float32)})
        path = os.path.join(tmp, checkpoints.WEIGHTS_FILE)
        header = json.dumps({"x": {"dtype": "F32", "shape": [1000],
                                   "data_offsets": [0, 16]}}).encode()
        # BF16 tensors are read from these offsets by bert_tf itself.
        bf16 = json.dumps({"x": {"dtype": "BF16", "shape": [8],
                                 "data_offsets": [8, 24]}}).encode()
        cases = [
            (struct.pack("<Q", 1 << 60), "header of 1152921504606846976 "
             "bytes declared in a file of 8"),
            (struct.pack("<Q", len(header)) + header + bytes(16),
             "tensor 'x' has an invalid entry"),
            (struct.pack("<Q", len(bf16)) + bf16 + bytes(16),
             "tensor 'x' has an invalid entry .*data section: 16 bytes"),
        ]
        for data, message in cases:
            with open(path, "wb") as f:
                f.write(data)
            with self.subTest(message):
                with self.assertRaisesRegex(CheckpointError, message):
                    checkpoints.load_encoder(tmp)

    def test_truncated_google_checkpoint_is_a_checkpoint_error(self):
        tmp = self.create_tempdir().full_path
        prefix = os.path.join(tmp, "bert_model.ckpt")
        checkpoint_sources.write_google(prefix, _tiny_weights())
        testing.ODD_CONFIG.to_json_file(os.path.join(tmp, "bert_config.json"))
        data = prefix + ".data-00000-of-00001"
        with open(data, "r+b") as f:
            f.truncate(os.path.getsize(data) // 2)
        with self.assertRaisesRegex(CheckpointError,
                                    "truncated or corrupt"):
            checkpoints.load_encoder(prefix)
        with open(prefix + ".index", "wb") as f:
            f.write(b"not an index")
        with self.assertRaisesRegex(CheckpointError, "cannot read"):
            checkpoints.load_encoder(prefix)

    def test_corrupt_checkpoint_state_file_is_a_checkpoint_error(self):
        tmp = self.create_tempdir().full_path
        with open(os.path.join(tmp, "checkpoint"), "w") as f:
            f.write("model_checkpoint_path: \x00{{{")
        with self.assertRaises(CheckpointError):
            checkpoints.load_encoder(tmp)


# ------------------------------------------------------------------- fuzz

# Runs in a child process under a 2 GiB address-space cap, so a segfault or
# a runaway allocation fails the test instead of the test run. Fuzzes each
# (kind, file) given; prints one JSON line {kind: {outcome: count}}.
_FUZZ_CHILD = r"""
import collections, json, os, resource, sys, tempfile, types, zipfile
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
import hypothesis
from hypothesis import strategies as st

# Only the readers run here: skip bert_tf/__init__ (it imports TensorFlow).
package = types.ModuleType("bert_tf")
package.__path__ = [os.path.join(os.getcwd(), "bert_tf")]
sys.modules["bert_tf"] = package
from bert_tf import checkpoint_sources, torch_pickle

LOADERS = {"bin": torch_pickle.load_state_dict,
           "safetensors": checkpoint_sources.read_safetensors}
tmp = tempfile.mkdtemp()


def mutate(data, edits, cut):
    data = bytearray(data)
    for at, value in edits:
        data[at % len(data)] = value
    return bytes(data if cut is None else data[:cut % (len(data) + 1)])


def fuzz(kind, source, examples):
    outcomes = collections.Counter()
    with open(source, "rb") as f:
        original = f.read()
    members = []
    if kind == "bin":
        with zipfile.ZipFile(source) as archive:
            members = [(i.filename, archive.read(i))
                       for i in archive.infolist()]

    @hypothesis.settings(max_examples=examples, derandomize=True,
                         deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(
        edits=st.lists(st.tuples(st.integers(0, 1 << 30),
                                 st.integers(0, 255)), min_size=1, max_size=8),
        in_pickle=st.booleans(),
        cut=st.none() | st.integers(0, 1 << 30))
    def one(edits, in_pickle, cut):
        path = os.path.join(tmp, "model")
        if members and in_pickle:
            # Mutate data.pkl and rebuild the archive: the CRCs stay valid,
            # so the mutant reaches the unpickler.
            with zipfile.ZipFile(path, "w") as archive:
                for name, data in members:
                    if name.endswith("/data.pkl"):
                        data = mutate(data, edits, cut)
                    archive.writestr(name, data)
        else:
            with open(path, "wb") as f:
                f.write(mutate(original, edits, cut))
        try:
            LOADERS[kind](path)
            outcomes["loaded"] += 1
        except checkpoint_sources.CheckpointError:
            outcomes["CheckpointError"] += 1
        except Exception as e:
            outcomes[f"{type(e).__name__}: {e}"[:300]] += 1

    one()
    return outcomes


examples = int(sys.argv[1])
pairs = zip(sys.argv[2::2], sys.argv[3::2])
print(json.dumps({kind: fuzz(kind, source, examples)
                  for kind, source in pairs}))
"""


class CheckpointFuzzTest(tf.test.TestCase):

    def test_fuzzed_bin_and_safetensors_load_or_raise_checkpoint_error(self):
        from safetensors.numpy import save_file

        safetensors = os.path.join(self.create_tempdir().full_path,
                                   "w.safetensors")
        save_file({k: np.ascontiguousarray(v) for k, v in
                   list(_tiny_weights().items())[:6]}, safetensors)
        result = subprocess.run(
            [sys.executable, "-c", _FUZZ_CHILD, "300",
             "bin", os.path.join(TINY_HF, "pytorch_model.bin"),
             "safetensors", safetensors],
            capture_output=True, text=True, cwd=testing.REPO_ROOT,
            timeout=300)
        self.assertEqual(result.returncode, 0,
                         f"the reader crashed: {result.stderr[-3000:]}")
        outcomes = json.loads(result.stdout.strip().splitlines()[-1])
        for kind in ("bin", "safetensors"):
            unexpected = {k: v for k, v in outcomes[kind].items()
                          if k not in ("loaded", "CheckpointError")}
            self.assertEmpty(unexpected, kind)
            # Both outcomes occur: the mutants are neither all harmless
            # nor all rejected at the first byte.
            self.assertGreater(outcomes[kind].get("CheckpointError", 0), 20)
            self.assertGreater(outcomes[kind].get("loaded", 0), 5)


if __name__ == "__main__":
    tf.test.main()
