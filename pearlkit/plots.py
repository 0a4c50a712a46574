"""Figures of what a PEARL agent does (matplotlib, imported lazily: install the ``book`` extra)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from pearlkit.envs import Task
from pearlkit.envs.point_nav import GOAL_RADIUS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pearlkit.evaluate import MetaTestResult


def plot_navigation_meta_test(result: MetaTestResult, tasks: list[Task], num_exp_traj_eval: int,
                              task_indices: list[int] | None = None, columns: int = 4) -> Figure:
    """One panel per task: exploration trajectories (z from the prior) in blue, the first
    trajectory after exploration in red, later ones in orange; the goal disc in green.

    Args:
        result: :func:`pearlkit.evaluate.meta_test` on ``tasks`` (navigation).
        tasks: the tasks, in the order ``meta_test`` ran them.
        num_exp_traj_eval: exploration trajectories in ``result``.
        task_indices: which tasks to draw (default: the first 8).
    """
    import matplotlib.pyplot as plt

    task_indices = list(range(min(8, len(tasks)))) if task_indices is None else task_indices
    rows = -(-len(task_indices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    arc = np.linspace(0, np.pi, 100)
    for ax, i in zip(axes.flat, task_indices):
        goal = tasks[i]["goal"]
        ax.add_patch(plt.Circle(goal, GOAL_RADIUS, color="tab:green", alpha=0.3))
        ax.plot(np.cos(arc), np.sin(arc), ":", color="gray", lw=0.8)
        for k, trajectory in enumerate(result.trajectories):
            path = torch.cat([trajectory.obs[i, :1], trajectory.next_obs[i]]).numpy()
            style = ("tab:blue", 1.0, 0.7) if k < num_exp_traj_eval else \
                ("tab:red", 2.0, 1.0) if k == num_exp_traj_eval else ("tab:orange", 1.0, 0.5)
            ax.plot(path[:, 0], path[:, 1], color=style[0], lw=style[1], alpha=style[2])
        found = bool(result.successes[i, :num_exp_traj_eval].any())
        ax.set_title(f"found: {'yes' if found else 'no'}, return after: "
                     f"{result.returns[i, num_exp_traj_eval]:.1f}", fontsize=9)
        ax.set(xlim=(-1.4, 1.4), ylim=(-0.4, 1.4), aspect="equal", xticks=[], yticks=[])
    for ax in axes.flat[len(task_indices):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
