"""The published BERT checkpoints bert_tf knows by name (catalog.json).

The catalog is data: one entry per google-research/bert release archive,
with its download URL, case, languages, architecture (a BERT config) and,
where the release publishes them, its scores. `get(name)` gives one entry;
`entries()` all of them, in catalog order. $BERT_TF_CATALOG replaces the
shipped catalog with one of your own (same format).

An entry's `sha256` is the archive's when recorded, and then authoritative;
when not (null), the first verified download records it in the cache (see
bert_tf/zoo/cache.py). `size_bytes` is informational (shown by `list`;
for some entries reported by third parties): the server's length and the
SHA-256 decide whether a download is whole.
"""

import dataclasses
import difflib
import functools
import json
import os
import re
from typing import Optional

from bert_tf import configs
from bert_tf import errors

CATALOG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "catalog.json")
# Bytes per parameter in a released checkpoint (float32 weights, no
# optimizer slots), before the zip's (small) compression.
_BYTES_PER_PARAMETER = 4
_NAME = re.compile(r"^[a-z][A-Za-z0-9_]*$")

UnknownCheckpointError = errors.ZooError


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One published checkpoint archive.

    Attributes:
        name: str. What users type: `bert_base_uncased`.
        title: str. The release's own name: "BERT-Base, Uncased".
        url: str. Where google-research/bert publishes the archive.
        lower_case: bool. Whether its vocabulary expects lower-cased text.
        languages: str. "English", "104 languages", "Chinese", ...
        config: configs.BertConfig. Its architecture.
        released: str. The release date (YYYY-MM-DD).
        sha256: str or None. The archive's SHA-256, when recorded.
        size_bytes: int or None. The archive's size, when recorded.
        scores: {benchmark: {metric: value}}, as published (maybe empty).
        source: str. Where the facts above come from.
        notes: str. Anything a user should know before choosing it.
    """

    name: str
    title: str
    url: str
    lower_case: bool
    languages: str
    config: configs.BertConfig
    released: str
    sha256: Optional[str] = None
    size_bytes: Optional[int] = None
    scores: dict = dataclasses.field(default_factory=dict)
    source: str = ""
    notes: str = ""

    @property
    def archive_name(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def parameters(self) -> int:
        """The encoder's parameter count (embeddings, layers, pooler)."""
        return self.config.parameter_count()

    @property
    def estimated_size_bytes(self) -> int:
        """`size_bytes`, or 4 bytes per parameter when not recorded."""
        return self.size_bytes or _BYTES_PER_PARAMETER * self.parameters

    @property
    def shape(self) -> str:
        c = self.config
        return (f"L{c.num_hidden_layers}/H{c.hidden_size}/"
                f"A{c.num_attention_heads}")


def _entry(values, where):
    values = dict(values)
    try:
        config = configs.BertConfig.from_dict(values.pop("config"),
                                              source=f"{where}: config")
        entry = Checkpoint(config=config, **values)
    except (KeyError, TypeError) as e:
        raise errors.ZooError(f"{where}: {e}") from None
    if not _NAME.match(entry.name):
        raise errors.ZooError(f"{where}: name {entry.name!r} is not a "
                              "lower-case letter then letters, digits and "
                              "_")
    return entry


@functools.lru_cache(maxsize=None)
def _load(path):
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        raise errors.ZooError(f"{path}: cannot read the catalog: {e}") \
            from None
    loaded = {}
    for index, values in enumerate(document["checkpoints"]):
        entry = _entry(values, f"{path}: checkpoints[{index}]")
        if entry.name in loaded:
            raise errors.ZooError(f"{path}: checkpoints[{index}]: name "
                                  f"{entry.name!r} appears twice")
        loaded[entry.name] = entry
    return loaded


def catalog_file():
    """$BERT_TF_CATALOG (a catalog of your own, e.g. entries pointing at a
    mirror inside your network), else the one shipped with bert_tf."""
    return os.environ.get("BERT_TF_CATALOG") or CATALOG_FILE


def entries(path=None):
    """Every catalog entry, {name: Checkpoint}, in catalog order."""
    return dict(_load(path or catalog_file()))


def get(name, path=None) -> Checkpoint:
    """The entry called `name`.

    Raises:
        ZooError: no such name (the message suggests close ones).
    """
    known = _load(path or catalog_file())
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else (
        "; `python -m bert_tf.zoo list` shows them all")
    raise errors.ZooError(f"{name!r} is not a checkpoint in the bert_tf "
                          f"catalog{hint}")


def is_name(text) -> bool:
    """Whether `text` could be a catalog name (rather than a path)."""
    return bool(_NAME.match(text or "")) and os.sep not in text
