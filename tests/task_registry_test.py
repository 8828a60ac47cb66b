"""bert_tf.tasks.registry and the typed task contract (bert_tf/tasks/base.py):
every task name reaches a complete family, and model directories written
before the family folders still describe their task."""

import dataclasses
import os

import tensorflow as tf

from bert_tf import errors
from bert_tf.tasks import base
from bert_tf.tasks import registry
from bert_tf.tasks.question_answering import task as question_answering


class RegistryTest(tf.test.TestCase):

    def test_every_family_folder_is_registered(self):
        folders = {entry.name for entry in os.scandir(os.path.dirname(
            registry.__file__)) if os.path.isfile(
                os.path.join(entry.path, "task.py"))}
        self.assertEqual(set(registry.FAMILIES), folders)
        self.assertContainsSubset({"text_classification", "multiple_choice",
                                   "question_answering",
                                   "token_classification"}, folders)

    def test_every_task_name_reaches_a_complete_family(self):
        for name, family in registry.TASKS.items():
            with self.subTest(name):
                module = registry.FAMILIES[family]
                self.assertTrue(issubclass(module.Description,
                                           base.TaskDescription))
                task = registry.get_task(name)  # abstract methods all there
                self.assertIsInstance(task, base.Task)
                self.assertEqual(task.name, name)
                description = task.description(128, True)
                self.assertEqual(description.family, family)
                self.assertEqual(
                    registry.description_from_json(description.to_json(),
                                                   "x"), description)
                self.assertTrue(issubclass(
                    registry.serving_module_class(family), tf.Module))

    def test_model_directories_of_bert_tf_0_x_still_describe_their_task(self):
        # Written before the family folders: family "glue" / "span", and
        # SQuAD models without n_best_size (then always 20).
        glue = registry.description_from_json(
            {"name": "mrpc", "family": "glue", "labels": ["0", "1"],
             "is_pair": True, "max_seq_length": 128, "lower_case": True},
            "bert_tf_model.json")
        self.assertEqual((glue.family, glue.labels, glue.is_pair),
                         ("text_classification", ("0", "1"), True))
        span = registry.description_from_json(
            {"name": "squad_v2", "family": "span",
             "version_2_with_negative": True, "max_seq_length": 384,
             "max_query_length": 64, "doc_stride": 128,
             "max_answer_length": 30, "null_score_diff_threshold": -1.5,
             "lower_case": True}, "bert_tf_model.json")
        self.assertEqual(span.family, "question_answering")
        self.assertEqual(span.options, question_answering.Options(
            null_score_diff_threshold=-1.5))
        self.assertEqual(span.options.n_best_size, 20)
        task = registry.FAMILIES[span.family].Task.from_description(span)
        self.assertEqual(task.options, span.options)

    def test_bad_descriptions_name_the_file_and_the_field(self):
        for value, message in (
                ({"name": "x"}, "names no family"),
                ({"family": "nope"}, "unknown task family 'nope'"),
                ({"family": "multiple_choice", "name": "swag"},
                 "has no 'max_seq_length'"),
                (["not", "an", "object"], "names no family")):
            with self.subTest(message):
                with self.assertRaisesRegex(errors.Error, message):
                    registry.description_from_json(value, "m/bert_tf_model"
                                                          ".json")
        with self.assertRaisesRegex(errors.Error, "unknown task 'nope'"):
            registry.get_task("nope")

    def test_each_default_is_written_once(self):
        # The SQuAD options' defaults are the flags' defaults and the
        # description's: one dataclass.
        from bert_tf import finetuning  # noqa: F401  (flags of the run)
        run = finetuning.FinetuningRun(task="squad", data_dir="d",
                                       output_dir="o")
        self.assertEqual(run.question_answering,
                         question_answering.Options())
        self.assertEqual(
            question_answering.Description("squad", "question_answering",
                                           384, True).options,
            question_answering.Options())
        fields = {f.name: f.default for f in
                  dataclasses.fields(question_answering.Options)}
        self.assertEqual(fields["n_best_size"], 20)


if __name__ == "__main__":
    tf.test.main()
