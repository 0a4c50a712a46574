"""Where a training run stands, read from its folder: ``python -m pearlkit status RUN_DIR ...``.

A long run lives in its folder for hours or days (``config.json``, ``progress.csv``,
``versions.json``, the checkpoint). This reads that folder, nothing else, and says how far the
run is, in what number format it trains, what its last evaluations scored, how fast it has been
going, and how much is left before ``num_iterations`` or ``env_step_budget`` ends it, with the
command that resumes it.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from pearlkit.checkpoint import CHECKPOINT_NAME, read_versions, recorded_precision
from pearlkit.config import PearlConfig
from pearlkit.training import read_progress, runs_on

#: Iterations whose pace (environment steps, seconds) projects what is left.
RECENT = 5
#: Evaluations listed, the newest last.
LAST_EVALUATIONS = 3
RETURN = "eval/return_after_exploration"


def _recent_pace(rows: list[dict], column: str) -> float | None:
    """The median increase of ``column`` over the last :data:`RECENT` iterations (None where the
    run did not record it, or has fewer than two rows)."""
    values = [float(row[column]) for row in rows[-(RECENT + 1):] if row.get(column)]
    if len(values) < 2:
        return None
    return statistics.median(b - a for a, b in zip(values, values[1:]))


def run_status(run_dir: str | Path, now: float | None = None) -> dict:
    """The state of the run in ``run_dir``: its progress, evaluations, pace and what is left.

    Iterations left are projected at the recent pace of environment steps, with the rule the
    training loop itself applies (:func:`pearlkit.training.runs_on`): another iteration runs if
    it is within ``num_iterations`` and could not collect past ``env_step_budget``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise ValueError(f"{run_dir} is not a run folder (no config.json)")
    rows = read_progress(run_dir) if (run_dir / "progress.csv").exists() else []
    if not rows:
        raise ValueError(f"{run_dir} has no finished iteration yet (no rows in progress.csv)")
    config = PearlConfig.from_file(run_dir / "config.json")
    last = rows[-1]
    iteration, env_steps = int(last["iteration"]), int(last["env_steps"])
    evaluated = [(int(row["iteration"]), float(row[RETURN])) for row in rows if row.get(RETURN)]
    steps_per_iteration = _recent_pace(rows, "env_steps")
    cpu_per_iteration = _recent_pace(rows, "cpu_seconds")
    wall_per_iteration = _recent_pace(rows, "seconds")
    left = 0
    if steps_per_iteration is not None:
        while runs_on(config, iteration + left, round(env_steps + left * steps_per_iteration)):
            left += 1
    seconds_per_iteration = cpu_per_iteration if cpu_per_iteration is not None else wall_per_iteration
    written = (run_dir / "progress.csv").stat().st_mtime
    return {
        "run_dir": str(run_dir), "env_id": config.env_id, "iteration": iteration,
        "num_iterations": config.num_iterations, "env_steps": env_steps, "env_step_budget": config.env_step_budget,
        "finished": not runs_on(config, iteration, env_steps),
        "finished_by": "num_iterations" if iteration >= config.num_iterations else "env_step_budget",
        "last_evaluations": evaluated[-LAST_EVALUATIONS:],
        "best_evaluation": max(evaluated, key=lambda e: e[1]) if evaluated else None,
        "wall_seconds": float(last["seconds"]),
        # the number format it trains in now; where versions.json did not record what "auto" picked, "auto"
        "precision": recorded_precision(read_versions(run_dir)) or config.precision,
        "cpu_seconds": float(last["cpu_seconds"]) if last.get("cpu_seconds") else None,
        "env_steps_per_iteration": steps_per_iteration,
        "seconds_per_iteration": seconds_per_iteration,
        "seconds_are_cpu": cpu_per_iteration is not None,
        "iterations_left": left,
        "hours_left": None if seconds_per_iteration is None else left * seconds_per_iteration / 3600,
        "minutes_since_last_iteration": ((now or time.time()) - written) / 60,
        # A shipped copy (results/) keeps the agent but not the checkpoint and buffers a resume needs.
        "resume": f"python -m pearlkit train --resume {run_dir}" if (run_dir / CHECKPOINT_NAME).exists() else None,
    }


def format_status(status: dict) -> str:
    """The lines ``python -m pearlkit status`` prints for one run."""
    budget = status["env_step_budget"]
    lines = [f"{status['run_dir']} ({status['env_id']}, {status['precision']})",
             f"  iteration {status['iteration']} of {status['num_iterations']}, {status['env_steps']:,} env steps"
             + (f" of a budget of {budget:,} ({status['env_steps'] / budget:.0%})" if budget else "")
             + (f"; finished: its {status['finished_by']} ended it" if status["finished"] else "")]
    if status["last_evaluations"]:
        recent = ", ".join(f"{value:,.1f} ({it})" for it, value in status["last_evaluations"])
        best_it, best = status["best_evaluation"]
        lines.append(f"  return after exploration (iteration): {recent}; best {best:,.1f} ({best_it})")
    cpu = "" if status["cpu_seconds"] is None else f", {status['cpu_seconds'] / 3600:.1f} h CPU"
    lines.append(f"  trained {status['wall_seconds'] / 3600:.1f} h wall clock{cpu}; last iteration written "
                 f"{status['minutes_since_last_iteration']:.0f} min ago")
    if not status["finished"] and status["seconds_per_iteration"] is not None:
        kind = "CPU" if status["seconds_are_cpu"] else "wall clock"
        lines.append(f"  left: about {status['iterations_left']} iterations at "
                     f"{status['env_steps_per_iteration']:,.0f} env steps and {status['seconds_per_iteration']:.0f} s "
                     f"of {kind} each, about {status['hours_left']:.1f} h")
        lines.append(f"  resume: {status['resume']}" if status["resume"] else
                     f"  no {CHECKPOINT_NAME} here (a shipped copy?): resume the run folder it was copied from, or go "
                     f"on from the weights alone: python -m pearlkit train --resume {status['run_dir']} --from-weights")
    return "\n".join(lines)
