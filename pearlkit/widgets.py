"""The book's interactive pieces: live ipywidgets for a kernel, and their static twins.

Each view comes twice. In Jupyter or Colab, a widget (explicit controls with ``observe``)
redraws a matplotlib figure into an ``Image`` when you move a control; the built book keeps
its last state. On the static site, a JavaScript animation over precomputed frames
(:func:`pearlkit.plots.animation_html`) lets the reader scrub the same frames without a kernel.

* the **belief view**: add context transitions one at a time and watch q(z|c) narrow, and
  where trajectories sampled from it go;
* the **exploration view**: meta-test episode by episode on a held-out goal.
"""
from __future__ import annotations

import inspect
import io
from typing import TYPE_CHECKING

import numpy as np

from pearlkit.belief import BeliefPath, beliefs_along, imagined_paths, task_context
from pearlkit.buffers import Transitions
from pearlkit.envs import Task
from pearlkit.plots import (
    BeliefFrame,
    animation_html,
    belief_reach,
    draw_belief_frame,
    draw_exploration_frame,
    new_figure,
)

if TYPE_CHECKING:
    from IPython.display import Markdown
    from matplotlib.figure import Figure

    from pearlkit.config import PearlConfig
    from pearlkit.evaluate import MetaTestResult
    from pearlkit.pearl import PearlAgent

BELIEF_SIZE, EXPLORATION_SIZE = (7.4, 3.0), (8.0, 2.9)  # inches: near the page's width, so text stays legible


