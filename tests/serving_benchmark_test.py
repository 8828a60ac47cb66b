"""benchmarks/serving.py, short and bounded: every measurement runs, the
server answers every request under concurrent load."""

import pytest
import tensorflow as tf

from benchmarks import serving as serving_benchmark


@pytest.mark.large
class ServingBenchmarkTest(tf.test.TestCase):

    def test_short_run_measures_everything_with_no_failed_request(self):
        options = serving_benchmark.Options(
            model="tiny", batch_size=8, repeats=1, requests=10, clients=4,
            duration=2.0)
        measured = serving_benchmark.run(options)
        self.assertEqual(sorted(measured["overhead"]), [1, 8])
        for raw, ids in measured["overhead"].values():
            self.assertGreater(raw, 0.0)
            self.assertGreater(ids, 0.0)
        for p50, p99 in [measured["in_process"],
                         *measured["latency"].values()]:
            self.assertLessEqual(p50, p99)
        rate, _, _, failed, total = measured["load"]
        self.assertEqual(failed, 0)
        self.assertGreater(total, 0)
        self.assertGreater(rate, 0.0)
        text = serving_benchmark.table(options, measured)
        self.assertIn("| requests/s |", text)
        self.assertIn(f"| {total} | 0 |", text)


if __name__ == "__main__":
    tf.test.main()
