"""Every command line checks its flags up front, one line per bad flag.

In process, each CLI's flags are defined on a fresh `FlagValues` and parsed
with `flag_checks`: the values of the issue are refused with a line naming
the flag and the value, checks across flags hold, and a fuzz of adversarial
values per flag type ends in "accepted" (and the run's dataclass builds) or
in clean error lines, never in an exception. A few real runs check what the
console shows: one error line and no TensorFlow log, before any work.
"""

import atexit
import contextlib
import dataclasses
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile

from absl import flags
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import tensorflow as tf

from bert_tf.cli import console
from bert_tf.cli import flag_checks
from bert_tf.data import create_pretraining_data
from bert_tf import finetuning
from bert_tf import pretraining
from bert_tf import vocab
from serving.client import cli as client_cli
from serving.export import cli as export_cli
from tasks import demo
from tasks import finetune
from tasks import pretrain
from tasks import squad_eval
from tests import testing

SST2 = os.path.join(testing.REPO_ROOT, "tasks", "data", "glue", "SST-2")
CORPUS = os.path.join(testing.REPO_ROOT, "tasks", "data",
                      "pretraining_corpus.txt")
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
# What a fuzzed flag error may look like: ours name the flag; absl's own
# parse errors name it too, or the unknown flag.
_ERROR_LINE = re.compile(r"^(--\w+|Unknown command line flag|nothing to do"
                         r"|no architecture|pass --version)")
_ENV = {k: v for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "BERT_TF_VERBOSE")}


class _Paths:
    """A file, a directory and a vocab for base command lines."""

    def __init__(self):
        self.dir = tempfile.mkdtemp()
        self.file = os.path.join(self.dir, "a_file.txt")
        with open(self.file, "w") as f:
            f.write("some text\n")
        self.vocab = os.path.join(testing.minilm_dir(), "vocab.txt") \
            if os.path.isdir(testing.minilm_dir()) else self.file
        self.out = os.path.join(self.dir, "out")
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)


PATHS = _Paths()

# name: (define_flags, a valid command line, what an accepted run builds)
CLIS = {
    "finetune": (finetune.define_flags, [
        "--task=sst2", f"--data_dir={SST2}", f"--output_dir={PATHS.out}",
        f"--init_checkpoint={PATHS.dir}", "--do_train"],
        finetune.run_from_flags),
    "pretrain": (pretrain.define_flags, [
        f"--input_file={CORPUS}", f"--output_dir={PATHS.out}",
        f"--vocab_file={PATHS.vocab}", "--preset=tiny"],
        pretrain.run_from_flags),
    "demo": (demo.define_flags, [f"--output_dir={PATHS.out}"], None),
    "squad_eval": (squad_eval.define_flags, [], None),
    "vocab": (vocab.define_flags, [
        f"--input={CORPUS}", f"--output={PATHS.out}/vocab.txt"], None),
    "create_pretraining_data": (create_pretraining_data.define_flags, [
        f"--input_file={CORPUS}", f"--output_file={PATHS.out}/x.tfrecord",
        f"--vocab_file={PATHS.vocab}"], None),
    "client": (client_cli.define_flags, [
        "--server=localhost:8500", "--model=sst2", "--input=text_a=hi"],
        None),
    "export": (export_cli.define_flags, [
        f"--model_dir={PATHS.dir}", f"--export_dir={PATHS.out}/sst2"], None),
}


def _flag_values(cli):
    define = CLIS[cli][0]
    fv = flags.FlagValues()
    define(fv)
    return fv


def _errors(cli, *args):
    return flag_checks.errors(["prog", *CLIS[cli][1], *args],
                              _flag_values(cli))


# Adversarial values per flag type.
_INTS = ["-1", "0", "1", "2", "3", "5", "64", "100000", "1.5", "abc", "",
         "-9223372036854775808", "99999999999999999999", "0x10"]
