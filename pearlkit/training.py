"""Meta-training end to end: the run folder, the iteration loop, checkpoints and resume.

A run folder holds ``config.json``, ``progress.csv`` (one row per iteration),
``versions.json``, ``agent.pt`` (the weights evaluation needs) and ``checkpoint.pt``
(everything needed to resume: weights, optimizers, buffers, random states). Both ``.pt``
files are replaced atomically at the end of every iteration, so a run killed at any
moment resumes from its last finished iteration.
"""
from __future__ import annotations

import csv
import io
import json
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from pearlkit.buffers import MultiTaskReplayBuffer
from pearlkit.checkpoint import (
    CHECKPOINT_NAME,
    atomic_write_bytes,
    load_checkpoint,
    save_checkpoint,
    stop_signals_deferred,
)
from pearlkit.config import PearlConfig
from pearlkit.envs.tasks import split_tasks
from pearlkit.evaluate import evaluate_agent
from pearlkit.pearl import (
    Optimizers,
    PearlAgent,
    build_agent,
    collect_data,
    collect_iteration,
    first_bad_loss,
    make_optimizers,
    update_step,
)
from pearlkit.runtime import pick_device, seed_everything
from pearlkit.sampler import EnvPool

AGENT_NAME = "agent.pt"
PROGRESS_COLUMNS = ["iteration", "env_steps", "grad_steps", "seconds",
                    "eval/return_after_exploration", "eval/success_rate", "eval/found_during_exploration",
                    "eval/reported_return", "eval/reported_success",
                    "train/q_loss", "train/kl", "train/v_loss", "train/policy_loss", "train/z_var"]
# Meta-test draws its randomness from its own stream, so evaluating more or less often
# never changes what training does.
EVAL_SEED_OFFSET = 1_000_003


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the loss and the gradient step."""


def versions() -> dict[str, str]:
    import pearlkit
    return {"pearlkit": pearlkit.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gym.__version__, "numpy": np.__version__}


def _write_progress(run_dir: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PROGRESS_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(run_dir / "progress.csv", lambda f: f.write(buffer.getvalue().encode()))


def read_progress(run_dir: str | Path) -> list[dict[str, str]]:
    """The rows of ``run_dir/progress.csv`` as written (strings; empty where not evaluated)."""
    with (Path(run_dir) / "progress.csv").open() as f:
        return list(csv.DictReader(f))


def _rng_state(rng: np.random.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state,
            "numpy_global": np.random.get_state(), "python": random.getstate()}


def _restore_rng(state: dict, rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    rng.bit_generator.state = state["numpy"]
    np.random.set_state(state["numpy_global"])
    random.setstate(state["python"])


@dataclass
class Run:
    """Everything a meta-training run holds in memory (what ``checkpoint.pt`` saves)."""

    config: PearlConfig
    agent: PearlAgent
    optimizers: Optimizers
    replay: MultiTaskReplayBuffer
    context_buffer: MultiTaskReplayBuffer
    train_tasks: list
    test_tasks: list
    pool: EnvPool
    eval_pool: EnvPool
    rng: np.random.Generator
    state: dict = field(default_factory=lambda: {"iteration": 0, "env_steps": 0, "grad_steps": 0,
                                                 "seconds": 0.0, "rows": []})


def new_run(config: PearlConfig, device: torch.device) -> Run:
    """A fresh run: seeded, networks initialised, buffers empty."""
    rng = seed_everything(config.seed)
    train_tasks, test_tasks = split_tasks(config)
    agent = build_agent(config, device)
    buffer = lambda: MultiTaskReplayBuffer(config.num_train_tasks, agent.obs_dim, agent.action_dim,
                                           config.replay_buffer_size, device)
    return Run(config, agent, make_optimizers(agent, config), buffer(), buffer(), train_tasks, test_tasks,
               EnvPool(config.env_id, config.seed), EnvPool(config.env_id, config.seed + EVAL_SEED_OFFSET), rng)


def restore_run(run: Run, run_dir: Path) -> None:
    """Load ``run_dir``'s checkpoint into ``run``; only the iteration budget may have changed."""
    for stale in run_dir.glob(".*.tmp"):  # left by a process killed mid-write
        stale.unlink()
    ckpt = load_checkpoint(run_dir / CHECKPOINT_NAME, next(run.agent.parameters()).device)
    config = run.config.to_dict()
    # A checkpoint written before a config field existed holds that field's default.
    started = {**PearlConfig.from_dict(ckpt["config"]).to_dict(), "num_iterations": config["num_iterations"],
               "eval_every": config["eval_every"]}
    if started != config:
        diff = sorted(k for k, v in config.items() if started[k] != v)
        raise ValueError(f"cannot resume {run_dir}: config fields {diff} differ from the run's")
    run.agent.load_state_dict(ckpt["agent"])
    run.optimizers.critic.load_state_dict(ckpt["critic_optimizer"])
    run.optimizers.actor.load_state_dict(ckpt["actor_optimizer"])
    run.replay.load_state_dict(ckpt["replay"])
    run.context_buffer.load_state_dict(ckpt["context_buffer"])
    run.state = ckpt["state"]
    _restore_rng(ckpt["rng"], run.rng)


