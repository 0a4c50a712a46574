"""benchmarks/walker_motion.py: its count of runs that stayed up, per task, on a case worked by hand."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from walker_motion import whole_by_task  # noqa: E402


def test_runs_that_lasted_the_horizon_are_counted_per_task():
    steps = np.array([200, 57, 200, 200, 13, 199])  # two runs per task, as meta-test runs them
    assert whole_by_task(steps, np.repeat(np.arange(3), 2), horizon=200) == [1, 2, 0]
