"""The meta-test's reported number: the reference keeps collecting trajectories until
``num_steps_per_eval`` steps are in and reports the last one, checked by hand on a family whose
episodes end early; and the check that a shipped result's recorded figures still come out."""
import json
import math

import pytest
import torch

import pearlkit
from tests.conftest import tiny_cheetah_config
from pearlkit.checkpoint import load_agent
from pearlkit.cli import main as cli_main
from pearlkit.evaluate import (
    changed_figures,
    figure_tolerance,
    meta_test,
    reported_trajectory,
    seed_statistics,
    summarize,
    velocity_along_task,
)
from pearlkit.pearl import build_agent


def _meta_test(family, with_agent=False, **changes):
    config = pearlkit.get_preset(family).replace(hidden_sizes=(16, 16), encoder_hidden_sizes=(16,), num_test_tasks=3,
                                                 **changes)
    torch.manual_seed(0)
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    result = meta_test(agent, tasks[:3], config, seed=0)  # 600 steps: 3 trajectories, more if they end early
    return (result, agent) if with_agent else result


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


def summary(**figures):
    base = dict(return_after_exploration=0.0, success_rate=None, reported_return=0.0, reported_success=None,
                found_during_exploration=None, success_given_found=None, success_given_not_found=None,
                adaptation_curve=[0.0], success_curve=None, num_tasks=2, runs_per_task=1, iteration=3)
    return {**base, **figures}


def test_seed_statistics_are_the_mean_and_its_standard_error():
    returns = [1.0, 2.0, 3.0, 6.0]
    mean, error = seed_statistics([summary(return_after_exploration=r, reported_return=2 * r) for r in returns])
    assert mean["return_after_exploration"] == pytest.approx(3.0)
    by_hand = math.sqrt(sum((r - 3.0) ** 2 for r in returns) / 3) / 2  # s / sqrt(n), s with n - 1
    assert error["return_after_exploration"] == pytest.approx(by_hand)
    assert mean["reported_return"] == pytest.approx(6.0) and error["reported_return"] == pytest.approx(2 * by_hand)
    # Metrics a family does not report (None) and the counts are not averaged.
    assert set(mean) == {"return_after_exploration", "reported_return"}


def test_a_recorded_figure_may_move_by_its_tolerance_and_no_more():
    recorded = {"seeds": [0, 1], "mean": {"return_after_exploration": 100.0, "success_rate": 0.5},
                "standard_error": {"return_after_exploration": 5.0, "success_rate": 0.0}}
    assert figure_tolerance(100.0, 5.0) == pytest.approx(4 * 5.0 + 0.01 * 101.0)
    within = {"seeds": [0, 1], "mean": {"return_after_exploration": 79.0, "success_rate": 0.51}}
    assert changed_figures(recorded, within) == []
    moved = {"seeds": [0, 1], "mean": {"return_after_exploration": 78.0, "success_rate": 0.52}}
    changed = changed_figures(recorded, moved)
    assert len(changed) == 2 and changed[0].startswith("return_after_exploration: recorded 100.000")
    assert changed_figures(recorded, {"seeds": [0, 1], "mean": {"return_after_exploration": 100.0}}) == [
        "success_rate: recorded 0.500 (mean of seeds [0, 1]), measured None; allowed ±0.015"]
    with pytest.raises(ValueError, match=r"seeds \[0\], but the record is of seeds \[0, 1\]"):
        changed_figures(recorded, {"seeds": [0], "mean": {}})


@pytest.mark.parametrize("exploration_actions", ["mean", "sampled"])
def test_exploration_trajectories_act_on_samples_only_where_asked_and_the_rest_on_the_mean(exploration_actions):
    result, agent = _meta_test("cheetah-vel", with_agent=True, exploration_actions=exploration_actions)
    assert result.num_exp_traj_eval == 2 and len(result.trajectories) == 3
    for k, traj in enumerate(result.trajectories):
        z = result.z[:, k].unsqueeze(1).expand(-1, traj.obs.shape[1], -1)
        mean_action = agent.policy(traj.obs.flatten(0, 1), z.flatten(0, 1), deterministic=True).action
        on_mean = torch.allclose(traj.action.flatten(0, 1), mean_action, atol=1e-6)
        assert on_mean == (exploration_actions == "mean" or k >= result.num_exp_traj_eval), k


def test_a_meta_test_option_outside_its_choices_is_refused_by_name():
    with pytest.raises(ValueError, match="exploration_actions must be one of .*'sampled'.* got 'noisy'"):
        pearlkit.get_preset("cheetah-vel").replace(exploration_actions="noisy")


def test_cli_evaluate_explores_with_sampled_actions_when_asked(tmp_path, capsys):
    run_dir = tmp_path / "run"
    pearlkit.train(tiny_cheetah_config(), run_dir, progress=False)
    curves = {}
    for how in ("mean", "sampled"):
        assert cli_main(["evaluate", str(run_dir), "--json", "--exploration-actions", how, "--device", "cpu"]) == 0
        curves[how] = json.loads(capsys.readouterr().out)["adaptation_curve"]
    agent, config, _ = load_agent(run_dir, "cpu")
    config = config.replace(exploration_actions="sampled")
    expected = summarize(meta_test(agent, config.split_tasks()[1], config, seed=0, runs_per_task=config.num_evals))
    assert curves["sampled"] == pytest.approx(expected.adaptation_curve)
    assert curves["sampled"][0] != pytest.approx(curves["mean"][0])


def test_cli_evaluate_over_seeds_shows_a_progress_bar_on_stderr_unless_asked_not_to(tmp_path, capsys):
    run_dir = tmp_path / "run"
    pearlkit.train(tiny_cheetah_config(), run_dir, progress=False)
    assert cli_main(["evaluate", str(run_dir), "--seeds", "0-1", "--json", "--device", "cpu"]) == 0
    shown = capsys.readouterr()
    assert "evaluation seeds" in shown.err and "2/2" in shown.err
    assert json.loads(shown.out)["seeds"] == [0, 1]  # stdout stays one JSON object
    assert cli_main(["evaluate", str(run_dir), "--seeds", "0-1", "--json", "--device", "cpu", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_velocity_along_task_is_the_ants_forward_velocity_signed_by_its_task_counted_by_hand():
    result = _meta_test("ant-fwd-back")  # its two tasks, forward (+x) and backward (-x), as three
    _, tasks = pearlkit.get_preset("ant-fwd-back").replace(num_test_tasks=3).split_tasks()  # as _meta_test's
    along = velocity_along_task(result, tasks[:3], "pearlkit/AntFwdBack-v1")
    assert along.shape == tuple(result.returns.shape)
    assert {math.cos(task["angle"]) for task in tasks[:3]} == {1.0, -1.0}  # both signs are checked
    for run, task in enumerate(tasks[:3]):
        sign = 1.0 if math.cos(task["angle"]) > 0 else -1.0
        for k, traj in enumerate(result.trajectories):
            steps = result.valid[run, k].numpy()
            # The 27-D observation is qpos[2:] (13 numbers), then qvel, which opens with the root's x velocity.
            by_hand = sign * traj.next_obs[run, :, 13].numpy()[steps].mean()
            assert along[run, k] == pytest.approx(by_hand, rel=1e-5)


def test_velocity_along_task_refuses_tasks_without_a_direction():
    result = _meta_test("cheetah-vel")
    _, tasks = pearlkit.get_preset("cheetah-vel").split_tasks()
    with pytest.raises(ValueError, match="direction tasks"):
        velocity_along_task(result, tasks[:3], "pearlkit/HalfCheetahVel-v0")
