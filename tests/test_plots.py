import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from pearlkit.evaluate import meta_test  # noqa: E402
from pearlkit.pearl import build_agent  # noqa: E402
from pearlkit.plots import plot_navigation_meta_test  # noqa: E402
from tests.conftest import tiny_config  # noqa: E402


def test_meta_test_figure_draws_every_trajectory_of_each_task():
    config = tiny_config()
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    result = meta_test(agent, tasks, config.replace(num_exp_traj_eval=5, num_steps_per_eval=7 * 20), seed=0)
    fig = plot_navigation_meta_test(result, tasks, columns=2)
    drawn = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert len(drawn) == 3
    assert all(len(ax.lines) == 2 + 7 for ax in drawn)  # the arc, the start, one line per trajectory
    assert all(len(ax.patches) == 1 for ax in drawn)  # the goal disc


def test_exploration_ceiling_figure_has_a_line_per_protocol_and_the_agents_point():
    from pearlkit.plots import plot_exploration_ceiling

    ideal = {"reference": {1: {"found": 0.1, "success_sampled": 0.2}, 5: {"found": 0.5, "success_sampled": 0.6}},
             "Algorithm 2": {1: {"found": 0.1, "success_sampled": 0.2}, 5: {"found": 0.6, "success_sampled": 0.7}}}
    fig = plot_exploration_ceiling(ideal, {"trained": {"k": 5, "found": 0.3, "success": 0.35}}, target=0.9)
    found_ax, success_ax = fig.axes
    assert [line.get_ydata().tolist() for line in found_ax.lines] == [[0.1, 0.5], [0.1, 0.6], [0.3]]
    assert success_ax.lines[2].get_ydata().tolist() == [0.35]
    assert list(success_ax.lines[3].get_ydata()) == [0.9, 0.9]  # the target, dashed
    assert len(found_ax.lines) == 3  # no target line on the found panel
