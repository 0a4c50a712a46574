"""Meta-training end to end: what a run needs around :func:`pearlkit.pearl.meta_train_iteration`
(the run folder, the progress bar and log, the evaluation schedule, checkpoints and resume).

A run folder holds ``config.json``, ``progress.csv`` (one row per iteration),
``versions.json``, ``agent.pt`` (the weights evaluation needs) and ``checkpoint.pt``
(everything needed to resume: weights, optimizers, buffers, random states). Both ``.pt``
files are replaced atomically at the end of every iteration, so a run killed at any
moment resumes from its last finished iteration.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import random
import socket
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from pearlkit.checkpoint import (
    AGENT_NAME,
    CHECKPOINT_NAME,
    SHIPPED_FILES,
    atomic_write_bytes,
    dtype_name,
    load_checkpoint,
    read_versions,
    recorded_precision,
    save_checkpoint,
    stop_signals_deferred,
)
from pearlkit.config import RESUMABLE_FIELDS, PearlConfig, budget_allows
from pearlkit.envs.tasks import Task
from pearlkit.evaluate import EVALUATION_FILE, MetaTestSummary, exploration_beliefs, meta_test, summarize
from pearlkit.pearl import (
    MetaTrainer,
    PearlAgent,
    TrainingDiverged,
    meta_train_iteration,
    new_trainer,
)
from pearlkit.runtime import cpu_name, device_name, pick_device, seed_everything, versions
from pearlkit.sampler import EnvPool

PROGRESS_COLUMNS = ["iteration", "env_steps", "grad_steps", "seconds", "cpu_seconds",
                    "eval/return_after_exploration", "eval/success_rate", "eval/found_during_exploration",
                    "eval/reported_return", "eval/reported_success",
                    "train/q_loss", "train/kl", "train/v_loss", "train/policy_loss", "train/z_var",
                    "train/temperature"]
# Meta-test draws its randomness from its own stream, so evaluating more or less often
# never changes what training does.
EVAL_SEED_OFFSET = 1_000_003


def config_differences(run_dir: str | Path, config: PearlConfig) -> list[str]:
    """The fields in which the run in ``run_dir`` (its ``config.json``) differs from ``config``;
    none where the folder holds no run yet."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return []
    existing, wanted = PearlConfig.from_file(path).to_dict(), config.to_dict()
    return sorted(k for k in existing if existing[k] != wanted[k])


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


def runs_on(config: PearlConfig, iterations_done: int, env_steps: int) -> bool:
    """Whether a run that has trained ``iterations_done`` iterations and collected ``env_steps``
    has another to go: within ``num_iterations`` and within ``env_step_budget``."""
    return iterations_done < config.num_iterations and budget_allows(config, env_steps, iterations_done)


def finished_iterations(run_dir: str | Path) -> int:
    """Iterations recorded in ``run_dir/progress.csv`` (0 if there is none)."""
    if not (Path(run_dir) / "progress.csv").exists():
        return 0
    rows = read_progress(run_dir)
    return int(rows[-1]["iteration"]) if rows else 0


def _rng_state(rng: np.random.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state,
            "numpy_global": np.random.get_state(), "python": random.getstate(),
            # The GPU's generator where this process uses one (a run on the CPU leaves CUDA alone).
            "cuda": torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None}


