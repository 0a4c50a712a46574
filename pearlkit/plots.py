"""Figures of what a PEARL agent does (matplotlib, imported lazily: install the ``book`` extra).

Drawing functions take the axes to draw on, so the same code draws a static figure, a frame
of a JavaScript animation (:func:`animation_html`) and the image of a live widget
(:mod:`pearlkit.widgets`). Figures are built with ``matplotlib.figure.Figure`` rather than
``pyplot``, so nothing is shown unless the caller displays it.
"""
from __future__ import annotations

import re

from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from pearlkit.envs import Task
from pearlkit.envs.point_nav import GOAL_RADIUS, dense_reward, sparse_reward

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pearlkit.evaluate import MetaTestResult

EXPLORE, EXPLOIT, LATER = "tab:blue", "tab:red", "tab:orange"


def new_figure(width: float, height: float, columns: int = 1, rows: int = 1) -> tuple[Figure, np.ndarray]:
    """A figure (not registered with pyplot) and its grid of axes, ``(rows, columns)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, np.array(fig.subplots(rows, columns, squeeze=False))


def legend_below(fig: Figure, ax: Axes, ncol: int, fontsize: float = 9) -> None:
    """One legend for the whole figure, under its panels, from ``ax``'s labelled artists: in a
    panel of a page-wide figure a legend is unreadable or covers the data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=fontsize, frameon=False)


def draw_plane(ax: Axes, goals: Sequence[np.ndarray] = (), goal_color: str = "tab:green") -> None:
    """The navigation plane: the half circle of goals (dotted), goal discs, the start."""
    arc = np.linspace(0, np.pi, 100)
    ax.plot(np.cos(arc), np.sin(arc), ":", color="gray", lw=0.8)
    for goal in goals:
        ax.add_patch(_disc(goal, goal_color))
    ax.plot([0], [0], "k+", ms=6)
    ax.set(xlim=(-1.35, 1.35), ylim=(-0.35, 1.35), aspect="equal", xticks=[-1, 0, 1], yticks=[0, 1])
    ax.tick_params(labelsize=8)


def fit_plane(ax: Axes, paths: np.ndarray | Tensor, margin: float = 0.05) -> None:
    """Widen a :func:`draw_plane` axes so that every point of ``paths`` (``(..., 2)``) shows."""
    points = np.asarray(paths).reshape(-1, 2)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    low, high = points.min(0) - margin, points.max(0) + margin
    ax.set(xlim=(min(x0, low[0]), max(x1, high[0])), ylim=(min(y0, low[1]), max(y1, high[1])))


def _disc(center: np.ndarray, color: str):
    from matplotlib.patches import Circle

    return Circle(tuple(center), GOAL_RADIUS, color=color, alpha=0.3, lw=0)


def trajectory_path(result: MetaTestResult, k: int, task_index: int) -> np.ndarray:
    """Positions of trajectory ``k`` of one task, start included, ``(steps + 1, 2)``."""
    trajectory, valid = result.trajectories[k], result.valid[task_index, k]
    return torch.cat([trajectory.obs[task_index, :1], trajectory.next_obs[task_index][valid]]).numpy()


def plot_tasks(train_tasks: list[Task], test_tasks: list[Task]) -> Figure:
    """The goals of sparse navigation: training goals and held-out goals, with one goal disc."""
    fig, axes = new_figure(6, 3.4)
    ax = axes[0, 0]
    draw_plane(ax, [test_tasks[0]["goal"]])
    for tasks, color, label in ((train_tasks, "tab:gray", "training goals"),
                                (test_tasks, "tab:purple", "held-out goals")):
        goals = np.array([t["goal"] for t in tasks])
        ax.scatter(goals[:, 0], goals[:, 1], s=10, color=color, label=f"{len(tasks)} {label}", zorder=3)
    ax.legend(loc="lower center", fontsize=8, ncol=2, frameon=False)
    return fig


