"""Our runs against the published reproduction at equal learning: the return after exploration
over the transitions put through the critic (gradient steps x tasks per step x transitions per
task), where ``compare_runs.py`` lines runs up by iteration and chapter 7 by environment steps.

    python benchmarks/critic_curves.py ant-fwd-back LOG results/ant-fwd-back runs/ant-fwd-back-t03-seed0
    python benchmarks/critic_curves.py walker-2d-params LOG runs/walker-1000-seed0 --bar 600 --png w.png

LOG is the published run's log for the family, from repositories not in this one
(``REPRODUCTIONS`` names each): for x35f/meta_rl, its TensorBoard file
``results/pearl/<name>/events.out.tfevents.*``, which counts environment steps only, so the
critic transitions behind each evaluation follow from its schedule (its
``pearl/configs/default.py`` merged with the family's file: a fixed collection per epoch, then a
fixed number of gradient steps of 16 task batches of 256 transitions); for the oyster run in
ZiyiLiubird/CRL, its rlkit ``progress.csv`` (``output/humanoid-dir/2021_03_08_13_46_45/``),
which counts the gradient steps itself (``Number of train steps total``, each of 16 x 256).
That run's return is oyster's: the last trajectory of each 600-step meta-test, our
``eval/reported_return`` (``--column``). Ours are read off each run's ``progress.csv``
(``grad_steps``) and ``config.json`` (``meta_batch`` x ``batch_size``).

Printed: at each mark (millions of critic transitions), the mean of each curve's evaluations
within a factor sqrt(2) of it (the windows of marks that double do not overlap), with the
environment steps each had collected by then; then, with ``--bar``, the critic transitions at
which the reproduction's curve (the mean of 5 consecutive evaluations) first reaches the bar,
and what that many would cost at each run's own seconds per transition (CPU seconds where
``progress.csv`` has them, wall clock otherwise; collection and evaluation included, so a
projection, not a measurement). The two sides' evaluations differ (the reproduction averages 5
trajectories after exploration, ours is the third), and so do their networks (3x300 against
ours) and their SAC (the reproduction learns its temperature): read the table as whether the
gap is the amount of learning, not as a like-for-like race.
"""
from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.plots import legend_below, new_figure
from pearlkit.training import read_progress
from compare_runs import evaluations, parse_run
from tfevents_summary import scalars

RETURN_TAG = "performance/eval_return"
#: The columns of an rlkit ``progress.csv`` (oyster's log) read here.
RLKIT_GRAD_STEPS, RLKIT_ENV_STEPS, RLKIT_RETURN = ("Number of train steps total", "Number of env steps total",
                                                   "AverageReturn_all_test_tasks")
DEFAULT_COLUMN = "eval/return_after_exploration"


@dataclass(frozen=True)
class Schedule:
    """One published run's training schedule (x35f/meta_rl's ``trainer.py`` counts the configured
    steps, not the collected ones, in the environment steps it logs)."""

    source: str  #: the repository
    name: str  #: the run's name there
    train_tasks: int
    initial_steps_per_task: int
    tasks_per_epoch: int  #: ``num_train_tasks_to_sample_per_epoch``
    steps_per_task: int  #: prior + posterior + extra posterior steps
    updates_per_epoch: int
    tasks_per_update: int = 16
    batch_size: int = 256

    def critic_transitions(self, env_steps: int) -> float:
        """Critic transitions behind an evaluation logged at ``env_steps``."""
        epochs = (env_steps - self.train_tasks * self.initial_steps_per_task) / (self.tasks_per_epoch * self.steps_per_task)
        return epochs * self.updates_per_epoch * self.tasks_per_update * self.batch_size


#: The published runs issue #15's bars compare with (Ant-Goal-2D has none).
REPRODUCTIONS = {
    "cheetah-vel": Schedule("x35f/meta_rl", "cheetah-vel", 100, 2000, 5, 400 + 600, 2000),
    "cheetah-fwd-back": Schedule("x35f/meta_rl", "cheetah-dir", 2, 2000, 4, 1000 + 1000, 2000),
    "ant-fwd-back": Schedule("x35f/meta_rl", "ant-dir", 2, 2000, 4, 400 + 600, 400),
    "walker-2d-params": Schedule("x35f/meta_rl", "walker-rand-params", 40, 2000, 10, 400 + 600, 4000),
    "humanoid-dir-2d": Schedule("ZiyiLiubird/CRL", "humanoid-dir", 100, 2000, 5, 400 + 600, 4000),
}
DEFAULT_MARKS = (25, 50, 100, 200, 400, 800, 1600)


