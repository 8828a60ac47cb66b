"""Which family folder handles a task, by task name or family name.

A family is registered by one line in `FAMILIES`; its `task` module lists
its task names in `TASK_NAMES` and defines `Task` and `Description`
(bert_tf/tasks/base.py); its `serving` module names its serving tf.Module
class in `SERVING_MODULE`.
"""

import importlib
import os

from bert_tf import checkpoints
from bert_tf import errors
from bert_tf.tasks.multiple_choice import task as multiple_choice
from bert_tf.tasks.question_answering import task as question_answering
from bert_tf.tasks.text_classification import task as text_classification
from bert_tf.tasks.token_classification import task as token_classification

# Family name (kept as "family" in the model directory's task
# description) -> the family's task module.
FAMILIES = {
    "text_classification": text_classification,
    "multiple_choice": multiple_choice,
    "question_answering": question_answering,
    "token_classification": token_classification,
}

# Family names that model directories written before the family folders
# (bert_tf 0.x) carry.
_OLD_FAMILY_NAMES = {"glue": "text_classification",
                     "span": "question_answering"}

# Task name (--task) -> family name.
TASKS = {task: family for family, module in FAMILIES.items()
         for task in module.TASK_NAMES}


def family_name(name):
    """The family name of a family name, or of an old one."""
    name = _OLD_FAMILY_NAMES.get(name, name)
    if name not in FAMILIES:
        raise errors.Error(f"unknown task family {name!r}; expected one of "
                           f"{', '.join(FAMILIES)}")
    return name


def get_task(name):
    """The `Task` named `name` (a `--task` of `python -m tasks.finetune`)
    with its family's default options.

        >>> task = get_task("mrpc")
        >>> (task.name, task.eval_splits, type(task).__module__)
        ('mrpc', ('dev',), 'bert_tf.tasks.text_classification.task')
    """
    return family_of_task(name).Task(name)


def family_of_task(task_name):
    """The task module of the family that handles `task_name`."""
    if task_name not in TASKS:
        raise errors.Error(f"unknown task {task_name!r}; expected one of "
                           f"{', '.join(sorted(TASKS))}")
    return FAMILIES[TASKS[task_name]]


def serving_module_class(family):
    """The serving tf.Module class of a family (bert_tf/tasks/<family>/
    serving.py's SERVING_MODULE); old family names are accepted."""
    name = family_name(family)
    return importlib.import_module(
        f"bert_tf.tasks.{name}.serving").SERVING_MODULE


def task_of_model(model_dir):
    """(the `Task` a fine-tuned model directory was trained for, with the
    options it kept; its typed `TaskDescription`)."""
    where = os.path.join(model_dir, checkpoints.MODEL_FILE)
    task = checkpoints.read_model_description(model_dir).get("task")
    if not task:
        raise errors.Error(f"{model_dir}: not a fine-tuned model (no task "
                           f"in {checkpoints.MODEL_FILE}); the OUTPUT_DIR/"
                           "model of a tasks.finetune --do_train run is")
    description = description_from_json(task, where)
    task_class = FAMILIES[description.family].Task
    return task_class.from_description(description), description


def description_from_json(value, where):
    """The typed task description (the family's `Description`) of a model
    directory's "task" object; `where` names the file for errors."""
    if not isinstance(value, dict) or "family" not in value:
        raise errors.Error(f"{where}: the task description names no family")
    family = family_name(value["family"])
    return FAMILIES[family].Description.from_json(
        {**value, "family": family}, where)