def plot_reward_maps(goal: np.ndarray) -> Figure:
    """The dense reward and the sparse reward of one goal over the plane, side by side."""
    xs, ys = np.meshgrid(np.linspace(-1.35, 1.35, 271), np.linspace(-0.35, 1.35, 171))
    grid = np.stack([xs, ys], axis=-1)
    fig, axes = new_figure(7.4, 2.4, columns=2)  # about the page's width: text stays at its size
    for ax, reward, title in ((axes[0, 0], dense_reward(grid, goal), "dense reward  -||s' - g||"),
                              (axes[0, 1], sparse_reward(grid, goal), "sparse reward  (0 outside the disc)")):
        image = ax.pcolormesh(xs, ys, reward, cmap="viridis", shading="auto")
        draw_plane(ax)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_paths(ax: Axes, paths: np.ndarray | Tensor, color: str = EXPLORE, alpha: float = 0.6,
               lw: float = 1.0, ends: bool = True) -> None:
    """Paths in the plane, ``(num_paths, steps, 2)``, each ending in a dot."""
    paths = np.asarray(paths)
    for path in paths:
        ax.plot(path[:, 0], path[:, 1], color=color, alpha=alpha, lw=lw)
    if ends:
        ax.scatter(paths[:, -1, 0], paths[:, -1, 1], s=8, color=color, alpha=min(1.0, alpha + 0.3), zorder=3)


def belief_reach(z_mean: Tensor, z_var: Tensor) -> float:
    """Half-width of a belief axis that shows every bar (mean ± 2 standard deviations) of these
    beliefs, any shape ``(..., latent_dim)``: at least 4 (the prior's bars with a margin), at
    most 8, so that one very wide belief on a path does not squash the others to dots."""
    mean, std = np.asarray(z_mean, dtype=float), np.sqrt(np.asarray(z_var, dtype=float))
    return float(np.clip(np.max(np.abs(mean) + 2 * std) + 0.5, 4.0, 8.0))


def draw_belief(ax: Axes, z_mean: Tensor, z_var: Tensor, title: str = "belief q(z|c)",
                reach: float | None = None) -> None:
    """One Gaussian belief, a bar per latent dimension: the mean and ±2 standard deviations.

    The grey band is the prior's ±2. A belief that has learned something has moved its means
    or narrowed its bars; the deterministic variant has no width at all.

    Args:
        reach: the axis's half-width (default: :func:`belief_reach` of this belief); the
            frames of one animation share one, so that the axis holds still.
    """
    mean, std = np.asarray(z_mean, dtype=float), np.sqrt(np.asarray(z_var, dtype=float))
    dims = np.arange(len(mean))
    ax.axvspan(-2, 2, color="0.9", lw=0)
    ax.errorbar(mean, dims, xerr=2 * std, fmt="o", color="tab:purple", capsize=3, ms=4)
    reach = belief_reach(z_mean, z_var) if reach is None else reach
    ax.set(yticks=dims, yticklabels=[f"z{d + 1}" for d in dims], xlim=(-reach, reach),
           ylim=(len(mean) - 0.5, -0.5), title=title)
    ax.axvline(0, color="0.6", lw=0.5)


class BeliefFrame(NamedTuple):
    """What one frame of the belief figure shows (see :func:`draw_belief_frame`)."""

    goal: np.ndarray  #: ``(2,)``
    positions: np.ndarray  #: ``(n, 2)`` where each context transition ended (s')
    rewards: np.ndarray  #: ``(n,)`` its sparse reward
    z_mean: Tensor  #: ``(latent_dim,)`` the belief after those n transitions
    z_var: Tensor
    paths: np.ndarray  #: ``(num_samples, steps, 2)`` paths of z sampled from that belief
    reach: float  #: the belief axis's half-width, shared by every frame of one context


def draw_belief_frame(axes: Sequence[Axes], frame: BeliefFrame) -> None:
    """Left: the context so far (grey: no reward, gold: reward) and where z sampled from the
    belief would take the agent (blue paths). Right: the belief itself."""
    plane, latent = axes
    plane.clear()
    latent.clear()
    draw_plane(plane, [frame.goal])
    plot_paths(plane, frame.paths, alpha=0.35)
    rewarded = frame.rewards > 0
    plane.scatter(*frame.positions[~rewarded].T, s=6, color="0.45", zorder=4)
    plane.scatter(*frame.positions[rewarded].T, s=18, color="gold", edgecolor="k", lw=0.4, zorder=5)
    plane.set_title(f"{len(frame.rewards)} context transitions, {int(rewarded.sum())} with reward", fontsize=10)
    draw_belief(latent, frame.z_mean, frame.z_var, reach=frame.reach)


