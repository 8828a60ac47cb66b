"""The dev server's models: config, version polling, loading, status.

Like `tensorflow_model_server`, `ModelRegistry` reads a ModelServerConfig
(`model_config_list` of name + base_path, optional model_version_policy
and version_labels), polls each base path for version directories (names
that are numbers; anything else, e.g. a hidden staging directory, is
ignored), loads the versions its policy wants (default: the latest one),
runs the warmup records, and only then serves a new version. Older versions
are unloaded after a wanted one is available, so a version swap never
leaves a model without a version (TF Serving's availability-preserving
policy); requests already running on an old version finish on it.

A version that fails to load (or to warm up) is END with the error in its
status, and the previous version keeps serving; the load is retried
`max_num_load_retries` times, `load_retry_interval_seconds` apart.
"""

import dataclasses
import os
import threading
import time

import grpc
import tensorflow as tf
from absl import logging
from google.protobuf import text_format
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

from bert_tf.export import saved_model
from serving.dev_server import errors
from serving.dev_server import limits
from serving.dev_server import servable as servable_lib

State = get_model_status_pb2.ModelVersionStatus.State


def read_config_file(path: str) -> model_server_config_pb2.ModelServerConfig:
    """Parses a ModelServerConfig text proto (a models.config file)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ValueError(f"{path}: cannot read the model config file: "
                         f"{e.strerror}") from None
    try:
        return text_format.Parse(
            text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as e:
        raise ValueError(f"{path}:{e}") from None


def single_model_config(name: str, base_path: str
                        ) -> model_server_config_pb2.ModelServerConfig:
    """The config of --model_name/--model_base_path."""
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(
        name=name, base_path=base_path, model_platform="tensorflow")
    return config


def check_config(config: model_server_config_pb2.ModelServerConfig) -> None:
    """Raises ValueError for a config TF Serving (or the dev server) rejects."""
    if config.WhichOneof("config") != "model_config_list":
        raise ValueError("ServerConfig is not of type ModelConfigList "
                         "(custom_model_config is not supported)")
    seen = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise ValueError(f"a model config has no name: {model}")
        if model.name in seen:
            raise ValueError(f"Illegal to list model {model.name} multiple "
                             f"times in config list")
        seen.add(model.name)
        if not model.base_path:
            raise ValueError(f"model {model.name} has no base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"model {model.name}: model_platform "
                f"{model.model_platform!r} is not supported (only "
                f"'tensorflow')")
        policy = model.model_version_policy
        if (policy.WhichOneof("policy_choice") == "specific"
                and not policy.specific.versions):
            raise ValueError(f"model {model.name}: model_version_policy "
                             f"specific lists no versions")


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    """How versions are loaded (tensorflow_model_server's flags).

    Args:
        tags: tuple of str. --saved_model_tags.
        enable_model_warmup: bool. --enable_model_warmup.
        method_check: bool. --enable_signature_method_name_check.
        max_num_load_retries: int. --max_num_load_retries.
        load_retry_interval_seconds: float. --load_retry_interval_micros/1e6.
    """

    tags: tuple[str, ...] = saved_model.SERVE_TAGS
    enable_model_warmup: bool = True
    method_check: bool = False
    max_num_load_retries: int = 5
    load_retry_interval_seconds: float = 60.0


@dataclasses.dataclass
class _Version:
    state: int = State.START
    error: errors.ServingError | None = None
    servable: servable_lib.Servable | None = None
    failures: int = 0
    retry_at: float = 0.0


class ModelRegistry:
    """The models of one ModelServerConfig and their loaded versions.

    Args:
        config: ModelServerConfig.
        options: LoadOptions.
        request_limits: limits.RequestLimits. Checked before a request is
            parsed or run.
    """

    def __init__(self, config, options=LoadOptions(),
                 request_limits=limits.RequestLimits()):
        check_config(config)
        self.options = options
        self.limits = request_limits
        self._run_slots = limits.RunSlots(request_limits.max_concurrent_runs)
        self._lock = threading.Lock()  # Guards _configs and _versions.
        self._poll_lock = threading.Lock()  # One poll at a time.
        self._configs = {m.name: m for m in config.model_config_list.config}
        self._versions = {name: {} for name in self._configs}
        self._stop = threading.Event()
        self._thread = None

    # ------------------------------------------------------------ serving

    def predict(self, request):
        """PredictRequest -> PredictResponse on the version it asks for."""
        limits.check_batch_size(request.inputs, self.limits.max_batch_size)
        return self._servable_for(request).predict(request)

    def classify(self, request):
        self._check_examples(request)
        return self._servable_for(request).classify(request)

    def regress(self, request):
        self._check_examples(request)
        return self._servable_for(request).regress(request)

    def run_slot(self, timeout=None, is_active=None):
        """A context holding one of the model run slots (see
        limits.RunSlots.hold)."""
        return self._run_slots.hold(timeout, is_active)

    def _check_examples(self, request):
        kind = request.input.WhichOneof("kind")
        if kind is not None:
            count = len(getattr(request.input, kind).examples)
            limits.check_example_count(count, self.limits.max_batch_size)

    def metadata(self, request
                 ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """GetModelMetadata: the signature_def metadata field only."""
        if not request.HasField("model_spec"):
            raise errors.invalid_argument("Missing ModelSpec")
        if not request.metadata_field:
            raise errors.invalid_argument("GetModelMetadataRequest must "
                                          "specify at least one metadata_field")
        for field in request.metadata_field:
            if field != "signature_def":
                raise errors.invalid_argument(
                    f"Metadata field {field} is not supported")
        servable = self._servable_for(request)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(servable.metadata())
        return response

    def model_status(self, request
                     ) -> get_model_status_pb2.GetModelStatusResponse:
        if not request.HasField("model_spec"):
            raise errors.invalid_argument("Missing ModelSpec")
        return self.status(request.model_spec)

    def _servable_for(self, request):
        if not request.HasField("model_spec"):
            raise errors.invalid_argument("Missing ModelSpec")
        return self.servable(request.model_spec)

    def servable(self, model_spec) -> servable_lib.Servable:
        """The AVAILABLE version a ModelSpec asks for (latest by default)."""
        name = model_spec.name
        with self._lock:
            versions = self._versions.get(name, {})
            choice = model_spec.WhichOneof("version_choice")
            if choice == "version_label":
                labels = self._configs[name].version_labels if (
                    name in self._configs) else {}
                if model_spec.version_label not in labels:
                    raise errors.invalid_argument(
                        f"Unrecognized servable version label: "
                        f"{model_spec.version_label}")
                choice, wanted = "version", labels[model_spec.version_label]
            else:
                wanted = model_spec.version.value
            if choice == "version":
                record = versions.get(wanted)
                if record is not None and record.state == State.AVAILABLE:
                    return record.servable
                raise errors.not_found(f"Servable not found for request: "
                                       f"Specific({name}, {wanted})")
            available = [v for v, r in versions.items()
                         if r.state == State.AVAILABLE]
            if not available:
                raise errors.not_found(
                    f"Servable not found for request: Latest({name})")
            return versions[max(available)].servable

    def status(self, model_spec) -> get_model_status_pb2.GetModelStatusResponse:
        """GetModelStatus: every version TF Serving would report."""
        name = model_spec.name
        response = get_model_status_pb2.GetModelStatusResponse()
        with self._lock:
            versions = dict(self._versions.get(name, {}))
        if model_spec.HasField("version"):
            wanted = model_spec.version.value
            if wanted not in versions:
                raise errors.not_found(
                    f"Could not find version {wanted} of model {name}")
            versions = {wanted: versions[wanted]}
        if not versions:
            raise errors.not_found(
                f"Could not find any versions of model {name}")
        for version in sorted(versions, reverse=True):
            record = versions[version]
            status = response.model_version_status.add(
                version=version, state=record.state)
            status.status.SetInParent()  # OK is spelled out, as in TF.
            if record.error is not None:
                status.status.error_code = record.error.code.value[0]
                status.status.error_message = record.error.message
        return response

    # ------------------------------------------------------------ polling

    def poll(self) -> None:
        """Scans every base path once; loads and unloads to match."""
        with self._poll_lock:
            with self._lock:
                configs = dict(self._configs)
                gone = [n for n in self._versions if n not in configs]
            for name in gone:
                self._unload_model(name)
            for config in configs.values():
                wanted = self._wanted_versions(config)
                if wanted is not None:
                    self._reconcile(config, wanted)

    def reload_config(self, config) -> None:
        """Serves a new ModelServerConfig's models (HandleReloadConfigRequest).

        New models are loaded before this returns; models no longer listed
        are unloaded.
        """
        check_config(config)
        with self._lock:
            self._configs = {m.name: m for m in config.model_config_list.config}
            for name in self._configs:
                self._versions.setdefault(name, {})
        self.poll()

    def start_polling(self, interval_seconds: float) -> None:
        """Polls every `interval_seconds` in a daemon thread until `stop`."""
        if interval_seconds <= 0 or self._thread is not None:
            return

        def loop():
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll()
                except Exception:  # noqa: BLE001 - keep polling.
                    logging.exception("polling the model base paths failed")

        self._thread = threading.Thread(target=loop, name="version-poller",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops polling and unloads every version."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._poll_lock:
            for name in list(self._versions):
                self._unload_model(name)

    def load_errors(self) -> dict[str, str]:
        """'NAME version N' -> error message, for versions that failed."""
        with self._lock:
            return {f"{name} version {v}": r.error.message
                    for name, versions in self._versions.items()
                    for v, r in versions.items() if r.error is not None}

    def _wanted_versions(self, config):
        """The versions the model's policy wants, or None (no base path)."""
        try:
            names = os.listdir(config.base_path)
        except OSError as e:
            logging.log_every_n_seconds(
                logging.WARNING, "model %s: cannot read base path %s: %s",
                60, config.name, config.base_path, e.strerror)
            return None
        present = sorted(int(n) for n in names if n.isdigit() and
                         os.path.isdir(os.path.join(config.base_path, n)))
        if not present:
            logging.log_every_n_seconds(
                logging.WARNING, "No versions of servable %s found under "
                "base path %s", 60, config.name, config.base_path)
        policy = config.model_version_policy
        choice = policy.WhichOneof("policy_choice")
        if choice == "all":
            return set(present)
        if choice == "specific":
            return set(present) & set(policy.specific.versions)
        latest = policy.latest.num_versions if choice == "latest" else 1
        return set(present[-max(latest, 1):]) if present else set()

    def _reconcile(self, config, wanted):
        name = config.name
        for version in sorted(wanted, reverse=True):
            with self._lock:
                record = self._versions[name].setdefault(version, _Version())
                due = self._load_due(record)
                if due:
                    record.state = State.LOADING
            if due:
                self._load(config, version, record)
        with self._lock:
            versions = self._versions[name]
            serving = any(versions[v].state == State.AVAILABLE
                          for v in wanted if v in versions)
            # Unload what the policy no longer wants only once a wanted
            # version serves (or nothing is wanted at all).
            unload = [v for v, r in versions.items()
                      if v not in wanted and r.state == State.AVAILABLE
                      and (serving or not wanted)]
        for version in unload:
            self._unload(name, version)

    def _load_due(self, record):
        if record.state == State.START:
            return True
        if record.state != State.END:
            return False  # Loading, available or unloading.
        if record.error is None:
            return True  # Unloaded earlier, wanted again.
        return (record.failures <= self.options.max_num_load_retries
                and time.monotonic() >= record.retry_at)

    def _load(self, config, version, record):
        path = os.path.join(config.base_path, str(version))
        started = time.monotonic()
        try:
            loaded = servable_lib.Servable(
                config.name, version, path, tags=self.options.tags,
                method_check=self.options.method_check)
            records = loaded.warmup() if self.options.enable_model_warmup else 0
        except errors.ServingError as e:
            error = e
        except Exception as e:  # noqa: BLE001 - any load failure.
            error = errors.ServingError(_load_error_code(e), str(e))
        else:
            with self._lock:
                record.servable, record.error = loaded, None
                record.state, record.failures = State.AVAILABLE, 0
            logging.info("Successfully loaded servable version {name: %s "
                         "version: %d} in %.1f s (%d warmup records)",
                         config.name, version, time.monotonic() - started,
                         records)
            return
        with self._lock:
            record.state, record.error = State.END, error
            record.failures += 1
            record.retry_at = (time.monotonic()
                               + self.options.load_retry_interval_seconds)
        logging.error("Loading servable version {name: %s version: %d} "
                      "failed (attempt %d): %s", config.name, version,
                      record.failures, error.message)

    def _unload(self, name, version):
        with self._lock:
            record = self._versions[name][version]
            record.state = State.UNLOADING
            # Requests holding this servable finish on it; it is freed when
            # the last one lets go.
            record.servable = None
            record.state = State.END
        logging.info("Unloaded servable version {name: %s version: %d}",
                     name, version)

    def _unload_model(self, name):
        with self._lock:
            available = [v for v, r in self._versions.get(name, {}).items()
                         if r.state == State.AVAILABLE]
        for version in available:
            self._unload(name, version)
        with self._lock:
            if name not in self._configs:
                self._versions.pop(name, None)


def _load_error_code(error):
    if isinstance(error, tf.errors.OpError):
        return errors.code_from_number(error.error_code)
    if isinstance(error, FileNotFoundError):
        return grpc.StatusCode.NOT_FOUND
    return grpc.StatusCode.INVALID_ARGUMENT