@dataclass
class Curve:
    """Evaluations over critic transitions (millions), with the env steps and seconds behind each."""

    name: str
    transitions: np.ndarray
    returns: np.ndarray
    env_steps: np.ndarray
    seconds_per_million: float | None = None  #: ours only
    seconds_kind: str = ""


def reproduction_curve(log: Path, schedule: Schedule) -> Curve:
    """The published run's return over the critic transitions behind it: from an rlkit
    ``progress.csv`` (oyster) or an x35f/meta_rl TensorBoard file."""
    name = f"{schedule.source} {schedule.name}"
    if log.suffix == ".csv":
        rows = read_rows(log)
        missing = [c for c in (RLKIT_GRAD_STEPS, RLKIT_ENV_STEPS, RLKIT_RETURN) if rows and c not in rows[0]]
        if not rows or missing:
            raise SystemExit(f"{log} has no rows or lacks {missing}: is it an oyster (rlkit) progress.csv?")
        column = lambda key: np.array([float(row[key]) for row in rows])
        transitions = column(RLKIT_GRAD_STEPS) * schedule.tasks_per_update * schedule.batch_size / 1e6
        return Curve(name, transitions, column(RLKIT_RETURN), column(RLKIT_ENV_STEPS).astype(int))
    series = scalars(log)
    if RETURN_TAG not in series:
        raise SystemExit(f"{log} has no tag {RETURN_TAG!r}: is it an x35f/meta_rl PEARL run? It has {sorted(series)}")
    steps, returns = map(np.array, zip(*series[RETURN_TAG]))
    transitions = np.array([schedule.critic_transitions(int(s)) for s in steps]) / 1e6
    return Curve(name, transitions, returns, steps)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def run_curve(argument: str, column: str = DEFAULT_COLUMN) -> Curve:
    """One of our runs (``NAME=RUN_DIR`` or ``RUN_DIR``) over its critic transitions: ``column``."""
    name, run_dir = parse_run(argument)
    if not (run_dir / "config.json").is_file():
        raise SystemExit(f"{argument!r}: no config.json in {run_dir}; give a run folder, or NAME=RUN_DIR")
    config = PearlConfig.from_file(run_dir / "config.json")
    rows = read_progress(run_dir)
    per_step = config.meta_batch * config.batch_size
    values = evaluations(rows, column, run_dir)
    if not values:
        raise SystemExit(f"{run_dir}/progress.csv has no evaluation yet")
    row_of = {int(row["iteration"]): row for row in rows}
    evaluated = [row_of[iteration] for iteration in values]  # in the order of values
    seconds_kind = "CPU" if rows[-1].get("cpu_seconds") else "wall-clock"
    seconds = float(rows[-1]["cpu_seconds" if seconds_kind == "CPU" else "seconds"])
    total = int(rows[-1]["grad_steps"]) * per_step / 1e6
    return Curve(name,
                 np.array([int(r["grad_steps"]) * per_step / 1e6 for r in evaluated]),
                 np.array(list(values.values())),
                 np.array([int(r["env_steps"]) for r in evaluated]),
                 seconds / total, seconds_kind)


def near(curve: Curve, mark: float) -> tuple[float, int] | None:
    """Mean return of ``curve``'s evaluations within a factor sqrt(2) of ``mark``, and the env
    steps collected by the first of them; None where it has none there."""
    inside = (curve.transitions >= mark / math.sqrt(2)) & (curve.transitions < mark * math.sqrt(2))
    if not inside.any():
        return None
    return float(curve.returns[inside].mean()), int(curve.env_steps[inside][0])


