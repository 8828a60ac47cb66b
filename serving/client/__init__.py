r"""Client for TF Serving (and serving.dev_server): gRPC or REST.

    python -m serving.client --server=localhost:8500 --model=sst2 \
        --input=text_a="a gripping, funny film"
    python -m serving.client --server=localhost:8501 --rest --model=mrpc \
        --input_file=pairs.tsv --batch_size=32 --output_format=json
    python -m serving.client --server=localhost:8500 --model=sst2 \
        --method=metadata

--input KEY=VALUE (repeatable; repeating a key adds examples) gives a
string; KEY:=JSON gives a typed value (a number, a list). --input_file is
a TSV file whose header row names the inputs, or a JSONL file of objects
{input: value}. Requests go in batches of --batch_size examples; the output
is one line per example (--output_format=json: one JSON object per line).
--method: predict (default), classify and regress (the examples become
tf.Examples, features named by the inputs), metadata, status.

Library (uses only the public TF Serving APIs, so it works against the
real tensorflow_model_server too):

    outputs = client.predict("localhost:8500", "sst2", {"text_a": ["..."]})
    with client.Client("localhost:8501", rest=True) as c:
        c.classify("sst2", [{"text_a": "..."}], signature_name="classification")

Here: `lib` (the library), `inputs` (--input / --input_file parsing), `cli`
(the flags).
"""
