"""Reads PyTorch `pytorch_model.bin` state dicts without running pickled code.

`torch.save` writes a zip archive: `<root>/data.pkl` (a pickle of the state
dict whose tensors point at storages by key) and `<root>/data/<key>` (the raw
bytes). A pickle may name any importable callable, so unpickling an untrusted
file can execute code. This reader resolves only the handful of names a
state dict needs (OrderedDict, tensor rebuilders, typed storages) to plain
numpy functions and refuses every other name; it needs no torch install.

Nothing in the file is trusted: every size the archive or the pickle declares
is checked before memory is allocated for it (see `MAX_INFLATION`), and every
tensor's (offset, size, stride) must stay inside its storage before a view of
it is taken. Every failure is a `CheckpointError` naming the file.
"""

import collections
import math
import os
import pickle
import zipfile

import numpy as np

from bert_tf.checkpoint_sources import CheckpointError

# data.pkl of a state dict holds names and tensor headers (~40 KB for
# BERT-Large); 16 MiB leaves room for 100k tensors and bounds what the
# unpickler can build from it.
MAX_PICKLE_BYTES = 16 << 20
# torch stores storages uncompressed (ratio 1; float weights would deflate
# by ~1.1 at most). The storages the archive declares plus the tensors
# materialised from them (a copy each; bfloat16 widened to float32; tied
# weights twice) take about 2-4x the file's size. Everything must fit in
# MAX_INFLATION x the file's size on disk (at least MIN_BUDGET_BYTES): a zip
# bomb, or a pickle that views one storage many times, is refused before the
# memory is taken.
MAX_INFLATION = 8
MIN_BUDGET_BYTES = 64 << 20

# torch's legacy typed-storage class names -> numpy dtype. BFloat16 has no
# numpy type: it is read as uint16 and widened to float32 below.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(CheckpointError, pickle.UnpicklingError):
    """The pickle names something other than tensors of a state dict."""


class _StorageType:

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]
        # Bytes per element in the file (bfloat16: 2, widened on reading).
        self.file_itemsize = 2 if self.dtype == "bfloat16" else \
            np.dtype(self.dtype).itemsize


class _Storage:
    """A storage's elements, as a 1-D little-endian numpy array."""

    def __init__(self, key, array):
        self.key = key
        self.array = array


class _TensorRef:
    """A tensor as the pickle declares it; checked, then materialised."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    def extent(self):
        """[first, end) element indices the tensor reads; None if empty."""
        if 0 in self.size:
            return None
        last = self.offset + sum((n - 1) * s
                                 for n, s in zip(self.size, self.stride))
        return self.offset, last + 1


def _int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in value):
        raise ValueError(f"tensor {what} must be non-negative integers, got "
                         f"{value!r}")
    return tuple(value)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    if not isinstance(storage, _Storage):
        raise ValueError(f"tensor storage is a {type(storage).__name__}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"tensor offset must be a non-negative integer, got "
                         f"{offset!r}")
    size = _int_tuple(size, "sizes")
    stride = _int_tuple(stride, "strides")
    if len(size) != len(stride) or len(size) > 32:
        raise ValueError(f"tensor sizes {size} and strides {stride} do not "
                         "match")
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Budget:
    """Bytes that reading the file may still allocate."""

    def __init__(self, path):
        self.path = path
        self.total = max(MIN_BUDGET_BYTES,
                         MAX_INFLATION * os.path.getsize(path))
        self.left = self.total

    def take(self, nbytes, what):
        if nbytes > self.left:
            raise CheckpointError(
                f"{self.path}: {what} needs {nbytes} bytes, more than a file "
                f"of {os.path.getsize(self.path)} bytes can hold (at most "
                f"{self.total} in all); the archive is corrupt or a zip bomb")
        self.left -= nbytes


class _StateDictUnpickler(pickle.Unpickler):

    def __init__(self, file, archive, root, path, budget):
        super().__init__(file)
        self._archive = archive
        self._root = root
        self._path = path
        self._budget = budget
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(
            f"{self._path}: refusing to unpickle '{module}.{name}'; only "
            "tensor state dicts are read (convert the file to safetensors if "
            "it holds more)")

    def persistent_load(self, pid):
        # torch writes ("storage", storage type, key, device, numel).
        if not (isinstance(pid, tuple) and len(pid) == 5
                and pid[0] == "storage"):
            raise UnsafePickleError(
                f"{self._path}: unexpected persistent id {pid!r}")
        _, storage_type, key, _, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(
                f"{self._path}: unsupported storage type {storage_type!r}")
        if not isinstance(key, str) or isinstance(numel, bool) \
                or not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"{self._path}: malformed storage "
                                  f"reference {pid!r}")
        if key in self._storages:
            storage, known = self._storages[key]
            if known != (storage_type.name, numel):
                raise CheckpointError(
                    f"{self._path}: storage '{key}' is declared twice with "
                    f"different types or sizes")
            return storage
        storage = _Storage(key, self._read_storage(key, storage_type, numel))
        self._storages[key] = storage, (storage_type.name, numel)
        return storage

    def _read_storage(self, key, storage_type, numel):
        member = f"{self._root}/data/{key}"
        try:
            info = self._archive.getinfo(member)
        except KeyError:
            raise CheckpointError(
                f"{self._path}: storage '{key}' is missing from the archive "
                f"({member})") from None
        nbytes = numel * storage_type.file_itemsize
        if info.file_size != nbytes:
            raise CheckpointError(
                f"{self._path}: storage '{key}' should hold {numel} "
                f"{storage_type.name} elements ({nbytes} bytes) but "
                f"{member} has {info.file_size} bytes")
        self._budget.take(nbytes, f"storage '{key}'")
        raw = _read_member(self._archive, info, self._path)
        if storage_type.dtype == "bfloat16":
            halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
            return (halves << 16).view(np.float32)
        return np.frombuffer(raw, dtype=np.dtype(storage_type.dtype)
                             .newbyteorder("<"))


def _read_member(archive, info, path):
    """The member's bytes, never more than its (checked) declared size."""
    with archive.open(info) as f:
        raw = f.read(info.file_size + 1)
    if len(raw) != info.file_size:
        raise CheckpointError(f"{path}: {info.filename} holds {len(raw)} "
                              f"bytes, not the {info.file_size} declared")
    return raw


