"""Checkpoint import against outputs of code we did not write.

Golden files (tests/golden, written by make_reference.py with HF
transformers / PyTorch):
  minilm_reference.npz   real all-MiniLM-L6-v2 outputs on padded pairs
  tiny_hf_pretraining/   odd-sized BertForPreTraining (.bin, MLM + NSP)
"""

import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import tensorflow as tf

import bert_tf
from bert_tf import checkpoint_sources
from bert_tf import checkpoints
from bert_tf import models
from bert_tf import torch_pickle
from bert_tf.checkpoint_sources import CheckpointError
from bert_tf.layers import encoder as encoder_lib
from tests import testing

TINY_HF = os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining")
INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _minilm_reference():
    return np.load(os.path.join(testing.GOLDEN_DIR, "minilm_reference.npz"))


class ParityMixin:

    def assert_matches_minilm_reference(self, encoder, atol=1e-4):
        ref = _minilm_reference()
        out = encoder({k: ref[k] for k in INPUTS})
        real = ref["input_mask"] > 0
        self.assertAllClose(out["sequence_output"].numpy()[real],
                            ref["sequence_output"][real], atol=atol, rtol=0)
        self.assertAllClose(out["pooled_output"], ref["pooled_output"],
                            atol=atol, rtol=0)
        self.assertAllClose(out["encoder_outputs"][2].numpy()[real],
                            ref["layer_2_output"][real], atol=atol, rtol=0)


@pytest.mark.large
class RealCheckpointTest(tf.test.TestCase, ParityMixin):

    def test_encoder_from_hf_directory_matches_transformers(self):
        self.assert_matches_minilm_reference(
            checkpoints.load_encoder(testing.minilm_dir()))

    def test_encoder_from_google_tf1_checkpoint_matches_transformers(self):
        # A TF1 checkpoint under google-research's variable names, written
        # from the HF weights by our exporter, read back by our importer.
        hf = checkpoints.load_encoder(testing.minilm_dir())
        out = os.path.join(self.create_tempdir().full_path, "google")
        checkpoints.save_google_checkpoint(
            out, hf, os.path.join(testing.minilm_dir(), "vocab.txt"))
        names = tf.train.load_checkpoint(
            os.path.join(out, "bert_model.ckpt")).get_variable_to_shape_map()
        self.assertEqual(names["bert/encoder/layer_5/attention/self/query/"
                               "kernel"], [384, 384])
        self.assertEqual(names["bert/embeddings/word_embeddings"],
                         [30522, 384])
        self.assert_matches_minilm_reference(checkpoints.load_encoder(out))

    def test_encoder_from_keras_hub_preset_matches_transformers(self):
        # keras-hub's own HF converter writes the preset; we read it back.
        import keras_hub

        backbone = keras_hub.models.BertBackbone.from_preset(
            testing.minilm_dir())
        preset = os.path.join(self.create_tempdir().full_path, "preset")
        backbone.save_to_preset(preset)
        self.assertEqual(checkpoints.detect_format(preset), "keras_hub")
        self.assert_matches_minilm_reference(checkpoints.load_encoder(preset))
        # With keras-hub's tanh GELU we reproduce keras-hub's outputs.
        ref = _minilm_reference()
        ours = checkpoints.load_encoder(preset, hidden_act="gelu_new")
        theirs = backbone({"token_ids": ref["input_word_ids"],
                           "padding_mask": ref["input_mask"],
                           "segment_ids": ref["input_type_ids"]})
        self.assertAllClose(ours({k: ref[k] for k in INPUTS})["pooled_output"],
                            theirs["pooled_output"], atol=1e-5)

    def test_bert_tf_directory_round_trip_is_exact(self):
        encoder = checkpoints.load_encoder(testing.minilm_dir())
        out = os.path.join(self.create_tempdir().full_path, "model")
        checkpoints.save_model(
            out, encoder, os.path.join(testing.minilm_dir(), "vocab.txt"))
        self.assertEqual(sorted(os.listdir(out)),
                         ["bert_config.json", "bert_tf_model.json",
                          "vocab.txt", "weights.safetensors"])
        reloaded = checkpoints.load_model(out)
        testing.assert_same_weights(self, encoder, reloaded)


