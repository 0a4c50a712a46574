"""benchmarks/common_goals.py: runs meta-tested on the same goals, none of them trained on."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from common_goals import on_goals, same_tasks, task_range  # noqa: E402

import pearlkit  # noqa: E402
from tests.conftest import tiny_cheetah_config  # noqa: E402
from pearlkit.evaluate import zero_action_return  # noqa: E402

ROOT = Path(__file__).parents[1]


def test_the_goals_are_the_family_s_tasks_a_to_b_whatever_the_run_trained_on():
    many = pearlkit.get_preset("ant-goal-2d").replace(num_train_tasks=1000, num_test_tasks=30)
    few = pearlkit.get_preset("ant-goal-2d")  # 150 training tasks
    # the 1,000-goal run's own held-out goals, as the 150-goal run is meta-tested on them
    assert same_tasks(on_goals(few, 1000, 1029, Path("few")).split_tasks()[1], many.split_tasks()[1])
    assert same_tasks(on_goals(many, 1000, 1029, Path("many")).split_tasks()[1], many.split_tasks()[1])
    assert not same_tasks(few.split_tasks()[1], many.split_tasks()[1])


def test_goals_a_run_trained_on_or_a_list_that_changes_with_its_length_are_refused():
    many = pearlkit.get_preset("ant-goal-2d").replace(num_train_tasks=1000)
    with pytest.raises(SystemExit, match=r"many trained on tasks 0-999; --tasks 150-179 would meta-test it on some"):
        on_goals(many, 150, 179, Path("many"))
    with pytest.raises(SystemExit, match="SparsePointNav-v0's task list is not the same at another length"):
        on_goals(pearlkit.get_preset("sparse-point-robot"), 100, 119, Path("nav"))
    with pytest.raises(SystemExit, match="AntFwdBack-v1 meta-tests on its training tasks"):
        on_goals(pearlkit.get_preset("ant-fwd-back"), 10, 12, Path("ant"))


@pytest.mark.parametrize("text", ["0-5", "7-3", "12", "a-b"])
def test_a_bad_range_is_refused_by_name(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--tasks"):
        task_range(text)


def test_a_run_is_measured_against_the_floor_of_the_same_goals(tmp_path):
    config = tiny_cheetah_config()
    pearlkit.train(config, tmp_path / "run", progress=False)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "common_goals.py"), str(tmp_path / "run"),
                          "--tasks", "10-13"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    result = json.loads(out.splitlines()[-1])[str(tmp_path / "run")]
    assert result["tasks"] == [10, 13] and result["runs"] == 4
    floor = zero_action_return(config.replace(num_train_tasks=10, num_test_tasks=4), seed=0)
    assert result["zero_action_return"] == pytest.approx(floor, abs=0.05)
    assert result["above_floor"] == pytest.approx(result["return_after_exploration"] - result["zero_action_return"],
                                                  abs=0.11)