def collect(run: Run) -> None:
    """This iteration's data: the initial pool at iteration 0, then the picked tasks."""
    config, state = run.config, run.state
    if state["iteration"] == 0:
        state["env_steps"] += collect_data(run.agent, run.pool, run.train_tasks, list(range(config.num_train_tasks)),
                                           run.replay, run.context_buffer, config.num_initial_steps, config,
                                           update_posterior=False)
    # paper-vs-code: tasks are picked without replacement within an iteration (the reference
    # draws with replacement), so all picked tasks can be collected in one lockstep batch.
    picked = run.rng.choice(config.num_train_tasks, size=min(config.num_tasks_sample, config.num_train_tasks),
                            replace=False)
    state["env_steps"] += collect_iteration(run.agent, run.pool, run.train_tasks, sorted(picked.tolist()),
                                            run.replay, run.context_buffer, config)


def train_steps(run: Run, run_dir: Path | None) -> dict[str, float]:
    """``num_train_steps_per_itr`` gradient steps; returns the mean of each logged loss.

    Raises:
        TrainingDiverged: a loss is NaN or infinite (named, with the gradient step).
    """
    config, state = run.config, run.state
    sums: dict[str, float] = {}
    for _ in range(config.num_train_steps_per_itr):
        tasks = torch.as_tensor(run.rng.integers(config.num_train_tasks, size=config.meta_batch))
        batch = run.replay.sample_batch(tasks, config.batch_size)
        context = run.context_buffer.sample_context(tasks, config.embedding_batch_size,
                                                    config.use_next_obs_in_context)
        losses = update_step(run.agent, run.optimizers, batch, context, config)
        state["grad_steps"] += 1
        bad = first_bad_loss(losses)
        if bad is not None:
            it = state["iteration"]
            kept = (f"the last good checkpoint (iteration {it}) is kept in {run_dir}" if run_dir and it
                    else "no checkpoint had been written yet")
            raise TrainingDiverged(f"{bad} became {losses[bad].item()} at gradient step {state['grad_steps']} "
                                   f"(iteration {it + 1}); {kept}")
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item()
    return {f"train/{k}": round(v / config.num_train_steps_per_itr, 6) for k, v in sums.items()}


