"""Copy a training run every N iterations and meta-test each copy, while the run goes on.

    nohup python benchmarks/watch_copies.py runs/ant-fwd-back-seed0 snaps/ant --every 5 \\
        --seeds 0-1 --runs-per-task 20 >> snaps/ant.log 2>&1 &

A run's folder holds only its latest weights, and its training evaluations (2 tasks × 2 runs on
the two-task families) cannot rank checkpoints. So at each iteration that is a multiple of
``--every``, and at the run's last, this copies what ``scripts/ship_result.py`` ships
(``pearlkit.checkpoint.SHIPPED_FILES``) to ``PREFIX-N`` and meta-tests the copy as ``python -m
pearlkit evaluate PREFIX-N --seeds ... --json`` does, into ``PREFIX-N.eval.json``, one line per
copy on stdout. Any copy can then be shipped or trained on. The run may write between two file copies,
so a copy whose agent or curve is not at iteration N is discarded (and taken again if the run is
still there). The watch ends when the run has finished and its last iteration is copied;
``--once`` looks once and exits; ``--wait S`` gives a run started a moment ago S seconds to write
its ``config.json``. It meta-tests at one thread, beside the training's.
``--measure CMD`` runs another measurement instead, ``{copy}`` in CMD standing for the copy's
folder (``--measure "python benchmarks/goal_approach.py {copy} --runs-per-task 5"``): its output
goes to ``PREFIX-N.measure.txt`` and its last line to stdout.
"""
from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import torch

from pearlkit.checkpoint import AGENT_NAME, SHIPPED_FILES, atomic_write_json
from pearlkit.evaluate import evaluate_seeds
from pearlkit.run_status import run_status
from pearlkit.sweep import parse_seeds
from pearlkit.training import finished_iterations


def copy_at(run_dir: Path, dest: Path, iteration: int) -> bool:
    """Copy the run's shipped files to ``dest`` if they are all at ``iteration``; else leave nothing."""
    dest.mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copy2(run_dir / name, dest / name)
    agent_iteration = torch.load(dest / AGENT_NAME, map_location="cpu", weights_only=False)["iteration"]
    if agent_iteration == finished_iterations(dest) == iteration:
        return True
    shutil.rmtree(dest)
    return False


def evaluate_copy(dest: Path, seeds: str, runs_per_task: int | None) -> dict:
    """What ``evaluate COPY --seeds SEEDS --json`` prints, written beside the copy as ``<copy>.eval.json``."""
    result = evaluate_seeds(dest, parse_seeds(seeds), runs_per_task=runs_per_task)
    atomic_write_json(Path(f"{dest}.eval.json"), result)
    return result


def measure_copy(dest: Path, command: str) -> str:
    """Run ``command`` with ``{copy}`` replaced by ``dest``, its output (both streams) written
    beside the copy as ``<copy>.measure.txt``; its last line, or its exit status if it failed."""
    done = subprocess.run(shlex.split(command.replace("{copy}", str(dest))), capture_output=True, text=True)
    Path(f"{dest}.measure.txt").write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else f"failed with exit status {done.returncode}"


def summary_line(iteration: int, result: dict) -> str:
    """``ITERATION mean ± se (by seed)`` of the return after exploration."""
    name = "return_after_exploration"
    each = ", ".join(f"{s[name]:.1f}" for s in result["by_seed"])
    return f"{iteration} {result['mean'][name]:.1f} ± {result['standard_error'][name]:.1f} ({each})"


def look(run_dir: Path, prefix: str, every: int, seeds: str, runs_per_task: int | None,
         measure: str | None = None) -> bool:
    """Copy and evaluate (or ``measure``, :func:`measure_copy`) the run's latest iteration if it is
    due; True once the run has finished and its last iteration is copied."""
    # The agent and progress.csv are first written together when an iteration has finished.
    if not all((run_dir / name).exists() for name in SHIPPED_FILES):
        return False  # no iteration finished yet
    status = run_status(run_dir)  # reads progress.csv once a poll
    iteration = status["iteration"]
    dest = Path(f"{prefix}-{iteration}")
    due = iteration % every == 0 or status["finished"]
    if due and not dest.exists() and copy_at(run_dir, dest, iteration):
        line = (summary_line(iteration, evaluate_copy(dest, seeds, runs_per_task)) if measure is None
                else f"{iteration} {measure_copy(dest, measure)}")
        print(line, flush=True)
    return status["finished"] and dest.exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("prefix", help="copies go to PREFIX-N (and PREFIX-N.eval.json)")
    parser.add_argument("--every", type=int, default=5, help="copy at multiples of this iteration (default 5)")
    parser.add_argument("--seeds", default="0-4", help="evaluation seeds (default 0-4)")
    parser.add_argument("--runs-per-task", type=int, default=None, help="passed to evaluate (default: its own)")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between looks (default 10)")
    parser.add_argument("--once", action="store_true", help="look once and exit")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds to wait for RUN_DIR's config.json, which a run started a moment ago "
                             "writes when it begins (default 0: it must be there)")
    parser.add_argument("--measure", metavar="CMD", default=None,
                        help="run CMD on each copy instead of evaluate, {copy} standing for its folder "
                             "(output to PREFIX-N.measure.txt)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # beside a training on shared cores, extra threads only wait
    if args.every < 1:
        parser.error(f"--every must be >= 1, got {args.every}")
    if args.measure is not None and "{copy}" not in args.measure:
        parser.error(f"--measure must name the copy as {{copy}}, got {args.measure!r}")
    if not args.wait >= 0:
        parser.error(f"--wait must be >= 0 seconds, got {args.wait}")
    deadline = time.monotonic() + args.wait
    while not (args.run_dir / "config.json").exists():
        if time.monotonic() >= deadline:
            waited = f" after waiting {args.wait:g} s" if args.wait else ""
            parser.error(f"{args.run_dir} is not a run folder (no config.json{waited})")
        time.sleep(max(0.0, min(args.poll, deadline - time.monotonic())))  # the deadline may pass meanwhile
    while not look(args.run_dir, args.prefix, args.every, args.seeds, args.runs_per_task, args.measure) \
            and not args.once:
        time.sleep(args.poll)


if __name__ == "__main__":
    main()
