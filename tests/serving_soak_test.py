"""benchmarks/serving_soak.py, bounded: 16 gRPC clients on two models while
a new version of one is exported and swapped in, beside 200 concurrent REST
clients and a loop of oversize and amplified requests; no valid request may
fail, no REST connection be reset, every abusive request be refused."""

import pytest
import tensorflow as tf

from benchmarks import serving_soak
from serving.client import lib as client


@pytest.mark.large
class ServingSoakTest(tf.test.TestCase):

    def test_version_swap_under_load_fails_no_request(self):
        options = serving_soak.Options(model="tiny", clients=16,
                                       duration=16.0, rest_clients=200,
                                       rest_pause=5.0)
        measured = serving_soak.run(options)
        self.assertEqual(measured["failures"], [])
        self.assertEqual(measured["resets"], 0)
        self.assertGreaterEqual(len(measured["latencies"]["sst2 REST"]), 200)
        for kind, (refused, other) in measured["abuse"].items():
            self.assertGreater(refused, 0, kind)
            self.assertEqual(other, 0, kind)
        # Every model answered requests after the new version came in (how
        # many depends on how busy the machine is: not a gate).
        for model, answered in measured["after_swap"].items():
            self.assertGreater(answered, 0, model)
        started, serving = measured["swap"]
        self.assertLess(started, serving)
        self.assertLess(serving, measured["elapsed"])
        self.assertEqual(measured["final_status"][0],
                         client.VersionStatus(2, "AVAILABLE"))
        text = serving_soak.table(options, measured)
        self.assertIn("failed: 0.", text)
        self.assertIn("REST connections reset: 0.", text)
        self.assertIn("Not refused as expected: 0.", text)


if __name__ == "__main__":
    tf.test.main()