def first_reaching(curve: Curve, bar: float, window: int = 5) -> float | None:
    """Critic transitions (millions) where the mean of ``window`` consecutive evaluations first
    reaches ``bar`` (at the window's last evaluation); None if it never does."""
    means = np.convolve(curve.returns, np.ones(window) / window, mode="valid")
    reached = np.flatnonzero(means >= bar)
    return float(curve.transitions[reached[0] + window - 1]) if reached.size else None


def table(curves: list[Curve], marks: list[float]) -> str:
    """Markdown: one row per mark, each curve's mean return there and its env steps."""
    header = ["critic transitions (M)"] + [c.name for c in curves]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mark in marks:
        cells = []
        for curve in curves:
            found = near(curve, mark)
            cells.append("—" if found is None else f"{found[0]:,.0f} ({found[1] / 1e6:.2f} M env steps)")
        if any(cell != "—" for cell in cells):
            lines.append(f"| {mark:,g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def draw(curves: list[Curve], bar: float | None, title: str, ylabel: str, path: Path) -> None:
    """The curves over critic transitions (log scale), the bar dashed."""
    fig, axes = new_figure(6.0, 3.6)
    ax = axes[0, 0]
    for curve in curves:
        ax.plot(curve.transitions, curve.returns, marker=".", markersize=3, linewidth=1, label=curve.name)
    if bar is not None:
        ax.axhline(bar, color="0.3", linestyle="--", linewidth=1, label=f"issue #15's bar ({bar:,g})")
    ax.set(xscale="log", xlabel="transitions through the critic (millions)", ylabel=ylabel, title=title)
    legend_below(fig, ax, ncol=2)
    fig.savefig(path, dpi=150, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(REPRODUCTIONS), help="the family whose reproduction to read")
    parser.add_argument("log", type=Path, help="that reproduction's log: events.out.tfevents.* or progress.csv")
    parser.add_argument("runs", nargs="+", help="our run folders; NAME=RUN_DIR names one")
    parser.add_argument("--marks", type=float, nargs="+", default=list(DEFAULT_MARKS),
                        help=f"rows of the table, in millions of critic transitions (default {DEFAULT_MARKS})")
    parser.add_argument("--bar", type=float, default=None, help="a return to project the cost of (issue #15's bar)")
    parser.add_argument("--column", default=DEFAULT_COLUMN, help=f"our runs' progress.csv column (default {DEFAULT_COLUMN})")
    parser.add_argument("--png", type=Path, default=None, help="also draw the curves into this PNG")
    args = parser.parse_args()
    if not args.log.is_file():
        parser.error(f"no log file at {args.log}")
    if any(mark <= 0 for mark in args.marks):
        parser.error(f"--marks must be positive, got {args.marks}")
    reproduction = reproduction_curve(args.log, REPRODUCTIONS[args.family])
    ours = [run_curve(argument, args.column) for argument in args.runs]
    print(table([reproduction] + ours, sorted(args.marks)))
    print()
    for curve in ours:
        print(f"{curve.name}: {curve.transitions[-1]:,.0f} M critic transitions by its last evaluation, "
              f"{curve.seconds_per_million:,.1f} {curve.seconds_kind} seconds per million")
    print(f"{reproduction.name}: {reproduction.transitions[-1]:,.0f} M by its last evaluation "
          f"({reproduction.env_steps[-1] / 1e6:.2f} M env steps, return {reproduction.returns[-1]:,.1f})")
    if args.bar is not None:
        reached = first_reaching(reproduction, args.bar)
        if reached is None:
            print(f"the reproduction's 5-evaluation mean never reaches {args.bar:,g}")
        else:
            print(f"the reproduction's 5-evaluation mean first reaches {args.bar:,g} at {reached:,.0f} M critic "
                  f"transitions; at each run's own rate that many would take:")
            for curve in ours:
                print(f"  {curve.name}: {reached * curve.seconds_per_million / 3600:,.1f} h ({curve.seconds_kind})")
    if args.png:
        ylabel = args.column.removeprefix("eval/").replace("_", " ")
        draw([reproduction] + ours, args.bar, args.family, ylabel, args.png)
        print(f"\ncurves: {args.png}")


if __name__ == "__main__":
    main()
