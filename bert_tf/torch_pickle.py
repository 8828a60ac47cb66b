"""Reads PyTorch `pytorch_model.bin` state dicts without running pickled code.

`torch.save` writes a zip archive: `<root>/data.pkl` (a pickle of the state
dict whose tensors point at storages by key) and `<root>/data/<key>` (the raw
bytes). A pickle may name any importable callable, so unpickling an untrusted
file can execute code. This reader resolves only the handful of names a
state dict needs (OrderedDict, tensor rebuilders, typed storages) to plain
numpy functions and refuses every other name; it needs no torch install.
"""

import collections
import pickle
import zipfile

import numpy as np

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


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names something other than tensors of a state dict."""


class _StorageType:
    def __init__(self, name):
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor(storage, offset, size, stride, *unused):
    itemsize = storage.itemsize
    array = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size),
        strides=tuple(s * itemsize for s in stride))
    return np.array(array)  # a contiguous copy, detached from the file buffer


def _rebuild_parameter(data, *unused):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _StateDictUnpickler(pickle.Unpickler):

    def __init__(self, file, archive, root, path):
        super().__init__(file)
        self._archive = archive
        self._root = root
        self._path = path

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
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UnsafePickleError(
                f"{self._path}: unexpected persistent id {pid!r}")
        storage_type, key = pid[1], pid[2]
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(
                f"{self._path}: unsupported storage type {storage_type!r}")
        raw = self._archive.read(f"{self._root}/data/{key}")
        if storage_type.dtype == "bfloat16":
            halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
            return (halves << 16).view(np.float32)
        return np.frombuffer(raw, dtype=np.dtype(storage_type.dtype)
                             .newbyteorder("<"))


def load_state_dict(path):
    """Returns {name: np.ndarray} from a zip-format `torch.save` file.

    Raises:
        ValueError: the file is not a zip-format torch checkpoint (e.g. the
            legacy format of torch < 1.6).
        UnsafePickleError: the pickle names anything but tensors.
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a zip-format PyTorch checkpoint (torch >= 1.6); "
            "legacy .bin files cannot be read without executing pickle code: "
            "re-save it as model.safetensors")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: expected one data.pkl in the archive, "
                             f"found {len(pickles)}")
        root = pickles[0][: -len("/data.pkl")]
        byteorder = f"{root}/byteorder"
        if (byteorder in archive.namelist()
                and archive.read(byteorder).strip() != b"little"):
            raise ValueError(f"{path}: big-endian checkpoints are not "
                             "supported")
        with archive.open(pickles[0]) as f:
            state = _StateDictUnpickler(f, archive, root, path).load()
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got "
                         f"{type(state).__name__}")
    return dict(state)
