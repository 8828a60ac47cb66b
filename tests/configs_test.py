"""BertConfig: presets, google / HF files, validation errors."""

import json
import os

import tensorflow as tf

from bert_tf import configs
from tests import testing


class ConfigsTest(tf.test.TestCase):

    def test_presets_cover_the_24_compact_berts_of_turc_et_al(self):
        compact = [n for n in configs.PRESETS if n.startswith("bert_L")]
        self.assertLen(compact, 24)
        for layers in (2, 4, 6, 8, 10, 12):
            for hidden in (128, 256, 512, 768):
                c = configs.BertConfig.preset(f"bert_L{layers}_H{hidden}")
                self.assertEqual(c.num_hidden_layers, layers)
                self.assertEqual(c.num_attention_heads, hidden // 64)
                self.assertEqual(c.intermediate_size, 4 * hidden)

    def test_presets_name_base_large_and_the_aliases(self):
        base = configs.BertConfig.preset("base")
        self.assertEqual((base.num_hidden_layers, base.hidden_size,
                          base.num_attention_heads, base.intermediate_size),
                         (12, 768, 12, 3072))
        large = configs.BertConfig.preset("large")
        self.assertEqual((large.num_hidden_layers, large.hidden_size,
                          large.num_attention_heads), (24, 1024, 16))
        self.assertEqual(configs.BertConfig.preset("tiny").hidden_size, 128)
        self.assertEqual(configs.BertConfig.preset("mini").num_hidden_layers, 4)
        with self.assertRaisesRegex(configs.ConfigError, "unknown preset"):
            configs.BertConfig.preset("huge")

    def test_reads_the_real_hf_config(self):
        c = configs.BertConfig.from_json_file(
            os.path.join(testing.minilm_dir(), "config.json"))
        self.assertEqual((c.vocab_size, c.hidden_size, c.num_hidden_layers,
                          c.num_attention_heads, c.intermediate_size),
                         (30522, 384, 6, 12, 1536))
        self.assertEqual(c.hidden_act, "gelu")

    def test_google_and_hf_files_round_trip(self):
        c = testing.ODD_CONFIG.replace(hidden_act="gelu_new")
        tmp = self.create_tempdir().full_path
        for flavor in ("google", "hf"):
            path = os.path.join(tmp, f"{flavor}.json")
            c.to_json_file(path, flavor=flavor)
            self.assertEqual(configs.BertConfig.from_json_file(path), c)
        with open(os.path.join(tmp, "hf.json")) as f:
            self.assertEqual(json.load(f)["model_type"], "bert")

    def test_google_config_without_layer_norm_eps_uses_1e_12(self):
        path = self.create_tempfile(content=json.dumps(dict(
            vocab_size=10, hidden_size=8, num_hidden_layers=1,
            num_attention_heads=2, intermediate_size=16))).full_path
        self.assertEqual(configs.BertConfig.from_json_file(path)
                         .layer_norm_eps, 1e-12)

    def test_missing_field_names_file_and_field(self):
        path = self.create_tempfile(content=json.dumps(
            dict(vocab_size=10, hidden_size=8))).full_path
        with self.assertRaisesRegex(
                configs.ConfigError,
                f"{path}: missing required field\\(s\\) num_hidden_layers, "
                "num_attention_heads, intermediate_size"):
            configs.BertConfig.from_json_file(path)

    def test_hidden_not_divisible_by_heads_names_both_numbers(self):
        values = dict(vocab_size=10, hidden_size=770, num_hidden_layers=1,
                      num_attention_heads=12, intermediate_size=16)
        path = self.create_tempfile(content=json.dumps(values)).full_path
        with self.assertRaisesRegex(
                configs.ConfigError,
                f"{path}: hidden_size \\(770\\) is not a multiple of "
                "num_attention_heads \\(12\\)"):
            configs.BertConfig.from_json_file(path)
        with self.assertRaisesRegex(configs.ConfigError, "^BertConfig: "):
            configs.BertConfig(**values)

    def test_wrong_types_and_values_name_the_field(self):
        base = dict(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=16)
        for change, field in [({"hidden_size": "8"}, "hidden_size"),
                              ({"num_hidden_layers": 0}, "num_hidden_layers"),
                              ({"hidden_dropout_prob": 1.5},
                               "hidden_dropout_prob"),
                              ({"hidden_act": "mish"}, "hidden_act"),
                              ({"layer_norm_eps": -1}, "layer_norm_eps")]:
            with self.assertRaisesRegex(configs.ConfigError,
                                        f"cfg.json: field '{field}'"):
                configs.BertConfig.from_dict({**base, **change},
                                             source="cfg.json")

    def test_sizes_above_the_limits_are_refused_before_building(self):
        base = dict(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=16)
        for field, value in [("vocab_size", 10**12),
                             ("num_hidden_layers", 10**6),
                             ("max_position_embeddings", 10**9),
                             ("hidden_size", 1 << 20),
                             ("intermediate_size", 10**7),
                             ("type_vocab_size", 10**5)]:
            with self.assertRaisesRegex(
                    configs.ConfigError,
                    f"cfg.json: field '{field}' is {value}, above the limit "
                    f"of {configs.LIMITS[field]}"):
                configs.BertConfig.from_dict({**base, field: value},
                                             source="cfg.json")
        at_limits = {**base, "vocab_size": configs.LIMITS["vocab_size"],
                     "max_position_embeddings":
                         configs.LIMITS["max_position_embeddings"]}
        configs.BertConfig.from_dict(at_limits)  # a config, nothing built

    def test_non_finite_and_bool_numbers_are_refused(self):
        base = dict(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=16)
        for change, field in [({"layer_norm_eps": float("inf")},
                               "layer_norm_eps"),
                              ({"initializer_range": float("nan")},
                               "initializer_range"),
                              ({"hidden_dropout_prob": False},
                               "hidden_dropout_prob")]:
            with self.assertRaisesRegex(configs.ConfigError,
                                        f"cfg.json: field '{field}'"):
                configs.BertConfig.from_dict({**base, **change},
                                             source="cfg.json")

    def test_parameter_count_matches_the_built_encoder(self):
        from bert_tf.layers import encoder as encoder_lib

        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        self.assertEqual(testing.ODD_CONFIG.parameter_count(),
                         encoder.count_params())

    def test_binary_huge_and_deeply_nested_files_name_the_file(self):
        binary = self.create_tempfile(content=b"{\n\xff\xfe}").full_path
        with self.assertRaisesRegex(configs.ConfigError,
                                    f"{binary}: line 2: not UTF-8"):
            configs.BertConfig.from_json_file(binary)
        nested = self.create_tempfile(content="[" * 100000).full_path
        with self.assertRaisesRegex(configs.ConfigError,
                                    f"{nested}: .*not valid JSON"):
            configs.BertConfig.from_json_file(nested)
        huge = self.create_tempfile().full_path
        with open(huge, "wb") as f:
            f.truncate(configs.MAX_CONFIG_BYTES + 1)  # sparse, no disk used
        with self.assertRaisesRegex(configs.ConfigError,
                                    f"{huge}: 16777217 bytes"):
            configs.BertConfig.from_json_file(huge)

    def test_max_seq_length_over_positions_is_an_error(self):
        with self.assertRaisesRegex(
                configs.ConfigError,
                "max_seq_length 600 exceeds max_position_embeddings 512"):
            configs.BertConfig.preset("tiny").check_max_seq_length(600)
        configs.BertConfig.preset("tiny").check_max_seq_length(512)

    def test_invalid_json_names_the_line(self):
        path = self.create_tempfile(content='{\n"vocab_size": 10,\n}').full_path
        with self.assertRaisesRegex(configs.ConfigError,
                                    f"{path}: line 3: not valid JSON"):
            configs.BertConfig.from_json_file(path)

    def test_non_bert_and_relative_position_models_are_refused(self):
        base = dict(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=16)
        with self.assertRaisesRegex(configs.ConfigError, "model_type is "
                                    "'roberta'"):
            configs.BertConfig.from_dict({**base, "model_type": "roberta"})
        with self.assertRaisesRegex(configs.ConfigError,
                                    "position_embedding_type 'relative_key'"):
            configs.BertConfig.from_dict(
                {**base, "position_embedding_type": "relative_key"})

    def test_missing_file_is_named(self):
        with self.assertRaisesRegex(configs.ConfigError,
                                    "/nope/bert_config.json: config file not"):
            configs.BertConfig.from_json_file("/nope/bert_config.json")


if __name__ == "__main__":
    tf.test.main()
