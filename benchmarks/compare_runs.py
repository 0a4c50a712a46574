"""Runs side by side: how an A/B comparison of ``benchmarks/RESULTS.md`` is read off the runs.

    python benchmarks/compare_runs.py runs/walker-1000-seed0 runs/walker-1000-t03-seed0 --to 50
    python benchmarks/compare_runs.py "temperature 1=runs/a" "temperature 0.3=runs/b" --png ab.png

The first run is the baseline. Printed: the config fields in which each other run differs from
it (from ``config.json``, and any ``--set`` of a resume, from ``versions.json``); one row per
iteration that every run evaluated (within ``--from`` and ``--to``, each ``--every``-th
evaluation), with each run's value of ``--column`` (default: the return after exploration on
the held-out tasks) and its difference from the baseline; then, per run, the mean over those
iterations and its lead over the baseline (mean, lowest, highest, and at how many iterations it
was ahead). Each run's own seed and machine are whatever its folder records: the script does not
check that they match. ``--png`` also draws the curves (one line per run, over iterations).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.plots import plot_learning_curves
from pearlkit.training import read_progress

DEFAULT_COLUMN = "eval/return_after_exploration"


def parse_run(argument: str) -> tuple[str, Path]:
    """``NAME=RUN_DIR`` or ``RUN_DIR`` (named by its folder) as (name, folder)."""
    name, _, folder = argument.rpartition("=")
    path = Path(folder)
    if not (path / "progress.csv").is_file():
        raise SystemExit(f"{argument!r}: no progress.csv in {path}; give a run folder, or NAME=RUN_DIR")
    return name or path.name, path


def evaluations(rows: list[dict[str, str]], column: str, run_dir: Path) -> dict[int, float]:
    """Iteration -> value of ``column`` in ``rows`` (``run_dir``'s ``progress.csv``), where evaluated."""
    if rows and column not in rows[0]:
        raise SystemExit(f"{run_dir}/progress.csv has no column {column!r}; it has {sorted(rows[0])}")
    return {int(row["iteration"]): float(row[column]) for row in rows if row.get(column) not in (None, "")}


def differences(baseline: Path, other: Path) -> list[str]:
    """``field: baseline value -> other value`` for each config field in which ``other`` differs,
    and ``field -> value (from iteration N)`` for each field a resume of ``other`` changed."""
    before, after = (PearlConfig.from_file(path / "config.json").to_dict() for path in (baseline, other))
    lines = [f"{key}: {before[key]} -> {after[key]}" for key in sorted(before) if before[key] != after[key]]
    versions = other / "versions.json"
    for resume in json.loads(versions.read_text()).get("resumed", []) if versions.exists() else []:
        lines += [f"{key} -> {value} (from iteration {resume['iteration']})"
                  for key, value in resume.get("changed", {}).items()]
    return lines


def within(iteration: int, start: int, stop: int | None) -> bool:
    """Whether ``iteration`` lies in ``[start, stop]`` (``stop`` None: no upper end)."""
    return start <= iteration and (stop is None or iteration <= stop)


def shared_iterations(curves: list[dict[int, float]], start: int, stop: int | None, every: int) -> list[int]:
    """The iterations every curve evaluated, within ``[start, stop]``, every ``every``-th of them."""
    shared = sorted(set.intersection(*(set(curve) for curve in curves)))
    return [i for i in shared if within(i, start, stop)][::every]


def comparison_table(names: list[str], curves: list[dict[int, float]], iterations: list[int]) -> str:
    """Markdown: one row per iteration, each run's value and (after the baseline) its lead."""
    header = ["iteration", names[0]] + [part for name in names[1:] for part in (name, f"{name} - {names[0]}")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i in iterations:
        base = curves[0][i]
        cells = [str(i), f"{base:,.1f}"] + [part for curve in curves[1:]
                                            for part in (f"{curve[i]:,.1f}", f"{curve[i] - base:+,.1f}")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(names: list[str], curves: list[dict[int, float]], iterations: list[int]) -> list[str]:
    """Per run, its mean over ``iterations``; after the baseline, its lead's mean, range and count."""
    base = np.array([curves[0][i] for i in iterations])
    lines = [f"{names[0]}: mean {base.mean():,.1f} over {len(iterations)} evaluations "
             f"(iterations {iterations[0]}-{iterations[-1]})"]
    for name, curve in zip(names[1:], curves[1:]):
        values = np.array([curve[i] for i in iterations])
        lead = values - base
        lines.append(f"{name}: mean {values.mean():,.1f}; lead over {names[0]} {lead.mean():+,.1f} "
                     f"(from {lead.min():+,.1f} to {lead.max():+,.1f}), ahead at {(lead > 0).sum()} "
                     f"of {len(iterations)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders, the baseline first; NAME=RUN_DIR names one")
    parser.add_argument("--column", default=DEFAULT_COLUMN, help=f"progress.csv column (default {DEFAULT_COLUMN})")
    parser.add_argument("--from", dest="start", type=int, default=0, help="first iteration (default: the first)")
    parser.add_argument("--to", dest="stop", type=int, default=None, help="last iteration (default: the last)")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th shared evaluation (default 1)")
    parser.add_argument("--png", type=Path, default=None, help="also draw the curves into this PNG")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error(f"give at least two runs to compare, got {len(args.runs)}")
    if args.every < 1:
        parser.error(f"--every must be at least 1, got {args.every}")
    names, folders = zip(*(parse_run(argument) for argument in args.runs))
    progress = [read_progress(folder) for folder in folders]
    curves = [evaluations(rows, args.column, folder) for rows, folder in zip(progress, folders)]
    for name, folder in zip(names[1:], folders[1:]):
        print(f"{name} against {names[0]}: " + ("; ".join(differences(folders[0], folder)) or "the same config"))
    iterations = shared_iterations(curves, args.start, args.stop, args.every)
    if not iterations:
        raise SystemExit(f"no iteration in [{args.start}, {args.stop or 'last'}] was evaluated by every run")
    print()
    print(comparison_table(list(names), curves, iterations))
    print()
    print("\n".join(summary(list(names), curves, iterations)))
    if args.png:
        window = {name: [row for row in rows if within(int(row["iteration"]), args.start, args.stop)]
                  for name, rows in zip(names, progress)}
        label = args.column.removeprefix("eval/").replace("_", " ")
        fig = plot_learning_curves(window, [(args.column, label)], x="iteration")
        fig.set_size_inches(6.0, 3.4)  # one panel: the page's width, not a third of it
        fig.savefig(args.png, dpi=150, bbox_inches="tight")
        print(f"\ncurves: {args.png}")


if __name__ == "__main__":
    main()
