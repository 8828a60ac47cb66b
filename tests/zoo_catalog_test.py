"""The model-zoo catalog (bert_tf/zoo/catalog.json) against what
google-research/bert published (README.md and multilingual.md at commit
eedf571): names, URLs, architectures, archive sizes and scores, and the
table of docs/checkpoints.md, which is generated from the catalog.

The expected values are written out here, not read from the catalog, so a
typo in the JSON fails a test instead of being copied into the check.
"""

import itertools
import json
import os
import re

import tensorflow as tf

from bert_tf.zoo import catalog
from tests import testing

DOC = os.path.join(testing.REPO_ROOT, "docs", "checkpoints.md")
DOC_SECTION = "## The catalog"

# .../bert_models/DATE/[wwm_|multi_]KIND_L-{L}_H-{H}_A-{A}.zip
URL = re.compile(
    r"^https://storage\.googleapis\.com/bert_models/"
    r"(?P<date>\d{4}_\d\d_\d\d)/"
    r"(?P<prefix>wwm_|multi_)?(?P<kind>uncased|cased|multilingual|chinese)"
    r"_L-(?P<L>\d+)_H-(?P<H>\d+)_A-(?P<A>\d+)\.zip$")
# Whether each kind of archive expects lower-cased text. The multilingual_
# archive is the old uncased multilingual model; Google's Chinese example
# runs use the scripts' default lower-casing.
KIND_LOWER_CASE = {"uncased": True, "cased": False, "multilingual": True,
                   "chinese": True}
# Rows of each vocabulary (its vocab.txt's lines, bert_config's vocab_size).
VOCAB_SIZES = {"English uncased": 30522, "English cased": 28996,
               "multilingual cased": 119547,
               "multilingual uncased": 105879, "Chinese": 21128}
SHARED_VOCABS = {"English uncased": "bert-base-uncased",
                 "English cased": "bert-base-cased"}
# google-research's bert_config.json keys, all of them.
CONFIG_KEYS = {"attention_probs_dropout_prob", "hidden_act",
               "hidden_dropout_prob", "hidden_size", "initializer_range",
               "intermediate_size", "max_position_embeddings",
               "num_attention_heads", "num_hidden_layers", "type_vocab_size",
               "vocab_size"}
# The README's parameter counts (millions) per (layers, hidden). It gives
# 110M for the multilingual and Chinese models too: that counts the
# architecture with the English vocabulary, not theirs.
PUBLISHED_MILLIONS = {(12, 768): 110, (24, 1024): 340}
ENGLISH_VOCAB = 30522
SMALL_LAYERS = (2, 4, 6, 8, 10, 12)
SMALL_HIDDEN = (128, 256, 512, 768)
# Float32 weights, zipped: the archive is about 4 bytes per parameter
# (encoder plus the MLM and NSP heads), a little less once compressed.
SIZE_RATIO = (0.85, 1.1)