_FLOATS = ["-1e-3", "0", "1e-300", "0.5", "1", "5", "nan", "inf", "-inf",
           "1e308", "abc", ""]
_STRINGS = ["", " ", "/", PATHS.file, PATHS.dir, PATHS.file + "/child",
            "/nonexistent/x", "a\nb", "\x00", "gs://bucket/x", "x" * 300,
            "-1", "é東", "*"]
_LISTS = ["", ",", "a,,b", PATHS.file, f"{PATHS.file},{PATHS.file}",
          "/nonexistent/*", PATHS.dir, "x=1", "text_a=hi"]


def _values(flag):
    parser = flag.parser
    if hasattr(parser, "enum_values"):
        return list(parser.enum_values) + ["banana", ""]
    kind = flag.flag_type()
    if kind == "bool":
        return ["true", "false", "maybe", ""]
    return {"int": _INTS, "float": _FLOATS}.get(
        kind, _LISTS if "list" in kind or "multi" in kind else _STRINGS)


@st.composite
def _command_lines(draw, cli):
    fv = _flag_values(cli)
    names = sorted(name for name in fv if name not in ("flagfile", "undefok"))
    picked = draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
    args = [f"--{name}={draw(st.sampled_from(_values(fv[name])))}"
            for name in picked]
    return CLIS[cli][1] + args


