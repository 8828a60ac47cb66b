"""The model zoo: published BERT checkpoints by name.

    encoder = bert_tf.load_encoder("bert_L4_H256_uncased")

downloads the release archive once into the cache (bert_tf/zoo/cache.py),
verifies it, converts it into a bert_tf model directory and loads that;
later calls, online or not, load the converted directory. Every place that
takes a checkpoint path takes a catalog name (a path that exists wins).
`python -m bert_tf.zoo list|info|download|remove` manages the cache; the
catalog itself is bert_tf/zoo/catalog.json (docs/checkpoints.md).
"""

import os

from bert_tf.zoo import catalog


def is_catalog_name(path):
    """Whether `path` names a catalog checkpoint and no existing file."""
    if not path or os.path.exists(path) or os.path.exists(path + ".index"):
        return False
    return catalog.is_name(path) and path in catalog.entries()


def resolve_path(path, progress=True):
    """`path` unchanged, unless it is a catalog name and no existing path:
    then the converted model directory, fetched on first use."""
    if not is_catalog_name(path):
        return path
    from bert_tf.zoo import cache

    return cache.resolve(path, progress=progress)
