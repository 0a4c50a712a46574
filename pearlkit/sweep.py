"""Many runs at once on Ray: one task per (preset, seed), each writing an ordinary run folder.

``python -m pearlkit sweep cheetah-vel walker-2d-params --seeds 0-4 --out sweeps/six`` plans
every (preset, seed) pair, checks all of them before anything starts, writes ``sweep.json`` (the
plan) into ``--out``, and runs each pair as a Ray task that calls :func:`pearlkit.train` on
``OUT/PRESET-seedN``: the folder ``train`` writes, so ``evaluate``, ``render``, ``report`` and
the chapters read it unchanged. A task whose worker dies (killed, out of memory, a lost node)
or that raises is retried up to ``max_retries`` times, and each retry resumes from the run's
last checkpoint instead of starting over. Running the same command again finishes what is
left. Ray is an optional dependency: ``pip install -e ".[sweep]"``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from pearlkit.checkpoint import CHECKPOINT_NAME, atomic_write_json
from pearlkit.config import PearlConfig
from pearlkit.training import (
    TrainingDiverged,
    config_differences,
    finished_iterations,
    train,
)

#: The plan of a sweep, in its output folder.
MANIFEST_NAME = "sweep.json"
#: Where a sweep keeps its bookkeeping (worker pids, attempts), apart from the run folders.
BOOKKEEPING_DIR = ".sweep"
RAY_INSTALL_HINT = 'sweeps run on Ray, an optional dependency: pip install -e ".[sweep]"'


@dataclass(frozen=True)
class Trial:
    """One run of a sweep."""

    preset: str
    seed: int
    config: PearlConfig
    run_dir: Path

    @property
    def name(self) -> str:
        return self.run_dir.name


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> ``[0, 1, 2, 3, 4]``; ``"0,2,7"`` and mixes such as ``"0-2,9"`` too.

    Raises:
        ValueError: naming the part that is not a seed or a non-empty range.
    """
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(f"--seeds takes seeds and ranges such as 0-4 or 0,2,7; got {text!r}") from None
        if first < 0 or last < first:
            raise ValueError(f"--seeds range {part.strip()!r} is empty or negative; write LOW-HIGH with "
                             f"0 <= LOW <= HIGH")
        seeds += [seed for seed in range(first, last + 1) if seed not in seeds]
    return seeds


def plan_trials(presets: list[str], seeds: list[int], configs: dict[str, PearlConfig], out: Path) -> list[Trial]:
    """Every (preset, seed) pair, with its run folder ``out/PRESET-seedN``.

    Args:
        configs: each preset's config with the sweep's ``--set`` applied (seed aside).
    Raises:
        ValueError: no presets or seeds, or a run folder already holds a different run.
    """
    if not presets:
        raise ValueError("name at least one preset to sweep")
    if not seeds:
        raise ValueError("the sweep has no seeds; give --seeds, e.g. 0-4")
    trials = [Trial(preset, seed, configs[preset].replace(seed=seed), out / f"{preset}-seed{seed}")
              for preset in dict.fromkeys(presets) for seed in seeds]
    for trial in trials:
        differ = config_differences(trial.run_dir, trial.config)
        if differ:
            raise ValueError(f"{trial.run_dir} already holds a run with another config (fields {differ}); "
                             f"choose another --out or delete the folder")
    return trials


def write_manifest(out: Path, trials: list[Trial], assignments: list[str]) -> None:
    """``out/sweep.json``: which folder holds which (preset, seed), and the ``--set`` used."""
    manifest = {"trials": [{"preset": t.preset, "seed": t.seed, "run_dir": t.name} for t in trials],
                "set": assignments}
    atomic_write_json(out / MANIFEST_NAME, manifest, indent=2)


def read_manifest(out: str | Path) -> list[dict[str, Any]]:
    """The trials of the sweep in ``out`` (``preset``, ``seed``, ``run_dir`` as a path)."""
    path = Path(out) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"{out} holds no sweep ({MANIFEST_NAME} is missing); run `python -m pearlkit "
                                f"sweep ... --out {out}` first")
    trials = json.loads(path.read_text())["trials"]
    return [{**t, "run_dir": Path(out) / t["run_dir"]} for t in trials]