class FlagChecksTest(tf.test.TestCase):

    def test_finetune_flags_refuse_the_values_of_the_issue(self):
        self.assertEqual(_errors("finetune"), [])
        self.assertEqual(
            _errors("finetune", "--learning_rate=-1e-3",
                    "--num_train_epochs=-1", "--train_batch_size=0",
                    "--max_seq_length=2", "--warmup_proportion=5"),
            ["--max_seq_length=2: must be >= 3 ([CLS], a piece and [SEP])",
             "--train_batch_size=0: must be > 0",
             "--learning_rate=-0.001: must be > 0",
             "--num_train_epochs=-1.0: must be > 0",
             "--warmup_proportion=5.0: must be in [0, 1]"])
        self.assertEqual(
            _errors("finetune", f"--output_dir={PATHS.file}",
                    f"--vocab_file={PATHS.dir}", "--train_batch_size=-4"),
            [f"--output_dir={PATHS.file}: is a file, not a directory",
             f"--vocab_file={PATHS.dir}: is a directory, not a file",
             "--train_batch_size=-4: must be > 0"])
        self.assertEqual(
            _errors("finetune", f"--output_dir={PATHS.file}/run"),
            [f"--output_dir={PATHS.file}/run: {PATHS.file} is a file, not "
             "a directory"])

    def test_finetune_flags_check_across_flags(self):
        fv = _flag_values("finetune")
        self.assertEqual(
            flag_checks.errors(["prog", "--learning_rate=nan"], fv),
            ["--task is required", "--data_dir is required",
             "--output_dir is required", "--learning_rate=nan: must be a "
             "finite number > 0", "nothing to do: pass at least one of "
             "--do_train, --do_eval, --do_predict", "--init_checkpoint is "
             "required: the pre-trained model to fine-tune (or, without "
             "--do_train, the fine-tuned model)"])
        [line] = _errors("finetune", "--task=squad", "--max_seq_length=60")
        self.assertStartsWith(line, "--max_seq_length 60 leaves no room")
        self.assertEqual(_errors("finetune", "--distribution_strategy=tpu"),
                         ["--distribution_strategy=tpu needs --tpu (a TPU "
                          "name or address, or local)"])

    def test_pretrain_flags_check_lengths_and_the_architecture(self):
        self.assertEqual(_errors("pretrain"), [])
        self.assertEqual(
            _errors("pretrain", "--max_predictions_per_seq=200"),
            ["--max_predictions_per_seq=200 exceeds --max_seq_length=128"])
        [line] = _errors("pretrain", "--max_seq_length=512")
        self.assertStartsWith(line, "--masked_lm_prob=0.15, "
                              "--max_predictions_per_seq=20, "
                              "--max_seq_length=512: max_predictions_per_seq "
                              "20 is too small")
        fv = _flag_values("pretrain")
        self.assertEqual(flag_checks.errors(
            ["prog", f"--input_file={PATHS.dir}/*.none",
             f"--output_dir={PATHS.out}", f"--vocab_file={PATHS.file}"], fv),
            [f"--input_file={PATHS.dir}/*.none: matches no file",
             "no architecture: pass --bert_config_file, --preset or "
             "--init_checkpoint"])

    def test_export_flags_refuse_an_unknown_serving_version(self):
        self.assertEqual(_errors("export"), [])
        self.assertEqual(_errors("export", "--serving_version=2.12"), [])
        self.assertEqual(
            _errors("export", "--serving_version=banana", "--seq_length=0",
                    f"--export_dir={PATHS.file}/x"),
            [f"--export_dir={PATHS.file}/x: {PATHS.file} is a file, not a "
             "directory",
             "--seq_length=0: must be >= 3 ([CLS], a piece and [SEP])",
             "--serving_version=banana: expected a TF Serving release, 2.0 "
             "or later (e.g. 2.12)"])

    def test_other_clis_refuse_bad_values_with_the_flag_named(self):
        for cli, args, expected in (
                ("demo", ["--stages=pretrain,bogus", "--epochs=0"],
                 ["--stages=pretrain,bogus: 'bogus' is not one of pretrain, "
                  "convert, finetune, export, serve",
                  "--epochs=0.0: must be > 0"]),
                ("squad_eval", [f"--na_prob_file={PATHS.dir}"],
                 [f"--na_prob_file={PATHS.dir}: is a directory, not a "
                  "file"]),
                ("vocab", ["--vocab_size=50"],
                 ["--vocab_size=50 leaves no room after 104 reserved tokens "
                  "(--num_unused=99)"]),
                ("create_pretraining_data",
                 [f"--output_file={PATHS.dir}", "--dupe_factor=0"],
                 [f"--output_file={PATHS.dir}: is a directory, not a file",
                  "--dupe_factor=0: must be > 0"]),
                ("client", ["--server=localhost", "--batch_size=0",
                            "--input=oops"],
                 ["--server=localhost: expected HOST:PORT (or, with --rest, "
                  "http://HOST:PORT)", "--batch_size=0: must be > 0",
                  "--input 'oops': expected KEY=VALUE or KEY:=JSON"])):
            with self.subTest(cli=cli):
                self.assertEqual(_errors(cli, *args), expected)
                self.assertEqual(_errors(cli), [])

    def test_parse_flags_prints_one_line_per_error_and_exits_2(self):
        fv = _flag_values("finetune")
        stderr = io.StringIO()
        with self.assertRaises(SystemExit) as raised, \
                contextlib.redirect_stderr(stderr):
            flag_checks.parse_flags(
                ["prog", *CLIS["finetune"][1], "--log_steps=0",
                 "--init_checkpoint=a\nb"], fv)
        self.assertEqual(raised.exception.code, 2)
        self.assertEqual(stderr.getvalue(),
                         "error: --init_checkpoint='a\\nb': no such file, "
                         "directory, checkpoint (.index) or catalog name "
                         "(python -m bert_tf.zoo list)\n"
                         "error: --log_steps=0: must be > 0\n")
        args = flag_checks.parse_flags(["prog", "rest"],
                                       _flag_values("squad_eval"))
        self.assertEqual(args, ["prog", "rest"])


