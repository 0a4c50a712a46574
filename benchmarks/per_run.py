"""The command line the per-run diagnoses share (``direction_diagnosis.py``, ``humanoid_motion.py``,
``goal_approach.py``): run folders and an evaluation seed in, a printed summary of each, then
one JSON object of all their figures as the last line."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable


def per_run_main(doc: str, default_runs: list[Path], measure: Callable[[Path, argparse.Namespace], dict],
                 show: Callable[[Path, dict, argparse.Namespace], None],
                 add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Parse ``RUN_DIR ... [--seed N]`` (and what ``add_arguments`` adds), ``measure`` each run
    folder, ``show`` its figures, and print them all as JSON."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=default_runs)
    parser.add_argument("--seed", type=int, default=0, help="the evaluation seed (default 0)")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args()
    figures = {}
    for run_dir in args.runs:
        figures[str(run_dir)] = result = measure(run_dir, args)
        show(run_dir, result, args)
    print(json.dumps(figures))
