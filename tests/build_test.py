"""Keeps BUILD honest, since Bazel cannot fetch its rules on our machines.

BUILD is read as the Starlark it is (a Python-compatible subset) with the
rule functions stubbed to record their arguments.
"""

import os
import re

import tensorflow as tf

from tests import testing

ROOT = testing.REPO_ROOT
PACKAGES = ("bert_tf", "tasks", "serving", "tests", "benchmarks")
DATA_DIRS = ("tests/golden", "tasks/data")


def read_build(path=os.path.join(ROOT, "BUILD")):
    """{target name: (rule, attributes)} and the requirement() names used."""
    targets, requirements = {}, []

    def rule(kind):
        def record(name, **attributes):
            if name in targets:
                raise ValueError(f"BUILD: target '{name}' defined twice")
            targets[name] = (kind, attributes)
        return record

    def requirement(name):
        requirements.append(name)
        return f"@pypi//{name}"

    scope = {
        "load": lambda *args, **kwargs: None,
        "package": lambda **kwargs: None,
        "requirement": requirement,
        "py_library": rule("py_library"),
        "py_binary": rule("py_binary"),
        "py_test": rule("py_test"),
    }
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), scope)  # noqa: S102
    return targets, requirements


def tree_files(predicate):
    found = set()
    for top in PACKAGES:
        for root, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            for name in files:
                path = os.path.relpath(os.path.join(root, name), ROOT)
                if predicate(path):
                    found.add(path)
    return found


class BuildTest(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        self.targets, self.requirements = read_build()

    def _listed(self, attribute):
        return {f for _, attrs in self.targets.values()
                for f in attrs.get(attribute, [])}

    def test_every_python_file_belongs_to_a_target(self):
        missing = tree_files(lambda p: p.endswith(".py")) - self._listed("srcs")
        self.assertEqual(sorted(missing), [])

    def test_every_data_file_is_listed(self):
        # Document indexes are caches that pre-training writes beside a
        # corpus (bert_tf/data/document_index.py), not project files.
        data = {p for p in tree_files(lambda p: p.startswith(DATA_DIRS))
                if not p.endswith((".py", ".pyc", ".docindex"))}
        self.assertEqual(sorted(data - self._listed("data")), [])

    def test_every_listed_file_exists(self):
        for name, (_, attrs) in self.targets.items():
            for f in attrs.get("srcs", []) + attrs.get("data", []):
                self.assertTrue(os.path.isfile(os.path.join(ROOT, f)),
                                f"BUILD target '{name}' lists missing {f}")

    def test_every_test_file_is_a_py_test_of_its_name(self):
        for path in tree_files(lambda p: p.endswith("_test.py")):
            # tests/x_test.py is :x_test; a test beside the code it checks
            # (bert_tf/tasks/<family>/serving_test.py) is named by its path.
            name = os.path.basename(path)[:-3] \
                if path.startswith("tests/") else path[:-3]
            self.assertIn(name, self.targets, f"no py_test for {path}")
            kind, attrs = self.targets[name]
            self.assertEqual(kind, "py_test")
            self.assertEqual(attrs["srcs"], [path])

    def test_binaries_name_a_main_among_their_srcs(self):
        for name, (kind, attrs) in self.targets.items():
            if kind == "py_binary":
                self.assertIn(attrs.get("main"), attrs["srcs"], name)

    def test_dependencies_are_targets_or_pinned_requirements(self):
        for name, (_, attrs) in self.targets.items():
            for dep in attrs.get("deps", []):
                if dep.startswith(":"):
                    self.assertIn(dep[1:], self.targets,
                                  f"'{name}' depends on unknown {dep}")
        pinned = set()
        for name in ("requirements.txt", "requirements-test.txt"):
            with open(os.path.join(ROOT, name)) as f:
                pinned |= {re.split(r"[=<>\[]", line.strip())[0].lower()
                           for line in f if line.strip()
                           and not line.startswith(("#", "-"))}
        for requirement in self.requirements:
            self.assertIn(requirement.lower(), pinned)


if __name__ == "__main__":
    tf.test.main()