class RunFlagsTest(tf.test.TestCase):
    """Flags generated from the run dataclasses (bert_tf/cli/run_flags.py)."""

    def test_every_run_field_is_a_flag_with_the_fields_default(self):
        for run_class, cli in ((finetuning.FinetuningRun, "finetune"),
                               (pretraining.PretrainingRun, "pretrain")):
            fv = _flag_values(cli)
            fields = dict(_leaf_fields(run_class))
            flag_names = {name for name, flag in fv._flags().items()
                          if name == flag.name}  # not short names
            self.assertEqual(set(fields), flag_names, run_class.__name__)
            for name, field in fields.items():
                if field.default is not dataclasses.MISSING:
                    self.assertEqual(fv[name].default, field.default, name)
                self.assertTrue(fv[name].help, name)

    def test_a_run_from_flags_holds_the_given_values(self):
        fv = _flag_values("finetune")
        fv(["prog", *CLIS["finetune"][1], "--learning_rate=2e-5",
            "--n_best_size=7", "--nodo_lower_case"])
        run = finetune.run_from_flags(fv)
        self.assertEqual((run.learning_rate,
                          run.question_answering.n_best_size,
                          run.do_lower_case, run.task),
                         (2e-5, 7, False, "sst2"))
        fv = _flag_values("pretrain")
        fv(["prog", *CLIS["pretrain"][1], f"--input_file={CORPUS},{CORPUS}",
            "--masked_lm_prob=0.2", "--max_predictions_per_seq=26"])
        run = pretrain.run_from_flags(fv)
        self.assertEqual(run.input_files, (CORPUS, CORPUS))
        self.assertEqual((run.data.masked_lm_prob,
                          run.data.max_predictions_per_seq), (0.2, 26))

    def test_two_command_lines_share_one_set_of_flags(self):
        # Both CLIs imported and defined in one process: no
        # DuplicateFlagError, and each run keeps its own defaults for the
        # options they share (learning_rate: 5e-5 vs 1e-4).
        fv = flags.FlagValues()
        finetune.define_flags(fv)
        pretrain.define_flags(fv)
        fv.mark_as_parsed()
        for name, value in (("task", "sst2"), ("data_dir", SST2),
                            ("output_dir", PATHS.out),
                            ("input_file", [CORPUS]),
                            ("vocab_file", PATHS.vocab)):
            setattr(fv, name, value)
        self.assertEqual(finetune.run_from_flags(fv).learning_rate, 5e-5)
        self.assertEqual(pretrain.run_from_flags(fv).learning_rate, 1e-4)
        fv.learning_rate = 3e-4
        self.assertEqual(finetune.run_from_flags(fv).learning_rate, 3e-4)
        self.assertEqual(pretrain.run_from_flags(fv).learning_rate, 3e-4)


def _leaf_fields(run_class):
    """(flag name, field) of a run class, nested configs flattened."""
    for field in dataclasses.fields(run_class):
        if dataclasses.is_dataclass(field.type):
            yield from _leaf_fields(field.type)
        else:
            yield field.metadata.get("flag") or field.name, field


def _fuzz_test(cli):
    @FUZZ
    @given(data=st.data())
    def test(self, data):
        argv = ["prog"] + data.draw(_command_lines(cli))
        fv = _flag_values(cli)
        lines = flag_checks.errors(argv, fv)
        for line in lines:
            self.assertNotIn("\n", line)
            self.assertRegex(line, _ERROR_LINE)
        if not lines and CLIS[cli][2] is not None:
            CLIS[cli][2](fv)  # the run's dataclass builds
    test.__name__ = f"test_{cli}_flags_fuzz_accepts_or_refuses_cleanly"
    return test


for _cli in CLIS:
    _test = _fuzz_test(_cli)
    setattr(FlagChecksTest, _test.__name__, _test)


