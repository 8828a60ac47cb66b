r"""Exports a fine-tuned model as a SavedModel for TF Serving.

    python -m serving.export --task=mrpc --model_dir=runs/mrpc/model \
        --export_dir=exports/mrpc

(or `--task=encoder --model_dir=ANY_CHECKPOINT --export_dir=exports/bert`
for a TF Hub-style pair: exports/bert/<N> and exports/bert_preprocess/<N>)
writes the next numbered version, exports/mrpc/<N>/, atomically: it is
built in a hidden staging directory beside the versions (TF Serving ignores
names that are not numbers), audited, then renamed into place, so a server
polling exports/mrpc never sees a half-written version. Inside: the graph
with the tokenizer (assets/vocab.txt), the signatures of the task (see
bert_tf/tasks/<family>/serving.py) and assets.extra/tf_serving_warmup_requests.
exports/models.config then lists every model under exports/ for
`tensorflow_model_server --model_config_file=exports/models.config`.

--serving_version (default: the TF Serving release matching this
TensorFlow) is the oldest server the export must load in: an op that
release does not link fails the export, naming the op and the first release
that has it.

Here only the command line (`cli`); the export itself is a library call,
`bert_tf.export_model` (bert_tf/export/).
"""
