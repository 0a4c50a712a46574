import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
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


def test_animation_player_needs_no_icon_font_from_a_cdn():
    import re

    import matplotlib.pyplot as plt

    from pearlkit.plots import PLAYER_ICONS, animation_html

    fig, ax = plt.subplots()
    html = animation_html(fig, lambda i: ax.plot([i], [i]), num_frames=2)
    plt.close(fig)
    assert "font-awesome" not in html and "<i class=" not in html
    buttons = re.findall(r"<button[^>]*>\s*(.*?)</button>", html, re.S)
    assert sorted(b.strip() for b in buttons) == sorted(PLAYER_ICONS.values())  # one character per button


def test_seed_band_is_the_mean_between_the_lowest_and_highest_seed():
    import matplotlib.pyplot as plt

    from pearlkit.plots import plot_learning_curves

    runs = [[{"env_steps": s, "score": v} for s, v in zip((1, 2, 3), values)]
            for values in ((0.0, 1.0, 2.0), (2.0, 1.0, 0.0), (1.0, 4.0, ""))]  # the last run missed step 3
    fig = plot_learning_curves({}, [("score", "score")], seeds={"three seeds": runs})
    ax = fig.axes[0]
    mean = ax.lines[0]
    np.testing.assert_allclose(mean.get_xdata(), [1, 2])  # only where every seed evaluated
    np.testing.assert_allclose(mean.get_ydata(), [1.0, 2.0])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.0 and band[:, 1].max() == 4.0
    plt.close(fig)


def test_factor_precision_figure_has_a_line_per_agent_in_each_panel():
    from pearlkit.plots import plot_factor_precisions

    factors = {"zero reward": torch.tensor([0.01, 0.1, 1.0]), "rewarded": torch.tensor([10.0, 1000.0])}
    fig = plot_factor_precisions({"one draw": factors, "four draws": factors})
    assert [ax.get_title() for ax in fig.axes] == ["zero reward transitions", "rewarded transitions"]
    for ax in fig.axes:
        assert len(ax.patches) == 2  # one histogram outline per agent
        assert all(abs(sum(p.get_data().values) - 1) < 1e-9 for p in ax.patches)  # shares sum to 1


def test_a_belief_axis_holds_still_across_an_animations_frames():
    from matplotlib.figure import Figure

    from pearlkit.plots import belief_reach, draw_exploration_frame

    assert belief_reach(torch.zeros(5), torch.ones(5)) == 4.0  # the prior's bars, with a margin
    assert belief_reach(torch.full((5,), 3.0), torch.ones(5)) == 5.5
    assert belief_reach(torch.zeros(5), torch.full((5,), 100.0)) == 8.0  # capped
    config = tiny_config()
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    result = meta_test(agent, tasks, config.replace(num_exp_traj_eval=2, num_steps_per_eval=4 * 20), seed=0)
    limits = []
    for k in range(4):
        axes = Figure().subplots(1, 3)
        draw_exploration_frame(axes, result, 0, np.asarray(tasks[0]["goal"]), k)
        limits.append(axes[1].get_xlim())
    assert len(set(limits)) == 1
