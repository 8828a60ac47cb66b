"""benchmarks/serving_soak.py, bounded: 16 clients on two models while a
new version of one is exported and swapped in; no request may fail."""

import pytest
import tensorflow as tf

from benchmarks import serving_soak
from serving import client


@pytest.mark.large
class ServingSoakTest(tf.test.TestCase):

    def test_version_swap_under_load_fails_no_request(self):
        options = serving_soak.Options(model="tiny", clients=16,
                                       duration=16.0)
        measured = serving_soak.run(options)
        self.assertEqual(measured["failures"], [])
        for model, latencies in measured["latencies"].items():
            self.assertGreater(len(latencies), 50, model)
        started, serving = measured["swap"]
        self.assertLess(started, serving)
        self.assertLess(serving, measured["elapsed"])
        self.assertEqual(measured["final_status"][0],
                         client.VersionStatus(2, "AVAILABLE"))
        self.assertIn("failed: 0.", serving_soak.table(options, measured))


if __name__ == "__main__":
    tf.test.main()