class TinyPretrainingCheckpointTest(tf.test.TestCase):

    def _reference(self):
        return np.load(os.path.join(TINY_HF, "reference.npz"))

    def test_pytorch_bin_with_mlm_and_nsp_heads_matches_transformers(self):
        ref = self._reference()
        pretrainer = checkpoints.load_pretrainer(TINY_HF)
        self.assertEqual(pretrainer.encoder.config.hidden_act, "gelu_new")
        inputs = {k: ref[k] for k in INPUTS}
        seq = ref["input_word_ids"].shape[1]
        inputs["masked_lm_positions"] = np.tile(
            np.arange(seq, dtype=np.int32), (len(ref["input_mask"]), 1))
        out = pretrainer(inputs)
        real = ref["input_mask"] > 0
        self.assertAllClose(out["mlm_logits"].numpy()[real],
                            ref["mlm_logits"][real], atol=1e-4, rtol=0)
        self.assertAllClose(out["nsp_logits"], ref["nsp_logits"], atol=1e-4,
                            rtol=0)
        encoded = pretrainer.encoder({k: ref[k] for k in INPUTS})
        self.assertAllClose(encoded["sequence_output"].numpy()[real],
                            ref["sequence_output"][real], atol=1e-4, rtol=0)

    def test_heads_survive_google_and_bert_tf_round_trips(self):
        # google's format has no name for this model's tanh GELU (see
        # test_google_export_of_tanh_gelu_is_refused): it is written as
        # "gelu" deliberately.
        pretrainer = checkpoints.load_pretrainer(TINY_HF, hidden_act="gelu")
        tmp = self.create_tempdir().full_path
        vocab = os.path.join(tmp, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                              + [f"w{i}" for i in range(94)]) + "\n")
        checkpoints.save_google_checkpoint(f"{tmp}/google", pretrainer, vocab)
        names = tf.train.load_checkpoint(f"{tmp}/google/bert_model.ckpt") \
            .get_variable_to_shape_map()
        self.assertEqual(names["cls/seq_relationship/output_weights"], [2, 32])
        self.assertEqual(names["cls/predictions/output_bias"], [99])
        from_google = checkpoints.load_pretrainer(f"{tmp}/google")
        checkpoints.save_model(f"{tmp}/ours", from_google, vocab)
        reloaded = checkpoints.load_model(f"{tmp}/ours")
        testing.assert_same_weights(self, pretrainer, reloaded)
        self.assertIsInstance(reloaded, models.BertPretrainer)

    def test_google_export_of_tanh_gelu_is_refused(self):
        pretrainer = checkpoints.load_pretrainer(TINY_HF)
        tmp = self.create_tempdir().full_path
        vocab = self.create_tempfile(content="a\n").full_path
        with self.assertRaisesRegex(
                CheckpointError,
                f"{tmp}/google: hidden_act 'gelu_new' cannot be written to a "
                "google-research bert_config.json.*its 'gelu' is itself the "
                "tanh approximation.*--hidden_act=gelu"):
            checkpoints.save_google_checkpoint(f"{tmp}/google", pretrainer,
                                               vocab)
        self.assertEqual(os.listdir(tmp), [])

    def test_task_heads_are_saved_and_restored(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        model = models.BertClassifier(encoder, num_classes=3, dropout=0.05)
        tmp = self.create_tempdir().full_path
        vocab = os.path.join(tmp, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("\n".join(f"t{i}" for i in range(99)) + "\n")
        checkpoints.save_model(f"{tmp}/clf", model, vocab)
        reloaded = checkpoints.load_model(f"{tmp}/clf")
        self.assertIsInstance(reloaded, models.BertClassifier)
        inputs = testing.encoder_inputs()
        self.assertAllEqual(reloaded(inputs)["logits"], model(inputs)["logits"])

    def test_encoder_only_checkpoint_has_no_pretraining_heads(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        tmp = self.create_tempdir().full_path
        vocab = os.path.join(tmp, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("\n".join(f"t{i}" for i in range(99)) + "\n")
        checkpoints.save_model(f"{tmp}/enc", encoder, vocab)
        with self.assertRaisesRegex(CheckpointError, "has no MLM/NSP heads"):
            checkpoints.load_pretrainer(f"{tmp}/enc")


class SameWeightsCheckTest(tf.test.TestCase):
    """`testing.assert_same_weights`, which the round-trip tests rely on."""

    def test_a_model_missing_its_last_weights_fails(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        classifier = models.BertClassifier(encoder, num_classes=3)
        # Pairwise zip of get_weights() sees only the encoder's prefix.
        for a, b in zip(classifier.get_weights(), encoder.get_weights()):
            self.assertAllEqual(a, b)
        with self.assertRaisesRegex(AssertionError, "classifier_head/logits"):
            testing.assert_same_weights(self, classifier, encoder)

    def test_first_differing_value_is_named(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        weights = checkpoints.model_weights(encoder)
        testing.assert_same_weights(self, encoder, encoder)
        changed = dict(weights)
        name = "bert/encoder/layer_1/output/LayerNorm/beta"
        changed[name] = weights[name] + np.float32(1e-3)
        with self.assertRaisesRegex(
                AssertionError, f"{name}: values differ by up to 0.001 "
                r"\(atol 0.0\), first at index \(0,\)"):
            testing.assert_same_weights(self, weights, changed)
        testing.assert_same_weights(self, weights, changed, atol=2e-3)


def write_safetensors(path, tensors):
    """Writes {name: (dtype, shape, raw bytes)} by hand, as the format says:
    u64 header length, JSON header (padded to 8 bytes), the tensor bytes."""
    header, offset = {}, 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.write(b"".join(raw for _, _, raw in tensors.values()))


def to_half(value, dtype):
    """`value` rounded to "BF16" or "F16": (its little-endian bytes, the
    same numbers as float32)."""
    value = np.ascontiguousarray(value, np.float32)
    if dtype == "F16":
        half = value.astype("<f2")
        return half.tobytes(), half.astype(np.float32)
    # bfloat16 is the top 16 bits of a float32; round to nearest even.
    bits = value.view(np.uint32).astype(np.uint64)
    top = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    return top.tobytes(), (top.astype(np.uint32) << 16).view(np.float32)


class HalfPrecisionSafetensorsTest(tf.test.TestCase):
    """HF checkpoints saved in bf16 or fp16 load as float32 models."""

    def test_bf16_safetensors_is_widened_exactly_to_float32(self):
        # Each value has at most 8 significant bits: exact in bfloat16.
        values = np.array([[1.0, -2.5, 0.15625], [2.0**100, -(2.0**-100),
                                                   0.0]], np.float32)
        bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
        path = os.path.join(self.create_tempdir().full_path,
                            "model.safetensors")
        write_safetensors(path, {
            "a": ("BF16", values.shape, bf16),
            "b": ("F32", (2,), np.array([3, 4], "<f4").tobytes()),
            "c": ("F16", (2,), np.array([0.5, -8], "<f2").tobytes())})
        tensors = checkpoint_sources.read_safetensors(path)
        self.assertEqual(tensors["a"].dtype, np.float32)
        self.assertAllEqual(tensors["a"], values)
        self.assertAllEqual(tensors["b"], [3, 4])
        self.assertEqual(tensors["c"].dtype, np.float16)  # cast on assign
        self.assertAllEqual(tensors["c"], [0.5, -8])

    def test_bf16_and_f16_hf_directories_load_as_their_float32_values(self):
        from safetensors.numpy import save_file

        original = torch_pickle.load_state_dict(
            os.path.join(TINY_HF, "pytorch_model.bin"))
        inputs = testing.to_tensors(testing.encoder_inputs())
        # Relative rounding error; float16 also loses digits below 2**-14.
        for dtype, rtol, atol in (("BF16", 2.0**-8, 0.0),
                                  ("F16", 2.0**-11, 2.0**-24)):
            half_dir, fp32_dir = (self.create_tempdir().full_path
                                  for _ in range(2))
            for directory in (half_dir, fp32_dir):
                with open(os.path.join(TINY_HF, "config.json")) as f, \
                        open(os.path.join(directory, "config.json"), "w") as g:
                    g.write(f.read())
            half, rounded = {}, {}
            for name, value in original.items():
                raw, rounded[name] = to_half(value, dtype)
                half[name] = (dtype, value.shape, raw)
                self.assertAllClose(rounded[name], value, rtol=rtol,
                                    atol=atol)
            write_safetensors(os.path.join(half_dir, "model.safetensors"),
                              half)
            save_file(rounded, os.path.join(fp32_dir, "model.safetensors"))

            with self.subTest(dtype):
                from_half = bert_tf.load_encoder(half_dir)
                from_fp32 = bert_tf.load_encoder(fp32_dir)
                expected = checkpoints.model_weights(from_fp32)
                self.assertEqual({v.dtype for v in expected.values()},
                                 {np.dtype(np.float32)})
                testing.assert_same_weights(
                    self, expected, checkpoints.model_weights(from_half))
                for a, b in zip(testing.flatten(from_half(inputs)),
                                testing.flatten(from_fp32(inputs)),
                                strict=True):
                    self.assertAllClose(a, b, atol=1e-6, rtol=0)


class CheckpointErrorsTest(tf.test.TestCase):

    def _hf_dir_with(self, tensors, config_dir=TINY_HF):
        from safetensors.numpy import save_file

        tmp = self.create_tempdir().full_path
        with open(os.path.join(config_dir, "config.json")) as f:
            config = f.read()
        with open(os.path.join(tmp, "config.json"), "w") as f:
            f.write(config)
        save_file(tensors, os.path.join(tmp, "model.safetensors"))
        return tmp

    def _tiny_tensors(self):
        return torch_pickle.load_state_dict(
            os.path.join(TINY_HF, "pytorch_model.bin"))

    def test_unknown_format_lists_what_is_expected(self):
        tmp = self.create_tempdir().full_path
        with self.assertRaisesRegex(CheckpointError,
                                    f"{tmp}: not a recognised checkpoint"):
            checkpoints.load_encoder(tmp)

    def test_missing_weight_files_are_named(self):
        tmp = self.create_tempdir().full_path
        with open(os.path.join(TINY_HF, "config.json")) as f, \
                open(os.path.join(tmp, "config.json"), "w") as g:
            g.write(f.read())
        with self.assertRaisesRegex(
                CheckpointError,
                f"{tmp}: no model.safetensors or pytorch_model.bin found"):
            checkpoints.load_encoder(tmp)

    def test_shape_mismatch_names_variable_and_both_shapes(self):
        tensors = self._tiny_tensors()
        tensors["bert.encoder.layer.1.intermediate.dense.weight"] = \
            np.zeros((36, 32), np.float32)
        tensors["bert.encoder.layer.1.intermediate.dense.bias"] = \
            np.zeros((36,), np.float32)
        path = self._hf_dir_with(tensors)
        with self.assertRaisesRegex(
                CheckpointError,
                "'bert/encoder/layer_1/intermediate/dense/kernel' has shape "
                r"\(32, 36\) in the checkpoint but \(32, 37\) in the model"):
            checkpoints.load_encoder(path)

    def test_missing_weights_are_listed_and_nothing_is_assigned(self):
        tensors = self._tiny_tensors()
        del tensors["bert.pooler.dense.weight"]
        path = self._hf_dir_with(tensors)
        with self.assertRaisesRegex(
                CheckpointError,
                "1 weight\\(s\\) of bert_encoder not in the checkpoint: "
                "bert/pooler/dense/kernel"):
            checkpoints.load_encoder(path)

    def test_unknown_weights_fail_unless_skipped(self):
        tensors = self._tiny_tensors()
        tensors["classifier.weight"] = np.zeros((3, 32), np.float32)
        path = self._hf_dir_with(tensors)
        with self.assertRaisesRegex(CheckpointError,
                                    "1 weight\\(s\\) that are not part of a "
                                    "BERT encoder.*classifier.weight"):
            checkpoints.load_encoder(path)
        # Skipped: a warning names it, it is not among the weights read, and
        # the encoder gets the same weights as from the file without it.
        with self.assertLogs(level="WARNING") as logs:
            _, weights, _, _ = checkpoints.read_checkpoint(
                path, skip_unknown=True)
            encoder = checkpoints.load_encoder(path, skip_unknown=True)
        warning = (f"{path}/model.safetensors: leaving out 1 weight(s) that "
                   "are not part of a BERT encoder or its pre-training "
                   "heads: classifier.weight")
        self.assertLen([line for line in logs.output if warning in line], 2,
                       logs.output)
        _, reference, _, _ = checkpoints.read_checkpoint(TINY_HF)
        testing.assert_same_weights(self, dict(sorted(reference.items())),
                                    dict(sorted(weights.items())))
        testing.assert_same_weights(self, checkpoints.load_encoder(TINY_HF),
                                    encoder)

    def test_untied_decoder_is_refused(self):
        tensors = self._tiny_tensors()
        tensors["cls.predictions.decoder.weight"] = \
            tensors["cls.predictions.decoder.weight"] + 1.0
        path = self._hf_dir_with(tensors)
        with self.assertRaisesRegex(CheckpointError, "untied MLM decoders"):
            checkpoints.load_pretrainer(path)

    def test_pickle_naming_other_callables_is_refused(self):
        class Exploit:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps(Exploit(), 2))
        path = self.create_tempfile(file_path="evil.bin").full_path
        with open(path, "wb") as f:
            f.write(buffer.getvalue())
        with self.assertRaisesRegex(torch_pickle.UnsafePickleError,
                                    "refusing to unpickle 'posix.system'"):
            torch_pickle.load_state_dict(path)

    def test_legacy_torch_format_is_refused_with_the_fix(self):
        path = self.create_tempfile(content="not a zip").full_path
        with self.assertRaisesRegex(ValueError, "re-save it as "
                                    "model.safetensors"):
            torch_pickle.load_state_dict(path)

    def test_corrupt_safetensors_is_named(self):
        tmp = self._hf_dir_with({"x": np.zeros(1, np.float32)})
        with open(os.path.join(tmp, "model.safetensors"), "wb") as f:
            f.write(b"\x00garbage")
        with self.assertRaisesRegex(CheckpointError,
                                    "model.safetensors: cannot read"):
            checkpoints.load_encoder(tmp)

    def test_writing_into_non_empty_output_writes_nothing(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        tmp = self.create_tempdir().full_path
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        with open(os.path.join(out, "keep.txt"), "w") as f:
            f.write("x")
        vocab = self.create_tempfile(content="a\n").full_path
        with self.assertRaisesRegex(CheckpointError,
                                    f"{out}: output exists and is not empty"):
            checkpoints.save_model(out, encoder, vocab)
        self.assertEqual(os.listdir(out), ["keep.txt"])
        self.assertEqual(sorted(os.listdir(tmp)), ["out"])

    def test_failure_mid_write_leaves_no_output(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        tmp = self.create_tempdir().full_path
        out = os.path.join(tmp, "out")
        with self.assertRaises(RuntimeError):
            with checkpoints.atomic_output_dir(out) as staging:
                with open(os.path.join(staging, "half"), "w") as f:
                    f.write("x")
                raise RuntimeError("disk full")
        self.assertEqual(os.listdir(tmp), [])
        del encoder

    def test_google_checkpoint_without_config_asks_for_it(self):
        tmp = self.create_tempdir().full_path
        checkpoint_sources.write_google(
            os.path.join(tmp, "bert_model.ckpt"),
            {"bert/pooler/dense/bias": np.zeros(4, np.float32)})
        with self.assertRaisesRegex(CheckpointError,
                                    "no bert_config.json beside the "
                                    "checkpoint; pass --bert_config_file"):
            checkpoints.load_encoder(os.path.join(tmp, "bert_model.ckpt"))

    def test_google_checkpoint_optimizer_slots_are_ignored(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        weights = checkpoints.model_weights(encoder)
        weights["global_step"] = np.array(10, np.int64)
        weights["bert/pooler/dense/kernel/adam_m"] = np.zeros((32, 32),
                                                              np.float32)
        tmp = self.create_tempdir().full_path
        checkpoint_sources.write_google(os.path.join(tmp, "model.ckpt"),
                                        weights)
        testing.ODD_CONFIG.to_json_file(os.path.join(tmp, "bert_config.json"))
        loaded = checkpoints.load_encoder(tmp)
        inputs = testing.encoder_inputs()
        self.assertAllEqual(loaded(inputs)["pooled_output"],
                            encoder(inputs)["pooled_output"])


if __name__ == "__main__":
    tf.test.main()