# The README's GLUE test-set table for the four named compact models
# (MRPC, QQP: F1/accuracy; STS-B: Pearson/Spearman).
GLUE_TEST = {
    "bert_L2_H128_uncased": dict(
        score=64.2, cola=0.0, sst2=83.2, mrpc_f1=81.1, mrpc_accuracy=71.1,
        stsb_pearson=74.3, stsb_spearman=73.6, qqp_f1=62.2,
        qqp_accuracy=83.4, mnli_m=70.2, mnli_mm=70.3, qnli=81.5, rte=57.2,
        wnli=62.3, ax=21.0),
    "bert_L4_H256_uncased": dict(
        score=65.8, cola=0.0, sst2=85.9, mrpc_f1=81.1, mrpc_accuracy=71.8,
        stsb_pearson=75.4, stsb_spearman=73.3, qqp_f1=66.4,
        qqp_accuracy=86.2, mnli_m=74.8, mnli_mm=74.3, qnli=84.1, rte=57.9,
        wnli=62.3, ax=26.1),
    "bert_L4_H512_uncased": dict(
        score=71.2, cola=27.8, sst2=89.7, mrpc_f1=83.4, mrpc_accuracy=76.2,
        stsb_pearson=78.8, stsb_spearman=77.0, qqp_f1=68.1,
        qqp_accuracy=87.0, mnli_m=77.6, mnli_mm=77.0, qnli=86.4, rte=61.8,
        wnli=62.3, ax=28.6),
    "bert_L8_H512_uncased": dict(
        score=73.5, cola=38.0, sst2=89.6, mrpc_f1=86.6, mrpc_accuracy=81.6,
        stsb_pearson=80.4, stsb_spearman=78.4, qqp_f1=69.6,
        qqp_accuracy=87.9, mnli_m=80.0, mnli_mm=79.1, qnli=87.7, rte=62.2,
        wnli=62.3, ax=30.5),
}
# The README's whole-word-masking table: SQuAD 1.1 F1/EM, MultiNLI accuracy.
LARGE_SCORES = {
    "bert_large_uncased": (91.0, 84.3, 86.05),
    "bert_large_uncased_wwm": (92.8, 86.7, 87.07),
    "bert_large_cased": (91.5, 84.8, 86.09),
    "bert_large_cased_wwm": (92.9, 86.7, 86.46),
}
ORIGINAL_NAMES = [
    "bert_base_uncased", "bert_base_cased", "bert_large_uncased",
    "bert_large_cased", "bert_large_uncased_wwm", "bert_large_cased_wwm",
    "bert_base_multilingual_cased", "bert_base_multilingual_uncased",
    "bert_base_chinese"]


def _raw():
    with open(catalog.CATALOG_FILE, encoding="utf-8") as f:
        return json.load(f)


def _entries():
    return catalog.entries(catalog.CATALOG_FILE)


def _archive(entry):
    match = URL.match(entry.url)
    assert match, f"{entry.name}: URL {entry.url} is not a release archive"
    return match


def _vocabulary(entry):
    """The VOCAB_SIZES key of the vocabulary the entry's archive holds."""
    kind = _archive(entry)["kind"]
    if kind == "chinese":
        return "Chinese"
    if "multilingual" in entry.name:
        return f"multilingual {'uncased' if entry.lower_case else 'cased'}"
    return f"English {'uncased' if entry.lower_case else 'cased'}"


def checkpoint_shapes(config):
    """{variable: shape} of a google-research pre-training checkpoint."""
    h, i, v = config.hidden_size, config.intermediate_size, config.vocab_size
    shapes = {
        "bert/embeddings/word_embeddings": (v, h),
        "bert/embeddings/position_embeddings":
            (config.max_position_embeddings, h),
        "bert/embeddings/token_type_embeddings": (config.type_vocab_size, h),
        "bert/embeddings/LayerNorm/gamma": (h,),
        "bert/embeddings/LayerNorm/beta": (h,),
        "bert/pooler/dense/kernel": (h, h),
        "bert/pooler/dense/bias": (h,),
        "cls/predictions/transform/dense/kernel": (h, h),
        "cls/predictions/transform/dense/bias": (h,),
        "cls/predictions/transform/LayerNorm/gamma": (h,),
        "cls/predictions/transform/LayerNorm/beta": (h,),
        "cls/predictions/output_bias": (v,),
        "cls/seq_relationship/output_weights": (2, h),
        "cls/seq_relationship/output_bias": (2,),
    }
    for n in range(config.num_hidden_layers):
        layer = f"bert/encoder/layer_{n}/"
        for part in ("query", "key", "value"):
            shapes[f"{layer}attention/self/{part}/kernel"] = (h, h)
            shapes[f"{layer}attention/self/{part}/bias"] = (h,)
        shapes.update({
            f"{layer}attention/output/dense/kernel": (h, h),
            f"{layer}attention/output/dense/bias": (h,),
            f"{layer}attention/output/LayerNorm/gamma": (h,),
            f"{layer}attention/output/LayerNorm/beta": (h,),
            f"{layer}intermediate/dense/kernel": (h, i),
            f"{layer}intermediate/dense/bias": (i,),
            f"{layer}output/dense/kernel": (i, h),
            f"{layer}output/dense/bias": (h,),
            f"{layer}output/LayerNorm/gamma": (h,),
            f"{layer}output/LayerNorm/beta": (h,),
        })
    return shapes