def draw_exploration_frame(axes: Sequence[Axes], result: MetaTestResult, task_index: int, goal: np.ndarray,
                           k: int) -> None:
    """Meta-test in one task after trajectory ``k``: the trajectories so far (the latest bold),
    the belief the latest one's z was drawn from, and the return of each trajectory so far."""
    plane, latent, bars = axes
    num_exp_traj_eval = result.num_exp_traj_eval
    for ax in axes:
        ax.clear()
    draw_plane(plane, [goal])
    for j in range(k + 1):
        path = trajectory_path(result, j, task_index)
        color = EXPLORE if j < num_exp_traj_eval else EXPLOIT
        plane.plot(path[:, 0], path[:, 1], color=color, lw=2.2 if j == k else 0.8, alpha=1.0 if j == k else 0.35)
        hits = result.trajectories[j].reward[task_index] > 0
        plane.scatter(*result.trajectories[j].next_obs[task_index][hits].numpy().T, s=14, color="gold",
                      edgecolor="k", lw=0.3, zorder=5)
    phase = "exploring (z: prior)" if k < num_exp_traj_eval else "z from the belief"
    plane.set_title(f"trajectory {k + 1}: {phase}", fontsize=10)
    draw_belief(latent, result.z_means[task_index, k], result.z_vars[task_index, k],
                title=f"belief z{k + 1} was drawn from",
                reach=belief_reach(result.z_means[task_index], result.z_vars[task_index]))  # one axis for all k
    returns = result.returns[task_index].numpy()
    colors = [EXPLORE if j < num_exp_traj_eval else EXPLOIT for j in range(len(returns))]
    bars.bar(np.arange(1, k + 2), returns[: k + 1], color=colors[: k + 1])
    for j in range(k + 1):
        bars.text(j + 1, returns[j] + 0.2, f"{returns[j]:.1f}", ha="center", fontsize=8)
    bars.set(xlim=(0.4, len(returns) + 0.6), ylim=(0, max(14.0, float(returns.max()) * 1.15)),  # room for labels
             xlabel="trajectory", ylabel="sparse return", title="return per trajectory")


def animation_html(fig: Figure, draw: Callable[[int], None], num_frames: int, interval_ms: int = 700) -> str:
    """A scrubbable JavaScript animation (``to_jshtml``): frame ``i`` is drawn by ``draw(i)``.

    It needs no kernel, so it plays on the static site.
    """
    import matplotlib as mpl
    from matplotlib.animation import FuncAnimation

    with mpl.rc_context({"animation.embed_limit": 60.0}):  # MB; the default 20 MB is tight for ~40 frames
        animation = FuncAnimation(fig, lambda i: draw(i), frames=num_frames, interval=interval_ms)
        return without_icon_font(animation.to_jshtml(default_mode="once"))


#: The player buttons' Font Awesome icons (matplotlib's ``to_jshtml``), as characters that common
#: fonts have (the media-control symbols U+23EE-23F8 show as empty boxes in many).
PLAYER_ICONS = {"fa fa-minus": "\u2212", "fa fa-fast-backward": "|\u25c1", "fa fa-step-backward": "\u25c1",
                "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "||", "fa fa-play": "\u25b6",
                "fa fa-step-forward": "\u25b7", "fa fa-fast-forward": "\u25b7|", "fa fa-plus": "+"}


