"""Fine-tuning tasks, one folder per task family.

Each family folder holds everything one kind of task needs, side by side:

    data.py      the reader of the task's files in their original layout
    task.py      `Task`: features, tf.data batches, the model head, loss,
                 evaluation and prediction files (see `finetuning.py`)
    metrics.py   the official scores (where the family has its own)
    serving.py   the in-graph serving module the export saves

    text_classification/   sentence (pair) classification and regression:
                           GLUE (MNLI, QQP, QNLI, SST-2, CoLA, STS-B, MRPC,
                           RTE, WNLI, AX)
    multiple_choice/       SWAG
    question_answering/    extractive span QA: SQuAD v1.1 and v2.0
    token_classification/  CoNLL-2003 NER

`registry` maps task names (`--task`) and family names to them;
`datasets` and `serving_ops` are what the families share.
"""