def _count(shapes, prefix):
    total = 0
    for name, shape in shapes.items():
        if name.startswith(prefix):
            size = 1
            for dim in shape:
                size *= dim
            total += size
    return total


def doc_table(entries):
    """The rows of the table in docs/checkpoints.md ("## The catalog")."""
    rows = ["| name | L/H/A | parameters | case | languages | released |",
            "| --- | --- | ---: | --- | --- | --- |"]
    for entry in entries.values():
        rows.append(
            f"| `{entry.name}` | {entry.shape} | "
            f"{entry.parameters / 1e6:.1f}M | "
            f"{'uncased' if entry.lower_case else 'cased'} | "
            f"{entry.languages} | {entry.released} |")
    return rows


class ZooCatalogTest(tf.test.TestCase):

    def test_names_are_unique_and_follow_the_name_rule(self):
        names = [values["name"] for values in _raw()["checkpoints"]]
        repeated = sorted({n for n in names if names.count(n) > 1})
        self.assertEqual(repeated, [], "names listed more than once")
        for name in names:
            self.assertTrue(catalog.is_name(name), name)
        self.assertEqual(list(_entries()), names)

    def test_entries_have_every_field_and_a_source(self):
        fields = {"name", "title", "url", "lower_case", "languages",
                  "config", "released", "sha256", "size_bytes", "scores",
                  "source", "notes"}
        for values in _raw()["checkpoints"]:
            name = values["name"]
            self.assertEqual(set(values), fields, name)
            self.assertEqual(set(values["config"]), CONFIG_KEYS, name)
            self.assertIn("google-research/bert README.md",
                          values["source"], name)
            self.assertIn("eedf571", values["source"], name)
            self.assertTrue(values["title"] and values["notes"], name)
            self.assertRegex(values["released"], r"^\d{4}-\d\d-\d\d$")
            if values["sha256"] is not None:
                self.assertRegex(values["sha256"], r"^[0-9a-f]{64}$", name)
            if values["size_bytes"] is not None:
                self.assertIsInstance(values["size_bytes"], int, name)

    def test_urls_name_the_release_the_entry_describes(self):
        for entry in _entries().values():
            archive = _archive(entry)
            c = entry.config
            with self.subTest(entry.name):
                self.assertEqual(archive["date"],
                                 entry.released.replace("-", "_"))
                self.assertEqual(
                    (int(archive["L"]), int(archive["H"]), int(archive["A"])),
                    (c.num_hidden_layers, c.hidden_size,
                     c.num_attention_heads))
                self.assertEqual(KIND_LOWER_CASE[archive["kind"]],
                                 entry.lower_case, "case vs archive name")
                self.assertEqual(archive["prefix"] == "wwm_",
                                 entry.name.endswith("_wwm"))
                multilingual = "multilingual" in entry.name
                self.assertEqual(archive["prefix"] == "multi_" or
                                 archive["kind"] == "multilingual",
                                 multilingual)
                self.assertEqual(archive["kind"] == "chinese",
                                 "chinese" in entry.name)
                if "chinese" not in entry.name:
                    self.assertEqual(entry.name.endswith(
                        ("_uncased", "_uncased_wwm")), entry.lower_case,
                        "case vs entry name")
                if archive["kind"] == "chinese":
                    self.assertTrue(entry.languages.startswith("Chinese"))
                elif multilingual:
                    self.assertRegex(entry.languages, r"^\d+ languages$")
                else:
                    self.assertEqual(entry.languages, "English")

    def test_configs_are_google_bert_configs(self):
        for entry in _entries().values():
            c = entry.config
            with self.subTest(entry.name):
                self.assertEqual(c.hidden_size % c.num_attention_heads, 0)
                self.assertEqual(c.head_size, 64)
                self.assertEqual(c.intermediate_size, 4 * c.hidden_size)
                self.assertEqual(
                    (c.hidden_act, c.hidden_dropout_prob,
                     c.attention_probs_dropout_prob,
                     c.max_position_embeddings, c.type_vocab_size,
                     c.initializer_range),
                    ("gelu", 0.1, 0.1, 512, 2, 0.02))
                self.assertEqual(c.vocab_size,
                                 VOCAB_SIZES[_vocabulary(entry)])

    def test_english_vocab_sizes_match_the_released_vocabularies(self):
        # Copies of the releases' vocab.txt, when this checkout has them.
        folder = os.path.join(testing.SHARED_DATA, "vocab")
        if not os.path.isdir(folder):
            self.skipTest(f"{folder} is absent")
        for vocabulary, directory in SHARED_VOCABS.items():
            with open(os.path.join(folder, directory, "vocab.txt"),
                      encoding="utf-8") as f:
                self.assertEqual(sum(1 for _ in f), VOCAB_SIZES[vocabulary])

    def test_parameter_counts_match_the_checkpoint_shapes(self):
        entries = _entries()
        for entry in entries.values():
            shapes = checkpoint_shapes(entry.config)
            self.assertEqual(entry.parameters, _count(shapes, "bert/"),
                             entry.name)
        # The compact release's 12/768 model is BERT-Base re-trained.
        self.assertEqual(entries["bert_L12_H768_uncased"].config,
                         entries["bert_base_uncased"].config)

    def test_parameter_counts_match_the_readme(self):
        checked = 0
        for entry in _entries().values():
            c = entry.config
            if entry.name.startswith("bert_L"):
                continue  # the README gives no counts for the compact ones
            published = PUBLISHED_MILLIONS[(c.num_hidden_layers,
                                            c.hidden_size)] * 1e6
            english = c.replace(vocab_size=ENGLISH_VOCAB).parameter_count()
            self.assertAllClose(english, published, rtol=0.03,
                                msg=entry.name)
            if entry.languages == "English":
                self.assertAllClose(entry.parameters, published, rtol=0.03,
                                    msg=entry.name)
            checked += 1
        self.assertEqual(checked, len(ORIGINAL_NAMES))

    def test_recorded_archive_sizes_fit_the_architecture(self):
        recorded = 0
        for entry in _entries().values():
            if entry.size_bytes is None:
                continue
            shapes = checkpoint_shapes(entry.config)
            weights = _count(shapes, "bert/") + _count(shapes, "cls/")
            ratio = entry.size_bytes / (4 * weights)
            self.assertBetween(ratio, *SIZE_RATIO, msg=entry.name)
            recorded += 1
        self.assertGreater(recorded, 0)

    def test_the_original_releases_are_all_present(self):
        names = list(_entries())
        self.assertEqual(names[:len(ORIGINAL_NAMES)], ORIGINAL_NAMES)

    def test_all_24_compact_models_are_present(self):
        entries = _entries()
        compact = {name: entry for name, entry in entries.items()
                   if name.startswith("bert_L")}
        expected = [f"bert_L{layers}_H{hidden}_uncased" for layers, hidden
                    in itertools.product(SMALL_LAYERS, SMALL_HIDDEN)]
        self.assertEqual(list(compact), expected)
        for (layers, hidden), name in zip(
                itertools.product(SMALL_LAYERS, SMALL_HIDDEN), expected):
            entry = compact[name]
            self.assertEqual(
                (entry.config.num_hidden_layers, entry.config.hidden_size,
                 entry.config.num_attention_heads, entry.config.vocab_size,
                 entry.lower_case, entry.languages, entry.released),
                (layers, hidden, hidden // 64, ENGLISH_VOCAB, True,
                 "English", "2020-02-20"), name)

    def test_scores_are_the_published_ones(self):
        for name, entry in _entries().items():
            expected = {}
            if name in GLUE_TEST:
                expected = {"glue_test": GLUE_TEST[name]}
            elif name in LARGE_SCORES:
                f1, em, mnli = LARGE_SCORES[name]
                expected = {"squad_v1_1": {"f1": f1, "exact_match": em},
                            "multi_nli": {"accuracy": mnli}}
            self.assertEqual(entry.scores, expected, name)

    def test_the_docs_table_is_the_catalog(self):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(DOC_SECTION + "\n", text)
        section = text.split(DOC_SECTION + "\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in section.splitlines()
                if line.startswith("|")]
        self.assertEqual(rows, doc_table(_entries()),
                         "regenerate the table with tests.zoo_catalog_test."
                         "doc_table(catalog.entries())")


if __name__ == "__main__":
    tf.test.main()
