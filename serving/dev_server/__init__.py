r"""Development stand-in for tensorflow_model_server (TF Serving).

    python -m serving.dev_server --model_config_file=exports/models.config \
        --port=8500 --rest_api_port=8501

NOT TF Serving: a Python server for development and tests, for machines
where the real binary (docker image tensorflow/serving) cannot run. It
serves the same model directories and models.config with the same APIs,
built on the tensorflow-serving-api protos:
- gRPC (--port): PredictionService Predict, Classify, Regress,
  GetModelMetadata; ModelService GetModelStatus, HandleReloadConfigRequest.
- REST (--rest_api_port; 0 = off, as in TF Serving): GET
  /v1/models/NAME[/versions/N], .../metadata; POST ...:predict (row
  "instances" or columnar "inputs"), :classify, :regress.
Each model's latest version directory (BASE/NAME/<number>) is loaded and
its assets.extra/tf_serving_warmup_requests replayed before it serves; the
base paths are polled every --file_system_poll_wait_seconds, a new version
takes over once loaded and warmed up and the old one is unloaded, without
failing requests in flight. Unlike TF Serving it binds 127.0.0.1 unless
--host says otherwise, and it refuses costly requests up front
(--max_request_bytes, --max_batch_size, --max_concurrent_runs, REST
timeouts and a bounded worker pool; see docs/serving.md "Dev server
limits"). Its flags are in serving/dev_server/cli.py. SIGTERM or SIGINT
stops it cleanly.

Here: `server` (DevServer), `cli` (the flags), `model_registry` (loading,
polling and unloading versions), `servable` (one loaded version),
`grpc_services` and `rest` (the two APIs over it), `json_api` and
`tensors` (REST's JSON <-> tensors), `limits` (request limits), `errors`
(the status codes, as TF Serving's).
"""