def without_icon_font(html: str) -> str:
    """``to_jshtml``'s player without its Font Awesome stylesheet, which it loads from a CDN:
    the buttons show plain characters instead, so the page needs no network (and each button
    keeps its ``title`` tooltip)."""
    html = re.sub(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">', "", html)
    return re.sub(r'<i class="(fa [^"]+)"></i>', lambda m: PLAYER_ICONS[m.group(1)], html)


def plot_learning_curves(progress: dict[str, list[dict]], columns: Sequence[tuple[str, str]],
                         x: str = "env_steps", seeds: dict[str, list[list[dict]]] | None = None) -> Figure:
    """One panel per ``(column, label)``, one line per run: ``progress`` maps a run's name to
    its ``progress.csv`` rows (dicts). Rows without a value in a column are skipped.

    ``seeds`` maps a name to the rows of several runs of one config (training seeds): drawn as
    their mean, with the range from the lowest to the highest seed shaded, at the ``x`` values
    all of them evaluated.
    """
    from matplotlib.ticker import EngFormatter

    fig, axes = new_figure(min(2.6 * len(columns), 7.8), 2.8, columns=len(columns))  # about the page's width
    for ax, (column, label) in zip(axes.flat, columns):
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 600k, not 600000
        for name, runs in (seeds or {}).items():
            by_run = [{float(r[x]): float(r[column]) for r in rows if r.get(column) not in (None, "")} for rows in runs]
            xs = sorted(set.intersection(*(set(points) for points in by_run)))
            values = np.array([[points[v] for v in xs] for points in by_run])
            line, = ax.plot(xs, values.mean(0), lw=1.0, label=f"{name}: mean")
            ax.fill_between(xs, values.min(0), values.max(0), color=line.get_color(), alpha=0.2, lw=0,
                            label=f"{name}: lowest to highest")
        for name, rows in progress.items():
            points = [(float(r[x]), float(r[column])) for r in rows if r.get(column) not in (None, "")]
            if points:
                ax.plot(*zip(*points), label=name)
        ax.set(xlabel=x.replace("_", " "), title=label)
    legend_below(fig, axes.flat[0], ncol=min(len(axes.flat[0].get_legend_handles_labels()[1]), 4), fontsize=10)
    return fig


def plot_exploration_ceiling(ideal: dict[str, dict[int, dict]], agent: dict[str, dict] | None = None,
                             target: float | None = None) -> Figure:
    """Found during exploration and success after it, against the number of exploration
    trajectories: one line per protocol of :func:`pearlkit.ideal_explorer.ideal_meta_test`.

    Args:
        ideal: protocol name -> {number of exploration trajectories -> its summary}.
        agent: optional label -> ``{"k": trajectories, "found": ..., "success": ...}``, a
            trained agent's measured point, drawn as a marker.
        target: optional success level drawn as a dashed line.
    """
    fig, axes = new_figure(7.4, 3.0, columns=2)
    # (key in an ideal summary, key in an agent's point, title)
    panels = (("found", "found", "goal found while exploring"),
              ("success_sampled", "success", "success after exploration"))
    for ax, (key, agent_key, title) in zip(axes.flat, panels):
        for name, curve in ideal.items():
            ks = sorted(curve)
            ax.plot(ks, [curve[k][key] for k in ks], "o-", label=f"ideal agent, {name}")
        for i, ((label, point), marker) in enumerate(zip((agent or {}).items(), "s^Dv")):
            shift = 0.15 * (i - (len(agent) - 1) / 2)  # side by side, so that equal values stay visible
            ax.plot(point["k"] + shift, point[agent_key], marker, color="black", ms=8, label=label)
        if target is not None and agent_key == "success":
            ax.axhline(target, color="gray", ls="--", label=f"success {target:g}")
        ax.set(xlabel="exploration trajectories", ylim=(0, 1.02), title=title)
    legend_below(fig, axes.flat[1], ncol=2)  # inside a panel it would cover the agents' markers
    return fig


def plot_success_curves(curves: dict[str, Sequence[float]], num_exploration: int,
                        spread: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
                        colors: dict[str, str] | None = None) -> Figure:
    """Success rate per trajectory of a navigation meta-test, one line per agent and protocol.

    Args:
        curves: label -> success rate of trajectory 1, 2, ... (a label starting with "ideal"
            is drawn dashed: the simulated agent of :mod:`pearlkit.ideal_explorer`).
        num_exploration: exploration trajectories (shaded; z from the prior in the reference
            protocol, from the belief in Algorithm 2).
        spread: label of ``curves`` -> (lowest, highest) per trajectory, shaded in the line's
            colour (e.g. over training seeds).
        colors: label -> colour, so that a series keeps its colour from one figure to the next
            (default: matplotlib's cycle).
    """
    fig, axes = new_figure(7.0, 3.2)
    ax = axes[0, 0]
    ax.axvspan(0.5, num_exploration + 0.5, color="0.92", label="exploration trajectories")
    for label, curve in curves.items():
        trajectories = np.arange(1, len(curve) + 1)
        line, = ax.plot(trajectories, curve, "--" if label.startswith("ideal") else "o-", ms=3, label=label,
                        color=(colors or {}).get(label))
        if spread and label in spread:
            ax.fill_between(trajectories, *spread[label], color=line.get_color(), alpha=0.2, lw=0)
    ax.set(xlabel="trajectory", ylabel="success rate (entered the goal disc)", ylim=(0, 1.02),
           xticks=np.arange(1, max(len(c) for c in curves.values()) + 1, 2))
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_factor_precisions(by_agent: dict[str, dict[str, Tensor]]) -> Figure:
    """How much each context transition narrows the belief: the distribution of its factor's
    precision (log scale), one panel for zero-reward and one for rewarded transitions, one
    line per agent; the dotted line is the prior's precision, 1.

    Args:
        by_agent: label -> :func:`pearlkit.belief.factor_precisions` of that agent's meta-test.
    """
    fig, axes = new_figure(7.0, 2.8, columns=2)
    bins = np.linspace(-4, 5, 46)  # log10 precision: 1e-4 (says nothing) to 1e5 (pins z)
    for ax, kind in zip(axes[0], ("zero reward", "rewarded")):
        for label, precisions in by_agent.items():
            values = np.log10(precisions[kind].clamp(min=10 ** bins[0]).numpy())
            share = np.histogram(values, bins)[0] / max(len(values), 1)
            ax.stairs(share, bins, label=label, lw=1.5)
        ax.axvline(0, color="gray", ls=":", lw=1)
        ax.set(title=f"{kind} transitions", xlabel="log10 of the factor's precision", ylabel="share of factors")
    legend_below(fig, axes[0, 0], ncol=len(by_agent))
    return fig


def plot_navigation_meta_test(result: MetaTestResult, tasks: list[Task], task_indices: list[int] | None = None,
                               columns: int = 4) -> Figure:
    """One panel per task: exploration trajectories (z from the prior) in blue, the first
    trajectory after exploration in red, later ones in orange; the goal disc in green.

    Args:
        result: :func:`pearlkit.evaluate.meta_test` on ``tasks`` (navigation).
        tasks: the tasks, in the order ``meta_test`` ran them.
        task_indices: which tasks to draw (default: the first 8).
    """
    num_exp_traj_eval = result.num_exp_traj_eval
    task_indices = list(range(min(8, len(tasks)))) if task_indices is None else task_indices
    rows = -(-len(task_indices) // columns)
    fig, axes = new_figure(3.2 * columns, 2.4 * rows, columns=columns, rows=rows)
    for ax, i in zip(axes.flat, task_indices):
        draw_plane(ax, [tasks[i]["goal"]])
        for k in range(len(result.trajectories)):
            path = trajectory_path(result, k, i)
            style = (EXPLORE, 1.0, 0.7) if k < num_exp_traj_eval else \
                (EXPLOIT, 2.0, 1.0) if k == num_exp_traj_eval else (LATER, 1.0, 0.5)
            ax.plot(path[:, 0], path[:, 1], color=style[0], lw=style[1], alpha=style[2])
        found = bool(result.successes[i, :num_exp_traj_eval].any())
        ax.set_title(f"found: {'yes' if found else 'no'}, return after: "
                     f"{result.returns[i, num_exp_traj_eval]:.1f}", fontsize=9)
    for ax in axes.flat[len(task_indices):]:
        ax.axis("off")
    return fig


def plot_pearl_overview() -> Figure:
    """PEARL in one picture: context -> per-transition factors -> product -> belief -> z, which
    conditions the actor and the critic; the critic's Bellman error and the KL train the encoder."""
    from matplotlib.patches import FancyBboxPatch

    fig, axes = new_figure(10, 4.4)
    ax = axes[0, 0]
    ax.set(xlim=(-0.1, 9.8), ylim=(0, 4.4))
    ax.axis("off")
    width, height, size = 2.0, 1.0, 11.5  # every box; text large enough to read at page width
    boxes = (  # x, y, text, colour
        (0.0, 1.5, "context c\n(s, a, r) x N", "0.92"),
        (2.4, 1.5, "encoder: one\nGaussian factor\nper transition", "#dbe9f6"),
        (4.8, 1.5, "their product:\nthe belief q(z|c)", "#dbe9f6"),
        (2.4, 0.05, "prior N(0, I)", "0.92"),
        (7.75, 2.55, "actor pi(a|s, z):\none z per episode", "#fde3c8"),
        (7.75, 0.45, "critic Q(s, a, z)", "#f8d5d5"),
    )
    for x, y, text, color in boxes:
        ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.05", fc=color, ec="0.4"))
        ax.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=size)
    arrow = lambda start, end, color="0.2", rad=0.0: ax.annotate(
        "", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=color, lw=1.8, mutation_scale=16,
                                                  connectionstyle=f"arc3,rad={rad}"))
    arrow((2.05, 2.0), (2.35, 2.0))
    arrow((4.45, 2.0), (4.75, 2.0))
    arrow((6.85, 2.25), (7.7, 2.95))
    arrow((6.85, 1.75), (7.7, 1.05))
    ax.text(7.15, 2.75, "z", fontsize=size)
    ax.text(7.15, 1.05, "z", fontsize=size)
    arrow((7.7, 0.75), (4.4, 1.45), color="tab:red")
    ax.text(6.05, 0.45, "Bellman error\ntrains the encoder", fontsize=size - 0.5, color="tab:red", ha="center")
    arrow((3.4, 1.1), (3.4, 1.45), color="tab:red")
    ax.text(3.5, 1.18, "KL", fontsize=size - 0.5, color="tab:red")
    arrow((8.75, 3.6), (1.0, 2.55), color="tab:blue", rad=0.12)
    # the label sits above the arc, clear of it
    ax.text(4.9, 4.15, "acting adds transitions to the context, and the belief narrows",
            fontsize=size - 0.5, color="tab:blue", ha="center")
    return fig
