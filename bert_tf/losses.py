"""Losses and streaming metrics of the training tasks.

Each function takes the batch's features and the model's (float32) outputs
and returns `(loss, metrics)`: the loss averaged over the replica's
examples, and metrics as `{name: (sum, count)}` pairs that the training loop
sums across replicas and steps before dividing.
"""

import tensorflow as tf


def _xent(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(logits, tf.float32))


def _accuracy_sum(labels, logits, weights=None):
    labels = tf.cast(labels, tf.int32)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                               labels), tf.float32)
    return tf.reduce_sum(correct if weights is None else correct * weights)


def pretraining_loss(features, outputs):
    """Masked LM + next sentence prediction, as google-research/bert.

    MLM: cross-entropy averaged over the real masked positions
    (`masked_lm_weights` > 0); NSP: cross-entropy averaged over the batch;
    the loss is their sum.
    """
    weights = tf.cast(features["masked_lm_weights"], tf.float32)  # [B, P]
    labels = features["masked_lm_ids"]
    mlm_logits = outputs["mlm_logits"]  # [B, P, V]
    num_masked = tf.reduce_sum(weights)
    mlm_sum = tf.reduce_sum(_xent(labels, mlm_logits) * weights)
    mlm_loss = mlm_sum / tf.maximum(num_masked, 1.0)
    nsp_labels = features["next_sentence_labels"]
    nsp_xent = _xent(nsp_labels, outputs["nsp_logits"])  # [B]
    batch = tf.cast(tf.size(nsp_labels), tf.float32)
    nsp_loss = tf.reduce_mean(nsp_xent)
    metrics = {
        "mlm_loss": (mlm_sum, num_masked),
        "mlm_accuracy": (_accuracy_sum(labels, mlm_logits, weights),
                         num_masked),
        "nsp_loss": (tf.reduce_sum(nsp_xent), batch),
        "nsp_accuracy": (_accuracy_sum(nsp_labels, outputs["nsp_logits"]),
                         batch),
    }
    return mlm_loss + nsp_loss, metrics


def classification_loss(features, outputs):
    """Cross-entropy over classes (or choices); metric: accuracy."""
    labels = tf.cast(features["label"], tf.int32)
    logits = outputs["logits"]  # [B, C]
    xent = _xent(labels, logits)
    count = tf.cast(tf.size(labels), tf.float32)
    metrics = {"loss": (tf.reduce_sum(xent), count),
               "accuracy": (_accuracy_sum(labels, logits), count)}
    return tf.reduce_mean(xent), metrics


def regression_loss(features, outputs):
    """Mean squared error of the single output (STS-B scores)."""
    labels = tf.cast(features["label"], tf.float32)
    predictions = tf.cast(outputs["logits"][:, 0], tf.float32)  # [B]
    squared = tf.math.squared_difference(predictions, labels)
    count = tf.cast(tf.size(labels), tf.float32)
    return tf.reduce_mean(squared), {"loss": (tf.reduce_sum(squared), count)}


def span_loss(features, outputs):
    """SQuAD: mean of the start and end cross-entropies over [B, L] logits,
    as the original; metrics: loss, start_accuracy, end_accuracy."""
    start_labels = features["start_positions"]  # [B]
    end_labels = features["end_positions"]  # [B]
    per_example = 0.5 * (_xent(start_labels, outputs["start_logits"])
                         + _xent(end_labels, outputs["end_logits"]))  # [B]
    count = tf.cast(tf.size(start_labels), tf.float32)
    metrics = {
        "loss": (tf.reduce_sum(per_example), count),
        "start_accuracy": (_accuracy_sum(start_labels,
                                         outputs["start_logits"]), count),
        "end_accuracy": (_accuracy_sum(end_labels, outputs["end_logits"]),
                         count),
    }
    return tf.reduce_mean(per_example), metrics


def token_classification_loss(features, outputs):
    """NER: cross-entropy at the weighted positions (first piece of each
    word), averaged over them; metrics: loss and tag accuracy there."""
    weights = tf.cast(features["label_weights"], tf.float32)  # [B, L]
    labels = features["label_ids"]  # [B, L]
    logits = outputs["logits"]  # [B, L, T]
    count = tf.reduce_sum(weights)
    total = tf.reduce_sum(_xent(labels, logits) * weights)
    metrics = {"loss": (total, count),
               "accuracy": (_accuracy_sum(labels, logits, weights), count)}
    # A batch of padding only (never in practice) must not divide by 0.
    return total / tf.maximum(count, 1.0), metrics