def _materialise(path, name, value, budget):
    """A contiguous array of the tensor `value` after bounds checks."""
    if not isinstance(name, str):
        raise CheckpointError(f"{path}: state dict key {name!r} is not a "
                              "string")
    if not isinstance(value, _TensorRef):
        raise CheckpointError(f"{path}: '{name}' is a {type(value).__name__}"
                              ", not a tensor; only flat state dicts of "
                              "tensors are read")
    array = value.storage.array
    n = len(array)
    numel = math.prod(value.size)
    extent = value.extent()
    if extent is None:
        if value.offset > n:
            raise CheckpointError(f"{path}: tensor '{name}' starts at element "
                                  f"{value.offset} of a storage of {n}")
        return np.zeros(value.size, array.dtype)
    if extent[1] > n:
        raise CheckpointError(
            f"{path}: tensor '{name}' reads elements [{extent[0]}, "
            f"{extent[1]}) of a storage of {n}")
    if numel > n:  # only zero strides can do this: a broadcast, not weights
        raise CheckpointError(
            f"{path}: tensor '{name}' has {numel} elements, more than its "
            f"storage of {n}")
    budget.take(numel * array.itemsize, f"tensor '{name}'")
    view = np.lib.stride_tricks.as_strided(
        array[value.offset:], shape=value.size,
        strides=tuple(s * array.itemsize for s in value.stride),
        writeable=False)
    return np.array(view)  # contiguous and writable, detached from storage


def load_state_dict(path):
    """Returns {name: np.ndarray} from a zip-format `torch.save` file.

    Raises:
        CheckpointError: the file is not a zip-format torch checkpoint (e.g.
            the legacy format of torch < 1.6), is corrupt, declares sizes it
            cannot hold, or (`UnsafePickleError`) its pickle names anything
            but tensors. Nothing in the pickle is executed.
    """
    try:
        return _load_state_dict(path)
    except CheckpointError:
        raise
    except Exception as e:  # malformed input surfaces as many types
        raise CheckpointError(f"{path}: not a readable PyTorch state dict "
                              f"({type(e).__name__}: {e})") from e


def _load_state_dict(path):
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path}: not a zip-format PyTorch checkpoint (torch >= 1.6); "
            "legacy .bin files cannot be read without executing pickle code: "
            "re-save it as model.safetensors")
    budget = _Budget(path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        declared = sum(info.file_size for info in infos)
        if declared > budget.total:
            raise CheckpointError(
                f"{path}: its members declare {declared} bytes uncompressed, "
                f"more than {MAX_INFLATION}x the file's size; refusing a "
                "possible zip bomb")
        pickles = [i for i in infos if i.filename.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: expected one data.pkl in the "
                                  f"archive, found {len(pickles)}")
        root = pickles[0].filename[: -len("/data.pkl")]
        if pickles[0].file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(
                f"{path}: data.pkl declares {pickles[0].file_size} bytes; a "
                f"state dict's pickle is far below {MAX_PICKLE_BYTES}")
        byteorder = f"{root}/byteorder"
        if byteorder in archive.namelist():
            info = archive.getinfo(byteorder)
            if info.file_size > 16 or _read_member(
                    archive, info, path).strip() != b"little":
                raise CheckpointError(f"{path}: big-endian checkpoints are "
                                      "not supported")
        with archive.open(pickles[0]) as f:
            state = _StateDictUnpickler(f, archive, root, path, budget).load()
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: expected a state dict, got "
                                  f"{type(state).__name__}")
        return {name: _materialise(path, name, value, budget)
                for name, value in state.items()}