def train(config: PearlConfig, run_dir: str | Path | None = None, resume: bool = False,
          device: str | None = None, progress: bool = True,
          on_iteration: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Meta-train PEARL: collect, train, evaluate, checkpoint, once per iteration.

    Args:
        config: the run's configuration.
        run_dir: where to write the run folder (none is written if None).
        resume: continue the run in ``run_dir`` from its last checkpoint.
        device: ``"cpu"``, ``"cuda"``, or None to pick CUDA when available.
        progress: show a progress bar.
        on_iteration: called with each progress row (e.g. for live plots or benchmarks).
    Returns:
        The last progress row, plus ``run_dir``, ``last_eval`` (the last meta-test's metrics)
        and ``agent``.
    Raises:
        TrainingDiverged: a loss became NaN/inf; the last good checkpoint is kept.
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    run = new_run(config, pick_device(device))
    if resume:
        if run_dir is None:
            raise ValueError("resume=True needs the run_dir to resume")
        restore_run(run, run_dir)
    elif run_dir is not None:
        if (run_dir / CHECKPOINT_NAME).exists():
            raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "versions.json").write_text(json.dumps(versions(), indent=2) + "\n")
    if run_dir is not None:  # a resumed run records its (possibly extended) config
        atomic_write_bytes(run_dir / "config.json", lambda f: f.write((config.to_json() + "\n").encode()))

    state, last_eval = run.state, {}
    bar = tqdm(total=config.num_iterations, initial=state["iteration"], disable=not progress,
               desc="meta-training", unit="it", dynamic_ncols=True)
    while state["iteration"] < config.num_iterations:
        start = time.perf_counter()
        collect(run)
        row = {"iteration": state["iteration"] + 1, **train_steps(run, run_dir)}
        if row["iteration"] % config.eval_every == 0 or row["iteration"] == config.num_iterations:
            last_eval = evaluate_agent(run.agent, config, run.test_tasks, run.eval_pool,
                                       config.seed + EVAL_SEED_OFFSET + state["iteration"])
            row.update(_eval_columns(last_eval))
        state["iteration"] += 1
        state["seconds"] += time.perf_counter() - start
        row.update(env_steps=state["env_steps"], grad_steps=state["grad_steps"], seconds=round(state["seconds"], 2))
        state["rows"].append(row)
        if run_dir is not None:
            _save_run(run_dir, run)
        if on_iteration is not None:
            on_iteration(row)
        bar.update(1)
        bar.set_postfix(steps=state["env_steps"], ret=row.get("eval/return_after_exploration", "-"),
                        success=row.get("eval/success_rate", "-"), refresh=False)
    bar.close()
    return {**(state["rows"][-1] if state["rows"] else {}), "run_dir": str(run_dir) if run_dir else None,
            "last_eval": last_eval, "agent": run.agent}


def _eval_columns(metrics: dict) -> dict[str, float]:
    columns = {"eval/return_after_exploration": round(metrics["return_after_exploration"], 4),
               "eval/reported_return": round(metrics["reported_return"], 4)}
    if metrics["success_rate"] is not None:
        columns["eval/success_rate"] = round(metrics["success_rate"], 4)
        columns["eval/found_during_exploration"] = round(metrics["found_during_exploration"], 4)
        columns["eval/reported_success"] = round(metrics["reported_success"], 4)
    return columns


def _save_run(run_dir: Path, run: Run) -> None:
    """Write the agent, the full checkpoint and progress.csv, each atomically, and as one unit
    for Ctrl-C and ``kill``: a stop during the save waits for all three."""
    config, agent, state = run.config.to_dict(), run.agent.state_dict(), run.state
    with stop_signals_deferred():
        save_checkpoint(run_dir / AGENT_NAME, {"config": config, "agent": agent, "iteration": state["iteration"]})
        save_checkpoint(run_dir / CHECKPOINT_NAME, {
            "config": config, "agent": agent, "critic_optimizer": run.optimizers.critic.state_dict(),
            "actor_optimizer": run.optimizers.actor.state_dict(), "replay": run.replay.state_dict(),
            "context_buffer": run.context_buffer.state_dict(), "state": state, "rng": _rng_state(run.rng)})
        _write_progress(run_dir, state["rows"])


def load_agent(run_dir: str | Path, device: str | None = None) -> tuple[PearlAgent, PearlConfig, int]:
    """The trained agent (in eval mode), its config and its iteration, from ``agent.pt``."""
    dev = pick_device(device)
    ckpt = load_checkpoint(Path(run_dir) / AGENT_NAME, dev)
    config = PearlConfig.from_dict(ckpt["config"])
    agent = build_agent(config, dev)
    agent.load_state_dict(ckpt["agent"])
    return agent.eval(), config, ckpt["iteration"]
