"""The meta-test's reported number: the reference keeps collecting trajectories until
``num_steps_per_eval`` steps are in and reports the last one, checked by hand on a family whose
episodes end early."""
import pytest
import torch

import pearlkit
from pearlkit.evaluate import meta_test, reported_trajectory, summarize
from pearlkit.pearl import build_agent


def _meta_test(family):
    config = pearlkit.get_preset(family).replace(hidden_sizes=(16, 16), encoder_hidden_sizes=(16,), num_test_tasks=3)
    torch.manual_seed(0)
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    return meta_test(agent, tasks[:3], config, seed=0)  # 600 steps: 3 trajectories, more if they end early


def test_reported_return_is_the_last_trajectory_of_600_steps_counted_by_hand():
    result = _meta_test("walker-2d-params")  # an untrained walker falls in about 100 steps
    steps = result.valid.sum(2)
    assert result.returns.shape[1] > 3  # more than 3 trajectories were needed
    expected = []
    for task in range(3):
        total, last = 0, None
        for k in range(steps.shape[1]):  # the reference's loop: one more trajectory while under 600 steps
            if total >= 600:
                break
            total, last = total + int(steps[task, k]), k
        assert total >= 600
        expected.append(last)
    assert reported_trajectory(result).tolist() == expected
    by_hand = sum(float(result.returns[task, k]) for task, k in enumerate(expected)) / 3
    assert summarize(result).reported_return == pytest.approx(by_hand)


def test_without_early_ends_the_reported_trajectory_is_the_third():
    result = _meta_test("cheetah-vel")
    assert result.returns.shape[1] == 3 and result.counted.all()
    metrics = summarize(result)
    assert metrics.reported_return == pytest.approx(metrics.adaptation_curve[-1])
    assert metrics.reported_return == pytest.approx(metrics.return_after_exploration)
