"""Fine-tuned models as SavedModels for TF Serving, as library calls.

    version_dir = bert_tf.export_model("runs/mrpc/model", "exports/mrpc")

writes the next numbered version of exports/mrpc atomically (the command
line is `python -m serving.export`; its docstring tells what an export
holds). Here: `exporter` (export_model, export_encoder, serving_module),
`hub_encoder` (the TF Hub-style encoder + preprocessor pair), `op_audit`
(which TF Serving release links every op of a graph), `model_config`
(models.config), `saved_model` (SignatureDef methods and warmup records,
which the dev server reads too).
"""
