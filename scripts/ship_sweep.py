"""Copy a finished sweep into ``results/sweeps/<name>/``: its manifest, each run's agent and
curve (not the replay buffers), each run's evaluation (``evaluation.json``, meta-tested here at
evaluation seeds 0-2), and its report, as the book's results chapter reads them.

    python scripts/ship_sweep.py sweeps/nav sparse-point-robot

Fails, and writes nothing, when a run of the sweep has not finished its iterations.
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from pearlkit.checkpoint import SHIPPED_FILES
from pearlkit.config import PearlConfig
from pearlkit.evaluate import SWEEP_EVALUATION_SEEDS, record_evaluation
from pearlkit.report import report
from pearlkit.sweep import MANIFEST_NAME, read_manifest
from pearlkit.training import finished_iterations

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("name")
    args = parser.parse_args()
    trials = read_manifest(args.sweep_dir)
    for trial in trials:
        planned = PearlConfig.from_file(trial["run_dir"] / "config.json").num_iterations
        if finished_iterations(trial["run_dir"]) < planned:
            raise SystemExit(f"error: {trial['run_dir']} has {finished_iterations(trial['run_dir'])} of its {planned} "
                             "iterations; let the sweep finish (rerun the same sweep command to resume it)")
    out = ROOT / "results" / "sweeps" / args.name
    tmp = out.with_name(f".{args.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy2(args.sweep_dir / MANIFEST_NAME, tmp / MANIFEST_NAME)
    for trial in trials:
        (tmp / trial["run_dir"].name).mkdir()
        for name in SHIPPED_FILES:
            shutil.copy2(trial["run_dir"] / name, tmp / trial["run_dir"].name / name)
        record_evaluation(tmp / trial["run_dir"].name, seeds=SWEEP_EVALUATION_SEEDS)
    print(report(tmp, title=f"results/sweeps/{args.name}"))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