class ConsoleTest(tf.test.TestCase):

    def test_console_keeps_project_logs_and_library_warnings(self):
        def record(path, level=logging.INFO):
            return logging.LogRecord("absl", level, path, 1, "m", (), None)

        library = os.path.join(os.path.dirname(tf.__file__), "python", "x.py")
        project = os.path.join(testing.REPO_ROOT, "tasks", "finetuning.py")
        self.assertFalse(console._drop_library_info(record(library)))
        self.assertTrue(console._drop_library_info(
            record(library, logging.WARNING)))
        self.assertTrue(console._drop_library_info(record(project)))

    def test_console_switch_is_bert_tf_verbose_or_tf_level_0(self):
        self.assertFalse(console.verbose({}))
        self.assertFalse(console.verbose({"BERT_TF_VERBOSE": "0",
                                          "TF_CPP_MIN_LOG_LEVEL": "2"}))
        self.assertTrue(console.verbose({"BERT_TF_VERBOSE": "1"}))
        self.assertTrue(console.verbose({"TF_CPP_MIN_LOG_LEVEL": "0"}))


class CommandLineTest(tf.test.TestCase):
    """Real runs: the console shows the error line and nothing else."""

    def _run(self, module, *args, env=None):
        return subprocess.run(
            [sys.executable, "-m", module, *args], capture_output=True,
            text=True, cwd=testing.REPO_ROOT, env=env or _ENV, timeout=300)

    def test_finetune_cli_refuses_a_negative_learning_rate_before_any_work(
            self):
        out = os.path.join(self.create_tempdir().full_path, "run")
        args = ("--task=sst2", f"--data_dir={SST2}", f"--output_dir={out}",
                f"--init_checkpoint={PATHS.dir}", "--do_train",
                "--learning_rate=-1e-3")
        result = self._run("tasks.finetune", *args)
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertEqual(result.stderr,
                         "error: --learning_rate=-0.001: must be > 0\n")
        self.assertFalse(os.path.exists(out))
        # The switch brings TensorFlow's own start-up lines back.
        verbose = self._run("tasks.finetune", *args,
                            env={**_ENV, "BERT_TF_VERBOSE": "1"})
        self.assertEqual(verbose.returncode, 2)
        self.assertTrue(any(console.TF_LOG_LINE.match(line)
                            for line in verbose.stderr.splitlines()),
                        verbose.stderr[-2000:])
        self.assertEndsWith(verbose.stderr,
                            "error: --learning_rate=-0.001: must be > 0\n")

    def test_library_cli_is_quiet_and_refuses_a_missing_input(self):
        # python -m bert_tf.convert imports bert_tf (and TensorFlow) before
        # its own first line; bert_tf/__init__ starts it quietly then.
        missing = os.path.join(self.create_tempdir().full_path, "missing")
        result = self._run("bert_tf.convert", f"--input={missing}",
                           f"--output={missing}_out")
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertEqual(result.stderr,
                         f"error: --input={missing}: does not exist (a "
                         "directory, a TF checkpoint prefix with an .index "
                         "file, or a catalog name)\n")

    def test_export_cli_refuses_an_unknown_serving_version_up_front(self):
        base = self.create_tempdir().full_path
        result = self._run("serving.export", f"--model_dir={PATHS.dir}",
                           f"--export_dir={base}/exports/sst2",
                           "--serving_version=banana")
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertEqual(result.stderr,
                         "error: --serving_version=banana: expected a TF "
                         "Serving release, 2.0 or later (e.g. 2.12)\n")
        self.assertFalse(os.path.exists(os.path.join(base, "exports")))

    def test_console_hides_tensorflow_log_lines_of_its_first_op(self):
        # On a machine without a GPU the first op logs "failed call to
        # cuInit"; whatever it logs, none of it reaches the console.
        result = subprocess.run(
            [sys.executable, "-c", "from bert_tf.cli import console\n"
             "import tensorflow as tf\nprint(int(tf.constant(1) + 1))"],
            capture_output=True, text=True, cwd=testing.REPO_ROOT, env=_ENV,
            timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertEqual(result.stdout, "2\n")
        self.assertEqual(result.stderr, "")


if __name__ == "__main__":
    tf.test.main()
