"""The overhead tools' arithmetic: which steps count as paused, and the ratios."""
import io
import os
import sys
import unittest
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "injector", "tools"))

import duty_cost  # noqa: E402
import overhead_ratios  # noqa: E402


def iteration(ts, dur):
    return {"ph": "X", "cat": "iteration", "name": "step", "ts": ts, "dur": dur}


def pause(ts, dur, name="capture paused: all"):
    return {"ph": "X", "cat": "region", "name": name, "ts": ts, "dur": dur}


class PausedWindows(unittest.TestCase):
    def test_steps_inside_a_pause_are_off_and_steps_touching_one_are_left_out(self):
        events = [iteration(0, 10), iteration(10, 10), iteration(20, 10), iteration(30, 10), iteration(40, 10),
                  pause(19, 22), pause(100, 5, name="data")]
        kinds = [k for k, _ in duty_cost.kinds_by_pauses(events)]
        # 0-10 on; 10-20 touches the pause at 19; 20-30 and 30-40 inside; 40-50 touches its end at 41.
        self.assertEqual(kinds, ["on", None, "off", "off", None])

    def test_alternating_windows_give_the_cost_of_the_part(self):
        events = []
        t = 0
        for window in range(6):
            paused = window % 2 == 1
            if paused:
                events.append(pause(t - 1, 5 * 100 + 2))
            for _ in range(5):
                events.append(iteration(t, 95 if paused else 100))  # 5 % slower with the part on
                t += 100
            t += 10
        ratios, counts = duty_cost.window_ratios(duty_cost.kinds_by_pauses(events))
        self.assertEqual(counts, {"on": 15, "off": 15})
        self.assertEqual(len(ratios), 5)
        for r in ratios:
            self.assertAlmostEqual(r, 100 / 95)

    def test_a_trace_without_pauses_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "capture paused"):
            duty_cost.kinds_by_pauses([iteration(0, 10)])


class Ratios(unittest.TestCase):
    def test_rows_pool_across_files_and_skip_runs_without_a_time(self):
        rows = overhead_ratios.read_rows([os.path.join(HERE, "..", "..", "..", "bench", "results", "gpt2-small-h100",
                                                       "3-pm-setup-steps.txt")])
        self.assertEqual(len(rows), 9)
        self.assertAlmostEqual(rows[0]["pminit"], 33.9126)
        out = io.StringIO()
        with redirect_stdout(out):
            overhead_ratios.print_ratios("x", [1.0, 1.02, 1.04])
        lines = dict(line.split()[:2] for line in out.getvalue().splitlines())
        self.assertEqual(lines["x_median"], "1.0200")
        self.assertTrue(float(lines["x_mean_p05"]) <= 1.02 <= float(lines["x_mean_p95"]))


if __name__ == "__main__":
    unittest.main()
