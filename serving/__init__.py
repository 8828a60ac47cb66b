"""From a fine-tuned model to answers over TF Serving's APIs, in three parts
that share only the SavedModel helpers (`saved_model`):

    export/      python -m serving.export: a fine-tuned bert_tf model
                 directory -> a numbered SavedModel version (tokenizer in the
                 graph, raw-text signatures, warmup requests), audited for
                 the TF Serving release it must load in.
    dev_server/  python -m serving.dev_server: a development stand-in for
                 tensorflow_model_server (gRPC + REST) where the real binary
                 cannot run; it does not import the bert_tf model code.
    client/      python -m serving.client, and a library: Predict, Classify,
                 Regress, metadata and status over gRPC or REST, against
                 either server.
"""