def train_trial(trial: Trial, threads: int, bookkeeping: Path) -> dict[str, Any]:
    """Train (or resume) one trial's run folder: what each Ray task runs.

    Writes the worker's pid and the iteration this attempt starts from to ``bookkeeping``, so a
    retry after a lost worker can be seen (and tested) to resume rather than restart.
    """
    torch.set_num_threads(threads)
    resume = (trial.run_dir / CHECKPOINT_NAME).exists()
    start = finished_iterations(trial.run_dir) if resume else 0
    bookkeeping.mkdir(parents=True, exist_ok=True)
    (bookkeeping / f"{trial.name}.pid").write_text(f"{os.getpid()}\n")
    with open(bookkeeping / f"{trial.name}.attempts", "a") as log:
        log.write(f"{start}\n")
    try:
        row = train(trial.config, trial.run_dir, resume=resume, progress=False)
    except TrainingDiverged as error:  # not worth a retry: the same data diverges again
        return {"error": str(error)}
    return {key: row.get(key) for key in ("iteration", "env_steps", "seconds", "eval/return_after_exploration",
                                          "eval/success_rate")}


def run_sweep(trials: list[Trial], out: Path, *, address: str | None = None, cpus_per_trial: int = 1,
              gpus_per_trial: float = 0.0, max_retries: int = 3, progress: bool = True,
              poll_seconds: float = 2.0) -> list[dict[str, Any]]:
    """Run ``trials`` as Ray tasks, locally (this machine's CPUs) or on the cluster at ``address``.

    Returns:
        One summary per trial (its last progress row, or ``error``), in the order of ``trials``.
    """
    try:
        import ray
    except ImportError:
        raise ImportError(RAY_INSTALL_HINT) from None
    if cpus_per_trial < 1 or gpus_per_trial < 0 or max_retries < 0:
        raise ValueError(f"cpus_per_trial must be >= 1, gpus_per_trial >= 0 and max_retries >= 0; got "
                         f"{cpus_per_trial}, {gpus_per_trial}, {max_retries}")
    # Ray starts its workers at niceness 15, below everything else on the machine; a local sweep
    # runs them at 0, as `train` runs, so that beside other work they get their share of the CPU.
    # (A cluster keeps the niceness it was started with.)
    # "local" starts a Ray of its own even where a cluster already runs on this machine (plain
    # ray.init() would join that one, and refuse the niceness setting).
    local = {"_system_config": {"worker_niceness": 0}} if address is None else {}
    ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=True, **local)
    try:
        task = ray.remote(train_trial).options(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial,
                                               max_retries=max_retries, retry_exceptions=True)
        bookkeeping = out / BOOKKEEPING_DIR
        pending = {task.remote(trial, cpus_per_trial, bookkeeping): i for i, trial in enumerate(trials)}
        summaries: list[dict[str, Any]] = [{} for _ in trials]
        total = sum(trial.config.num_iterations for trial in trials)
        bar = tqdm(total=total, disable=not progress, desc="sweep", unit="it", dynamic_ncols=True)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=poll_seconds)
            for ref in done:
                index = pending.pop(ref)
                try:
                    summaries[index] = ray.get(ref)
                except Exception as error:  # retries exhausted: report it, keep the others going
                    summaries[index] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
            bar.n = sum(min(finished_iterations(t.run_dir), t.config.num_iterations) for t in trials)
            bar.set_postfix(running=len(pending), done=len(trials) - len(pending), refresh=False)
            bar.refresh()
        bar.close()
        return summaries
    finally:
        ray.shutdown()


def summary_table(trials: list[Trial], summaries: list[dict[str, Any]]) -> str:
    """The end-of-sweep table, one Markdown row per trial."""
    lines = ["| run | iterations | env steps | hours | return after exploration | success | status |",
             "|---|---|---|---|---|---|---|"]
    for trial, summary in zip(trials, summaries):
        if "error" in summary:
            done = finished_iterations(trial.run_dir)
            lines.append(f"| {trial.name} | {done} | | | | | failed: {summary['error']} |")
            continue
        value = lambda key, fmt: format(summary[key], fmt) if summary.get(key) not in (None, "") else ""
        lines.append(f"| {trial.name} | {summary['iteration']} of {trial.config.num_iterations} | "
                     f"{value('env_steps', ',')} | {summary['seconds'] / 3600:.2f} | "
                     f"{value('eval/return_after_exploration', '.2f')} | {value('eval/success_rate', '.2f')} | done |")
    return "\n".join(lines)


def sweep(presets: list[str], seeds: list[int], configs: dict[str, PearlConfig], out: Path,
          assignments: list[str], **ray_options: Any) -> tuple[list[Trial], list[dict[str, Any]]]:
    """Plan, record and run a sweep (see the module docstring); ``ray_options`` go to :func:`run_sweep`."""
    trials = plan_trials(presets, seeds, configs, out)
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out, trials, assignments)
    start = time.perf_counter()
    summaries = run_sweep(trials, out, **ray_options)
    print(f"{len(trials)} runs in {time.perf_counter() - start:.0f} s")
    return trials, summaries