def show_source(obj: object) -> Markdown:
    """The real source of a pearlkit function or class, as a highlighted block (the book shows
    code from the package, never a copy)."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj)}```")


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (for an ``ipywidgets.Image``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def belief_frame(agent: PearlAgent, config: PearlConfig, task: Task, context: Transitions, beliefs: BeliefPath,
                 n: int, num_samples: int = 24) -> BeliefFrame:
    """The belief after the first ``n`` transitions of ``context``, and paths sampled from it."""
    paths = imagined_paths(agent, task, beliefs.z_mean[n], beliefs.z_var[n], num_samples, config.env_id,
                           config.max_path_length)
    reach = belief_reach(beliefs.z_mean, beliefs.z_var)  # the whole path's: the axis holds still
    return BeliefFrame(np.asarray(task["goal"]), context.next_obs[:n].numpy(), context.reward[:n].numpy(),
                       beliefs.z_mean[n], beliefs.z_var[n], paths.numpy(), reach)


def belief_animation(agent: PearlAgent, config: PearlConfig, result: MetaTestResult, tasks: list[Task],
                     task_index: int, num_trajs: int, every: int = 10) -> str:
    """Static twin of :class:`BeliefView`: frames every ``every`` transitions of the context a
    meta-test run gathered in one task (its first ``num_trajs`` trajectories)."""
    context = task_context(result, task_index, num_trajs)
    beliefs = beliefs_along(agent, context, config.use_next_obs_in_context)
    counts = list(range(0, len(context.reward) + 1, every))
    fig, axes = new_figure(*BELIEF_SIZE, columns=2)
    frames = [belief_frame(agent, config, tasks[task_index], context, beliefs, n) for n in counts]
    return animation_html(fig, lambda i: draw_belief_frame(axes[0], frames[i]), len(frames))


def exploration_animation(result: MetaTestResult, tasks: list[Task], task_index: int) -> str:
    """Static twin of :class:`ExplorationView`: one frame per trajectory of one task."""
    fig, axes = new_figure(*EXPLORATION_SIZE, columns=3)
    goal = np.asarray(tasks[task_index]["goal"])
    draw = lambda k: draw_exploration_frame(axes[0], result, task_index, goal, k)
    return animation_html(fig, draw, len(result.trajectories), interval_ms=1200)


class BeliefView:
    """Live belief view: pick a held-out goal, add its context transitions one at a time.

    The context is what a meta-test run gathered in that task, in time order (``result``,
    first ``num_trajs`` trajectories). Display it with ``display(view.widget)``.
    """

    def __init__(self, agent: PearlAgent, config: PearlConfig, result: MetaTestResult, tasks: list[Task],
                 task_indices: list[int], num_trajs: int, describe=str) -> None:
        import ipywidgets as w

        self.agent, self.config, self.result, self.tasks, self.num_trajs = agent, config, result, tasks, num_trajs
        self._cache: dict[int, tuple[Transitions, BeliefPath]] = {}
        self.fig, axes = new_figure(*BELIEF_SIZE, columns=2)
        self.axes = axes[0]
        self.task = goal_dropdown(w, tasks, task_indices, describe)
        # A slider in a full row shrinks to nothing; this one keeps room for its track.
        self.count = w.IntSlider(value=0, min=0, max=1, description="transitions", continuous_update=False,
                                 layout=w.Layout(min_width="320px"))
        add, reset = w.Button(description="add one"), w.Button(description="reset")
        add.on_click(lambda _: setattr(self.count, "value", min(self.count.value + 1, self.count.max)))
        reset.on_click(lambda _: setattr(self.count, "value", 0))
        self.image = w.Image(format="png")
        self.task.observe(lambda _: self._switch_task(), names="value")
        self.count.observe(lambda _: self.redraw(), names="value")
        self.widget = w.VBox([controls_row(w, [self.task, self.count, add, reset]), self.image])
        self._switch_task()

    def _data(self) -> tuple[Transitions, BeliefPath]:
        i = self.task.value
        if i not in self._cache:
            context = task_context(self.result, i, self.num_trajs)
            self._cache[i] = context, beliefs_along(self.agent, context, self.config.use_next_obs_in_context)
        return self._cache[i]

    def _switch_task(self) -> None:
        context, _ = self._data()
        self.count.max = len(context.reward)
        self.count.value = 0
        self.redraw()

    def redraw(self) -> None:
        context, beliefs = self._data()
        frame = belief_frame(self.agent, self.config, self.tasks[self.task.value], context, beliefs, self.count.value)
        draw_belief_frame(self.axes, frame)
        self.image.value = figure_png(self.fig)


def controls_row(w, controls: list):
    """A row of controls that wraps onto a second line where the page is too narrow for it."""
    return w.HBox(controls, layout=w.Layout(flex_flow="row wrap"))


def goal_dropdown(w, tasks: list[Task], task_indices: list[int], describe=str):
    """A "goal" dropdown over ``tasks[i]`` for ``i`` in ``task_indices``, as wide as its longest
    option (the default width clips a label such as "goal (+0.75, +0.67), 42 deg")."""
    return w.Dropdown(options=[(describe(tasks[i]), i) for i in task_indices], description="goal",
                      layout=w.Layout(width="max-content"))


class ExplorationView:
    """Live exploration view: meta-test on a held-out goal, trajectory by trajectory.

    Display it with ``display(view.widget)``.
    """

    def __init__(self, result: MetaTestResult, tasks: list[Task], task_indices: list[int], describe=str) -> None:
        import ipywidgets as w

        self.result, self.tasks = result, tasks
        self.fig, axes = new_figure(*EXPLORATION_SIZE, columns=3)
        self.axes = axes[0]
        self.task = goal_dropdown(w, tasks, task_indices, describe)
        self.episode = w.IntSlider(value=1, min=1, max=len(result.trajectories), description="trajectory",
                                   continuous_update=False, layout=w.Layout(min_width="320px"))
        self.image = w.Image(format="png")
        for control in (self.task, self.episode):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = w.VBox([controls_row(w, [self.task, self.episode]), self.image])
        self.redraw()

    def redraw(self) -> None:
        i = self.task.value
        draw_exploration_frame(self.axes, self.result, i, np.asarray(self.tasks[i]["goal"]), self.episode.value - 1)
        self.image.value = figure_png(self.fig)