def _restore_rng(state: dict, rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():  # runs saved on a CPU have none
        torch.cuda.set_rng_state(state["cuda"])
    rng.bit_generator.state = state["numpy"]
    np.random.set_state(state["numpy_global"])
    random.setstate(state["python"])


@dataclass
class RunState:
    """How far a run has got (saved in ``checkpoint.pt``)."""

    iteration: int = 0  #: iterations finished
    env_steps: int = 0
    grad_steps: int = 0
    seconds: float = 0.0  #: wall clock spent in iterations
    #: CPU time this process spent in iterations, its threads together. Unlike ``seconds`` it
    #: does not grow while other processes hold the cores or the run is paused. None for a run
    #: checkpointed before it was counted: a partial count would read as the whole.
    cpu_seconds: float | None = 0.0
    rows: list[dict] = field(default_factory=list)  #: progress.csv so far


@dataclass
class Run:
    """Everything a meta-training run holds in memory: the trainer, and what evaluation and
    the run folder need around it."""

    trainer: MetaTrainer
    test_tasks: list[Task]
    eval_pool: EnvPool
    state: RunState = field(default_factory=RunState)
    #: The replay buffers are empty past iteration 0 (a resume from the weights alone): the next
    #: iteration fills every task's first, as iteration 0 does.
    refill: bool = False


def new_run(config: PearlConfig, device: torch.device) -> Run:
    """A fresh run: seeded, networks initialised, buffers empty."""
    trainer = new_trainer(config, device)
    _, test_tasks = config.split_tasks()
    return Run(trainer, test_tasks, EnvPool(config.env_id, config.seed + EVAL_SEED_OFFSET))


def restore_run(run: Run, run_dir: Path, from_weights: bool = False) -> dict[str, tuple[Any, Any]]:
    """Load ``run_dir``'s checkpoint into ``run``; only :data:`~pearlkit.config.RESUMABLE_FIELDS` may
    differ. Returns those that do, each as ``(the run's value, the new one)``.

    With ``from_weights``, load ``agent.pt`` alone (as a shipped copy in ``results/`` keeps it, or a
    run whose ``checkpoint.pt`` was lost; one that is there is ignored, then replaced): the
    networks and the counters of ``progress.csv`` go on, while the replay buffers start empty (the
    next iteration refills every task's, as iteration 0 does), the optimizers start fresh and the
    random streams are drawn anew from the seed and the iteration. It is a different run from one
    resumed from its checkpoint, and ``versions.json`` says so (:func:`record_resume`)."""
    trainer = run.trainer
    # On the CPU: the replay buffers live there; load_state_dict copies weights and optimizer
    # state to the agent's device.
    if from_weights and (run_dir / EVALUATION_FILE).exists():
        raise ValueError(f"{run_dir} is a shipped result (it holds {EVALUATION_FILE}), which training would change: "
                         f"copy its {', '.join(SHIPPED_FILES[:-1])} and {SHIPPED_FILES[-1]} to a run folder, and go "
                         f"on from there")
    if not from_weights and not (run_dir / CHECKPOINT_NAME).exists() and (run_dir / AGENT_NAME).exists():
        raise FileNotFoundError(f"no {CHECKPOINT_NAME} in {run_dir}, only the weights in {AGENT_NAME} (a shipped "
                                f"copy keeps no replay buffers); --from-weights continues from them with empty "
                                f"replay buffers and fresh optimizers")
    ckpt = load_checkpoint(run_dir / (AGENT_NAME if from_weights else CHECKPOINT_NAME), "cpu")
    config = trainer.config.to_dict()
    # A checkpoint written before a config field existed holds that field's default.
    before = PearlConfig.from_dict(ckpt["config"]).to_dict()
    started = {**before, **{k: config[k] for k in RESUMABLE_FIELDS}}
    if started != config:
        diff = sorted(k for k, v in config.items() if started[k] != v)
        raise ValueError(f"cannot resume {run_dir}: config fields {diff} differ from the run's")
    if config["learn_temperature"] and before["temperature"] != config["temperature"]:
        raise ValueError(f"cannot resume {run_dir} at temperature={config['temperature']}: it learns its temperature "
                         f"(learn_temperature=True), which goes on from the learned value")
    trainer.agent.load_state_dict(ckpt["agent"])
    if from_weights:
        run.state = state_from_progress(run_dir, ckpt["iteration"])
        run.refill = True
        # Streams of their own, so the run does not draw again what its first iterations drew.
        seed = int(np.random.SeedSequence([trainer.config.seed, run.state.iteration]).generate_state(1)[0])
        trainer.rng = seed_everything(seed)
        trainer.pool = EnvPool(trainer.config.env_id, seed)
    else:
        # Loading an optimizer restores its learning rates too; a resume may change them, so the
        # config's (the fresh optimizers') are put back.
        configured = [[group["initial_lr"] for group in optimizer.param_groups] for optimizer in trainer.optimizers]
        trainer.optimizers.critic.load_state_dict(ckpt["critic_optimizer"])
        trainer.optimizers.actor.load_state_dict(ckpt["actor_optimizer"])
        for optimizer, rates in zip(trainer.optimizers, configured):
            for group, rate in zip(optimizer.param_groups, rates):
                group["initial_lr"] = rate
        trainer.replay.load_state_dict(ckpt["replay"])
        trainer.context_buffer.load_state_dict(ckpt["context_buffer"], trainer.config.max_path_length)
        run.state = RunState(**{"cpu_seconds": None, **ckpt["state"]})
        _restore_rng(ckpt["rng"], trainer.rng)
        # A checkpoint from before the environments' streams were saved holds none: they start again.
        if "pools" in ckpt:
            trainer.pool.load_state_dict(ckpt["pools"]["training"])
            run.eval_pool.load_state_dict(ckpt["pools"]["evaluation"])
    return {k: (before[k], config[k]) for k in RESUMABLE_FIELDS if before[k] != config[k]}


def _gpu(device: torch.device) -> dict[str, str]:
    """``{"gpu": its name}`` for a run on a GPU, else nothing (the CPU is recorded anyway)."""
    return {} if device.type == "cpu" else {"gpu": device_name(device)}


def state_from_progress(run_dir: Path, iteration: int) -> RunState:
    """The :class:`RunState` of a run folder's ``progress.csv``, whose last row must be ``iteration``
    (the weights' iteration): its rows, and the counters of that row."""
    rows = [{k: _number(v) for k, v in row.items()} for row in read_progress(run_dir)] \
        if (run_dir / "progress.csv").exists() else []
    if not rows or rows[-1]["iteration"] != iteration:
        last = rows[-1]["iteration"] if rows else "no rows"
        raise ValueError(f"{run_dir}: {AGENT_NAME} holds iteration {iteration} but progress.csv ends at {last}")
    last = rows[-1]
    return RunState(iteration=iteration, env_steps=last["env_steps"], grad_steps=last["grad_steps"],
                    seconds=last["seconds"], cpu_seconds=last["cpu_seconds"], rows=rows)


def _number(text: str) -> int | float | None:
    """A progress.csv cell as written: an int, a float, or None where empty."""
    if text == "":
        return None
    return int(text) if text.lstrip("-").isdigit() else float(text)


def record_resume(run_dir: Path, iteration: int, changed: dict[str, tuple[Any, Any]], device: torch.device,
                  from_weights: bool = False, precision: str | None = None) -> None:
    """Add one entry to ``versions.json``'s ``"resumed"`` list: the iteration a resume started from,
    the machine it ran on, the config fields it changed (``"changed"``: their new values) and what
    they were (``"was"``), ``"from_weights": true`` where it started from the weights alone
    (:func:`restore_run`), and ``"precision"`` where it trains in another number format than the
    stage before, or no stage before recorded one (``precision``, :func:`format_on_resume`). A run
    that spans sessions can then say every machine its clock ran on, not only the first, and the
    commands that train it again as it was trained (:func:`pearlkit.cli.training_commands`)."""
    path = run_dir / "versions.json"
    record = read_versions(run_dir)
    fields = {}
    if changed:
        fields = {"changed": {k: new for k, (_, new) in changed.items()},
                  "was": {k: old for k, (old, _) in changed.items()}}
    entry = {"iteration": iteration, "cpu": cpu_name(), **_gpu(device), **fields,
             **({"from_weights": True} if from_weights else {}),
             **({"precision": precision} if precision else {})}
    record.setdefault("resumed", []).append(entry)
    atomic_write_bytes(path, lambda f: f.write((json.dumps(record, indent=2) + "\n").encode()))


def format_on_resume(record: dict, config: PearlConfig, agent: PearlAgent, changed: dict[str, tuple[Any, Any]]
                     ) -> str | None:
    """Keep the number format of a run at ``precision="auto"`` resumed on the machine its last stage
    ran on: ``"auto"`` decides by timing a product at each start
    (:func:`~pearlkit.runtime.resolve_precision`), so a resume on a busier machine could otherwise
    take the other format halfway through a run. On another machine, or where the resume changes
    ``precision`` to ``"auto"`` from another value, it decides again. Sets ``agent``'s format; returns it where it
    differs from the last stage's (for :func:`record_resume`), else None."""
    before = recorded_precision(record)
    last = (record.get("resumed") or [record])[-1]
    same_machine = (last.get("cpu"), last.get("gpu")) == (cpu_name(), _gpu(agent.device).get("gpu"))
    if config.precision == "auto" and "precision" not in changed and before is not None and same_machine:
        agent.set_precision(getattr(torch, before))
    now = dtype_name(agent.precision)
    return None if now == before else now


def evaluate_run(run: Run) -> MetaTestSummary:
    """Meta-test the agent on the held-out tasks, ``num_evals`` runs each, from the run's own stream."""
    config = run.trainer.config
    seed = config.seed + EVAL_SEED_OFFSET + run.state.iteration
    result = meta_test(run.trainer.agent, run.test_tasks, config, seed=seed, runs_per_task=config.num_evals,
                       pool=run.eval_pool, exploration_beliefs=exploration_beliefs(run.trainer.agent, config, seed))
    return summarize(result)


#: The file a training process holds locked in its run folder (:func:`training_lock`).
LOCK_NAME = ".train.lock"


class RunFolderBusy(RuntimeError):
    """Another process is training the run folder; the message names it."""


@contextmanager
def training_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` for this process while it trains there. A second process that would
    train the same folder (a resume started twice, or ``--out`` naming a live run) is refused
    before it writes anything, where both would otherwise overwrite one checkpoint in turn.

    An advisory lock (``flock``) on :data:`LOCK_NAME`, a file that names its holder and is removed
    when the holder is done. The system releases the lock when its holder exits, however it
    exits, so the file a killed run leaves behind locks nothing; the next trainer takes it over.
    Where ``fcntl`` is missing (Windows), nothing is locked.

    Raises:
        RunFolderBusy: another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        yield
        return
    path = run_dir / LOCK_NAME
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process"
            handle.close()
            raise RunFolderBusy(f"{run_dir} is being trained by another process ({holder}, which holds "
                                f"{path}); stop it first, or train into another folder") from None
        # The holder before us may have removed the file between our open and our lock: then
        # the lock is on a file no one else will open, and we try again on the path's own.
        if path.exists() and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked, so no one locks the old file after us
        handle.close()


def train(config: PearlConfig, run_dir: str | Path | None = None, resume: bool = False,
          device: str | None = None, progress: bool = True,
          on_iteration: Callable[[dict], None] | None = None, from_weights: bool = False) -> dict[str, Any]:
    """Meta-train PEARL: one :func:`~pearlkit.pearl.meta_train_iteration` after another, with
    evaluation, logging and a checkpoint around each.

    Args:
        config: the run's configuration.
        run_dir: where to write the run folder (none is written if None).
        resume: continue the run in ``run_dir`` from its last checkpoint.
        device: ``"cpu"``, ``"cuda"``, or None to pick CUDA when available.
        progress: show a progress bar.
        on_iteration: called with each progress row (e.g. for live plots or benchmarks).
        from_weights: with ``resume``, continue from ``agent.pt`` alone, with empty replay buffers
            and fresh optimizers (:func:`restore_run`).
    Returns:
        The last progress row, plus ``run_dir``, ``last_eval`` (the last meta-test's
        :class:`~pearlkit.evaluate.MetaTestSummary`, or None) and ``agent``.
    Raises:
        TrainingDiverged: a loss became NaN/inf; the last good checkpoint is kept.
        RunFolderBusy: another process is training ``run_dir`` (:func:`training_lock`).
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    with ExitStack() as held:  # the run folder's lock, once this process writes it (training_lock)
        run = new_run(config, pick_device(device))
        if resume:
            if run_dir is None:
                raise ValueError("resume=True needs the run_dir to resume")
            if not run_dir.is_dir():
                raise FileNotFoundError(f"{run_dir} does not exist: there is no run to resume")
            held.enter_context(training_lock(run_dir))
            # Left by a process killed mid-write. Here, where this process takes the folder over to
            # write it, not in restore_run, which reads folders other processes may be writing.
            for stale in run_dir.glob(".*.tmp"):
                stale.unlink()
            changed = restore_run(run, run_dir, from_weights)
            precision = format_on_resume(read_versions(run_dir), config, run.trainer.agent, changed)
            # Not where a finished run is only looked at again.
            if changed or runs_on(config, run.state.iteration, run.state.env_steps):
                record_resume(run_dir, run.state.iteration, changed, run.trainer.agent.device, from_weights, precision)
        elif from_weights:
            raise ValueError("from_weights=True continues a run: it needs resume=True")
        elif run_dir is not None:
            if (run_dir / CHECKPOINT_NAME).exists():
                raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another --out")
            run_dir.mkdir(parents=True, exist_ok=True)
            held.enter_context(training_lock(run_dir))
            # The CPU too, so a shipped result can say what machine its wall clock was measured on.
            (run_dir / "versions.json").write_text(json.dumps({**versions(), "cpu": cpu_name(),
                                                               **_gpu(run.trainer.agent.device),
                                                               "precision": dtype_name(run.trainer.agent.precision)},
                                                              indent=2) + "\n")
        if run_dir is not None:  # a resumed run records its (possibly extended) config
            atomic_write_bytes(run_dir / "config.json", lambda f: f.write((config.to_json() + "\n").encode()))
            # In the agent file too, which meta-test reads, even where no iteration is left; not yet
            # in a checkpoint where the buffers are still to be refilled.
            if resume and not run.refill:
                _save_run(run_dir, run)

        return _iterate(run, config, run_dir, progress, on_iteration)


def _iterate(run: Run, config: PearlConfig, run_dir: Path | None, progress: bool,
             on_iteration: Callable[[dict], None] | None) -> dict[str, Any]:
    """:func:`train`'s loop: iterations until the config's length or budget, each evaluated on
    schedule and saved; returns what :func:`train` returns."""
    state, last_eval = run.state, None
    bar = tqdm(total=config.num_iterations, initial=state.iteration, disable=not progress,
               desc="meta-training", unit="it", dynamic_ncols=True)
    while runs_on(config, state.iteration, state.env_steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            collected, losses = meta_train_iteration(run.trainer, state.iteration, refill=run.refill)
            run.refill = False
        except TrainingDiverged as error:
            kept = (f"the last good checkpoint (iteration {state.iteration}) is kept in {run_dir}"
                    if run_dir and state.iteration else "no checkpoint had been written yet")
            raise TrainingDiverged(f"{error}; {kept}") from None
        row = {"iteration": state.iteration + 1, **losses}
        last = not runs_on(config, row["iteration"], state.env_steps + collected)
        if row["iteration"] % config.eval_every == 0 or last:
            last_eval = evaluate_run(run)
            row.update(_eval_columns(last_eval))
        state.iteration += 1
        state.env_steps += collected
        state.grad_steps += config.num_train_steps_per_itr
        state.seconds += time.perf_counter() - start
        if state.cpu_seconds is not None:
            state.cpu_seconds += time.process_time() - cpu_start
        row.update(env_steps=state.env_steps, grad_steps=state.grad_steps, seconds=round(state.seconds, 2),
                   cpu_seconds=None if state.cpu_seconds is None else round(state.cpu_seconds, 2))
        state.rows.append(row)
        if run_dir is not None:
            _save_run(run_dir, run)
        if on_iteration is not None:
            on_iteration(row)
        bar.update(1)
        bar.set_postfix(steps=state.env_steps, ret=row.get("eval/return_after_exploration", "-"),
                        success=row.get("eval/success_rate", "-"), refresh=False)
    if state.iteration < config.num_iterations:  # the environment-step budget ended the run
        bar.total = state.iteration
        bar.set_description(f"meta-training (env_step_budget={config.env_step_budget:,} reached)")
        bar.refresh()
    bar.close()
    return {**(state.rows[-1] if state.rows else {}), "run_dir": str(run_dir) if run_dir else None,
            "last_eval": last_eval, "agent": run.trainer.agent}


def _eval_columns(metrics: MetaTestSummary) -> dict[str, float]:
    columns = {"eval/return_after_exploration": round(metrics.return_after_exploration, 4),
               "eval/reported_return": round(metrics.reported_return, 4)}
    if metrics.success_rate is not None:
        columns["eval/success_rate"] = round(metrics.success_rate, 4)
        columns["eval/found_during_exploration"] = round(metrics.found_during_exploration, 4)
        columns["eval/reported_success"] = round(metrics.reported_success, 4)
    return columns


def _save_run(run_dir: Path, run: Run) -> None:
    """Write the agent, the full checkpoint and progress.csv, each atomically, and as one unit
    for Ctrl-C and ``kill``: a stop during the save waits for all three."""
    trainer, state = run.trainer, run.state
    config, agent = trainer.config.to_dict(), trainer.agent.state_dict()
    with stop_signals_deferred():
        save_checkpoint(run_dir / AGENT_NAME, {"config": config, "agent": agent, "iteration": state.iteration})
        save_checkpoint(run_dir / CHECKPOINT_NAME, {
            "config": config, "agent": agent, "critic_optimizer": trainer.optimizers.critic.state_dict(),
            "actor_optimizer": trainer.optimizers.actor.state_dict(), "replay": trainer.replay.state_dict(),
            "context_buffer": trainer.context_buffer.state_dict(), "state": dataclasses.asdict(state),
            "rng": _rng_state(trainer.rng), "pools": {"training": trainer.pool.state_dict(),
                                                      "evaluation": run.eval_pool.state_dict()}})
        _write_progress(run_dir, state.rows)
