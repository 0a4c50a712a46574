"""What a sweep of the paper's figure costs, from runs already made: CPU-hours per run and in all.

    python benchmarks/sweep_cost.py results/* runs/ant-fwd-back-seed0 --seeds 5

For each run folder: its measured CPU time per iteration (progress.csv's ``cpu_seconds``; for a
run that did not record it, the wall clock, at the thread count and machine share it ran with),
times the iterations its config plans (or the iterations it ran, where its ``env_step_budget``
ended it before them), is the time one run of that config takes; times ``--seeds`` runs per
family, summed. A family given twice counts once (the last folder named).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from pearlkit.config import PearlConfig, budget_allows
from pearlkit.training import read_progress


def hours_per_run(run_dir: Path) -> tuple[str, int, int, float]:
    """(env id, iterations measured, iterations planned, hours for the planned run). A run that its
    env-step budget ended plans the iterations it ran."""
    config = PearlConfig.from_file(run_dir / "config.json")
    last = read_progress(run_dir)[-1]
    done = int(last["iteration"])
    planned = config.num_iterations if budget_allows(config, int(last["env_steps"]), done) else done
    # The CPU time where the whole run recorded it; the wall clock (of one thread) before that.
    spent = float(last["cpu_seconds"]) if last.get("cpu_seconds") else float(last["seconds"])
    return config.env_id, done, planned, spent / done * planned / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=5, help="runs per family (default 5)")
    args = parser.parse_args()
    by_family = {}
    for run_dir in args.run_dirs:
        by_family[PearlConfig.from_file(run_dir / "config.json").env_id] = run_dir
    total = 0.0
    print(f"| family | measured on | iterations measured / planned | CPU-hours per run | x {args.seeds} seeds |")
    print("|---|---|---|---|---|")
    for env_id, run_dir in by_family.items():
        _, measured, planned, hours = hours_per_run(run_dir)
        total += hours * args.seeds
        print(f"| {env_id} | {run_dir} | {measured} / {planned} | {hours:.1f} | {hours * args.seeds:.0f} |")
    print(f"\n{len(by_family)} families x {args.seeds} seeds: {total:.0f} CPU-hours "
          f"({total / 24:.1f} days of one thread)")


if __name__ == "__main__":
    main()
