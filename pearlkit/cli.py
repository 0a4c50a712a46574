"""Command line: ``python -m pearlkit train|evaluate|render ...``.

    python -m pearlkit train sparse-point-robot --seed 0 --out runs/nav --set num_iterations=10
    python -m pearlkit train --resume runs/nav
    python -m pearlkit evaluate runs/nav --json
    python -m pearlkit evaluate results/cheetah-vel --seeds 0-4
    python -m pearlkit render results/cheetah-vel --out cheetah.mp4 --tasks 3
    python -m pearlkit sweep sparse-point-robot --seeds 0-2 --out sweeps/nav
    python -m pearlkit report sweeps/nav
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pearlkit.checkpoint import load_agent, signal_raises
from pearlkit.config import (
    EXPLORATION_ACTIONS,
    EXPLORATION_PRIORS,
    PRESETS,
    RESUMABLE_FIELDS,
    PearlConfig,
    config_fields,
    get_preset,
)
from pearlkit.envs import is_navigation
from pearlkit.evaluate import CHECKED_METRICS, evaluate_seeds, run_meta_test
from pearlkit.render import adaptation_video
from pearlkit.report import report
from pearlkit.run_status import format_status, run_status
from pearlkit.sweep import parse_seeds, summary_table, sweep
from pearlkit.training import RunFolderBusy, TrainingDiverged, train

# ----- from the command line into a PearlConfig, and back -----


def default_run_dir(preset: str, seed: int) -> Path:
    """Where ``train PRESET --seed SEED`` writes its run folder unless ``--out`` says otherwise."""
    return Path("runs") / f"{preset}-seed{seed}"


def format_value(value: Any) -> str:
    """A config value as ``--set`` spells it (a tuple as ``128,128``)."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def parse_value(key: str, type_name: str, raw: str) -> Any:
    """``raw`` (a ``--set`` value) read as the type of config field ``key``."""
    try:
        if type_name == "bool":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        if type_name == "int":
            return int(raw.replace("_", ""))
        if type_name == "float":
            return float(raw)
        optional = {"float | None": float, "int | None": int}
        if type_name in optional:
            return None if raw.lower() == "none" else optional[type_name](raw.replace("_", ""))
        if type_name == "tuple[int, ...]":
            return tuple(int(x) for x in raw.strip("()[] ").split(",") if x.strip())
        return raw
    except ValueError:
        raise ValueError(f"cannot parse {key}={raw!r} as {type_name}") from None


def with_overrides(config: PearlConfig, assignments: list[str]) -> PearlConfig:
    """``config`` with ``key=value`` strings (as from ``--set``) applied, each value parsed by its
    field's type."""
    fields, changes = config_fields(), {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--set expects key=value, got {assignment!r}")
        if key not in fields:
            raise ValueError(f"unknown config key {key!r}; allowed: {sorted(fields)}")
        changes[key] = parse_value(key, fields[key], raw.strip())
    return config.replace(**changes)


def train_command(config: PearlConfig, preset: str, out: str | Path | None = None) -> str:
    """The ``python -m pearlkit train`` command that starts a run of ``config``: the preset
    plus a ``--set`` for every field that differs from it."""
    base = get_preset(preset).to_dict()
    changed = {k: v for k, v in config.to_dict().items() if base[k] != v and k != "seed"}
    sets = " ".join(f"{k}={format_value(v)}" for k, v in changed.items())
    out = out or default_run_dir(preset, config.seed)
    return f"python -m pearlkit train {preset} --seed {config.seed} --out {out}" + (f" --set {sets}" if sets else "")


def training_commands(config: PearlConfig, versions: dict, preset: str, out: str | Path) -> list[str] | None:
    """The commands that train a run again as it was trained, from its final ``config`` and its
    ``versions.json``: :func:`train_command` for the config it started with, stopped (with
    ``num_iterations``) at the iteration of the first resume that changed its config or started
    from the weights alone, then one ``--resume`` (with ``--from-weights`` and ``--set`` for those
    changes as it was resumed) for each such resume. Resumes at the same iteration are one.
    A run never changed on resume gets :func:`train_command` alone. A run at ``precision="auto"``
    trained again on another machine may take another number format (``versions.json`` records
    which each stage took).

    Returns:
        The commands, or None where a resume did not record the values it replaced (``"was"``,
        recorded since 2026-12-05), so the start cannot be known.
    """
    stages: list[tuple[int, dict, bool]] = []  # (iteration, the values the resume replaced, from the weights)
    for resume in versions.get("resumed", []):
        from_weights = resume.get("from_weights", False)
        if not resume.get("changed") and not from_weights:
            continue
        if resume.get("changed") and "was" not in resume:
            return None
        was = resume.get("was", {})
        if stages and stages[-1][0] == resume["iteration"]:  # nothing trained in between: the first one's values
            iteration, earlier, earlier_from_weights = stages[-1]
            stages[-1] = (iteration, {**was, **earlier}, earlier_from_weights or from_weights)
        else:
            stages.append((resume["iteration"], was, from_weights))
    configs = [config]
    for _, was, _ in reversed(stages):
        configs.insert(0, configs[0].replace(**was))
    # Each stage but the last stops where the next resume began.
    configs = [c.replace(num_iterations=iteration) for c, (iteration, _, _) in zip(configs, stages)] + [config]
    commands = [train_command(configs[0], preset, out=out)]
    for before, after, (_, _, from_weights) in zip(configs, configs[1:], stages):
        earlier = before.to_dict()
        sets = " ".join(f"{k}={format_value(v)}" for k, v in after.to_dict().items() if earlier[k] != v)
        if sets or from_weights:  # none where a resume only set num_iterations to where the stage stops anyway
            commands.append(f"python -m pearlkit train --resume {out}" + (" --from-weights" if from_weights else "")
                            + (f" --set {sets}" if sets else ""))
    return commands


# ----- the commands -----


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pearlkit", description="Train and evaluate PEARL.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="meta-train from a preset, or resume a run")
    train.add_argument("preset", nargs="?", help=f"one of {sorted(PRESETS)} (omit with --resume)")
    train.add_argument("--seed", type=int, default=None, help="seed of the run (default: the preset's, 0)")
    train.add_argument("--out", type=Path, default=None, help="run folder (default: runs/PRESET-seedN)")
    train.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                       help="override config fields, e.g. --set num_iterations=20 kl_lambda=0.5")
    train.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                       help="continue this run from its last checkpoint (--set num_iterations=N extends it)")
    train.add_argument("--from-weights", action="store_true",
                       help="with --resume: continue from agent.pt alone (a shipped copy, or a run whose checkpoint "
                            "was lost; checkpoint.pt is ignored), with the replay buffers refilled first and fresh "
                            "optimizers")
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    train.add_argument("--no-progress", action="store_true",
                       help="no progress bar; instead, one line on stderr per evaluation (for a background run's log)")

    evaluate = sub.add_parser("evaluate", help="meta-test a trained run on its held-out tasks")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the evaluation's randomness")
    evaluate.add_argument("--seeds", help="several evaluation seeds (e.g. 0-4): each one's figures, their mean "
                                          "and its standard error")
    evaluate.add_argument("--online-posterior", action="store_true",
                          help="update the belief after every exploration trajectory (the paper's Algorithm 2)")
    evaluate.add_argument("--ignore-misses", action="store_true",
                          help="leave transitions without reward out of meta-test's belief (ignore_misses=meta-test)")
    evaluate.add_argument("--exploration-prior", choices=EXPLORATION_PRIORS, default=None,
                          help="what exploration z is drawn from, in place of the run's config: the unit prior or "
                               "the mixture of the agent's beliefs in its training tasks")
    evaluate.add_argument("--exploration-actions", choices=EXPLORATION_ACTIONS, default=None,
                          help="how the exploration trajectories act, in place of the run's config: the policy's "
                               "mean (the reference) or samples from it, as training collects its context data")
    evaluate.add_argument("--runs-per-task", type=int, default=None,
                          help="independent runs of each held-out task (default: the run's num_evals, as its "
                               "training evaluations); more runs give a steadier figure")
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar over --seeds")

    render = sub.add_parser("render", help="film a trained MuJoCo agent adapting to held-out tasks (MP4)")
    render.add_argument("run_dir", type=Path)
    render.add_argument("--out", type=Path, required=True, help="the MP4 file to write")
    render.add_argument("--tasks", type=int, default=3, help="held-out tasks filmed side by side (default 3)")
    render.add_argument("--seed", type=int, default=0, help="seed of the meta-test's randomness")
    render.add_argument("--every", type=int, default=2, help="film every N-th step (default 2)")
    render.add_argument("--device", default=None)

    sweeper = sub.add_parser("sweep", help="train every (preset, seed) pair as a Ray task, each in its own run folder")
    sweeper.add_argument("presets", nargs="+", metavar="PRESET", help=f"one or more of {sorted(PRESETS)}")
    sweeper.add_argument("--seeds", required=True, help="seeds and ranges, e.g. 0-4 or 0,2,7")
    sweeper.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides for every run")
    sweeper.add_argument("--out", type=Path, required=True, help="the sweep's folder (runs go to OUT/PRESET-seedN)")
    sweeper.add_argument("--address", default=None,
                         help="a Ray cluster to join (e.g. auto or ray://head:10001; default: start one here)")
    sweeper.add_argument("--cpus-per-trial", type=int, default=1, help="CPU threads per run (default 1)")
    sweeper.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPU share per run, e.g. 0.25 (default 0)")
    sweeper.add_argument("--max-retries", type=int, default=3,
                         help="retries of a run whose worker dies or that fails; each resumes from its checkpoint")
    sweeper.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    status = sub.add_parser("status", help="where training runs stand: progress, last evaluations, time left")
    status.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    status.add_argument("--json", action="store_true", help="print one JSON object per run")

    reporter = sub.add_parser("report", help="a sweep's results over seeds: table, curves, IQM, performance profile")
    reporter.add_argument("sweep_dir", type=Path)
    reporter.add_argument("--out", type=Path, default=None, help="where report.md and the PNGs go "
                                                                 "(default SWEEP_DIR/report)")
    reporter.add_argument("--reps", type=int, default=5000, help="bootstrap resamples (default 5000)")
    return parser


def evaluation_line(row: dict, config: PearlConfig) -> str:
    """One line for an evaluated iteration's progress row: what a run without a progress bar
    (``train --no-progress``, say under ``nohup``) writes to its log."""
    cpu = "" if row.get("cpu_seconds") is None else f" (CPU {row['cpu_seconds'] / 60:.1f} min)"
    line = (f"iteration {row['iteration']}/{config.num_iterations}: {row['env_steps']:,} env steps, "
            f"{row['seconds'] / 60:.1f} min{cpu}; return after exploration "
            f"{row['eval/return_after_exploration']:.1f} (reported {row['eval/reported_return']:.1f})")
    if "eval/success_rate" in row:
        line += f", success {row['eval/success_rate']:.2f} (reported {row['eval/reported_success']:.2f})"
    return line


class Terminated(KeyboardInterrupt):
    """``kill`` (SIGTERM) during ``train``: it stops as Ctrl-C does, unwinding, so the run folder
    is let go (its lock file removed) and the resume command printed."""


def _train(args: argparse.Namespace) -> int:
    if args.resume is not None:
        config_path = args.resume / "config.json"
        if not config_path.exists():
            raise ValueError(f"{args.resume} is not a run folder (no config.json)")
        if args.preset is not None or args.seed is not None:
            raise ValueError("--resume takes its preset and seed from the run folder; omit them")
        base = PearlConfig.from_file(config_path)
        changed = {a.partition("=")[0].strip() for a in args.set} - set(RESUMABLE_FIELDS)
        if changed:
            raise ValueError(f"a resumed run can only change {sorted(RESUMABLE_FIELDS)}, not {sorted(changed)}")
        config, out = with_overrides(base, args.set), args.resume
    else:
        if args.from_weights:
            raise ValueError("--from-weights continues a run: give it with --resume RUN_DIR")
        if args.preset is None:
            raise ValueError(f"name a preset ({', '.join(sorted(PRESETS))}) or --resume RUN_DIR")
        config = with_overrides(get_preset(args.preset), args.set)
        if args.seed is not None:
            config = config.replace(seed=args.seed)
        out = args.out or default_run_dir(args.preset, config.seed)

    def log_evaluation(row: dict) -> None:  # in place of the progress bar
        if "eval/return_after_exploration" in row:
            print(evaluation_line(row, config), file=sys.stderr, flush=True)

    try:
        # A run under nohup is stopped with kill: without this, SIGTERM ends it where it stands.
        with signal_raises(signal.SIGTERM, Terminated):
            result = train(config, out, resume=args.resume is not None, device=args.device,
                           progress=not args.no_progress, on_iteration=log_evaluation if args.no_progress else None,
                           from_weights=args.from_weights)
    except TrainingDiverged as error:
        print(f"error: training diverged: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:
        killed = isinstance(stop, Terminated)
        print(f"\n{'terminated' if killed else 'interrupted'}; the last finished iteration is saved: "
              f"python -m pearlkit train --resume {out}", file=sys.stderr)
        return 128 + (signal.SIGTERM if killed else signal.SIGINT)  # as a shell reports the signal
    if result.get("iteration", config.num_iterations) < config.num_iterations:
        print(f"env_step_budget={config.env_step_budget:,} reached: {result['env_steps']:,} env steps at iteration "
              f"{result['iteration']} of {config.num_iterations}, and another could collect past it", file=sys.stderr)
    summary = {k: result.get(k) for k in ("iteration", "env_steps", "seconds", "eval/return_after_exploration",
                                         "eval/success_rate")}
    print(json.dumps({"run_dir": str(out), **summary}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if args.seeds is not None:
        return _evaluate_seeds(args)
    metrics = run_meta_test(args.run_dir, seed=args.seed, online_posterior=args.online_posterior, device=args.device,
                            ignore_misses=args.ignore_misses, exploration_prior=args.exploration_prior,
                            runs_per_task=args.runs_per_task, exploration_actions=args.exploration_actions)
    if args.json:
        print(json.dumps(dataclasses.asdict(metrics)))
        return 0
    print(f"run {args.run_dir}: iteration {metrics.iteration}, {metrics.num_tasks} held-out tasks, "
          f"{metrics.runs_per_task} runs of each")
    print(f"  return after exploration: {metrics.return_after_exploration:.2f}")
    if metrics.success_rate is not None:
        print(f"  success rate:             {metrics.success_rate:.2f}")
    print(f"  reported return:          {metrics.reported_return:.2f}  (the reference's: the last trajectory)")
    if metrics.reported_success is not None:
        print(f"  reported success rate:    {metrics.reported_success:.2f}")
    curve = ", ".join(f"{r:.1f}" for r in metrics.adaptation_curve)
    print(f"  return per trajectory:    {curve}")
    return 0


def _evaluate_seeds(args: argparse.Namespace) -> int:
    if args.online_posterior:
        raise ValueError("--seeds evaluates the reference's protocol; use --seed with --online-posterior")
    result = evaluate_seeds(args.run_dir, parse_seeds(args.seeds), device=args.device, ignore_misses=args.ignore_misses,
                            exploration_prior=args.exploration_prior, runs_per_task=args.runs_per_task,
                            exploration_actions=args.exploration_actions, progress=not args.no_progress)
    if args.json:
        print(json.dumps(result))
        return 0
    first = result["by_seed"][0]
    print(f"run {args.run_dir}: iteration {first['iteration']}, {first['num_tasks']} held-out tasks, "
          f"{first['runs_per_task']} runs of each, evaluation seeds {args.seeds}")
    for name in CHECKED_METRICS:
        if name in result["mean"]:
            each = ", ".join(f"{s[name]:.2f}" for s in result["by_seed"])
            print(f"  {name:25s} {result['mean'][name]:9.2f} ± {result['standard_error'][name]:.2f}   ({each})")
    return 0


def _render(args: argparse.Namespace) -> int:
    agent, config, _ = load_agent(args.run_dir, args.device)
    if is_navigation(config.env_id):
        raise ValueError(f"render films MuJoCo families; {config.env_id} is drawn by pearlkit.plots instead")
    _, test_tasks = config.split_tasks()
    if not 1 <= args.tasks <= len(test_tasks):
        raise ValueError(f"--tasks must be between 1 and {len(test_tasks)} (the held-out tasks), got {args.tasks}")
    if args.every < 1:
        raise ValueError(f"--every must be >= 1, got {args.every}")
    path, result = adaptation_video(agent, config, test_tasks[: args.tasks], args.out, seed=args.seed,
                                    every=args.every)
    print(json.dumps({"video": str(path), "returns": result.returns.tolist()}))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    seeds = parse_seeds(args.seeds)
    # Every preset and --set value is checked here, before Ray or any run starts.
    configs = {preset: with_overrides(get_preset(preset), args.set) for preset in args.presets}
    trials, summaries = sweep(args.presets, seeds, configs, args.out, args.set, address=args.address,
                              cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                              max_retries=args.max_retries, progress=not args.no_progress)
    print(summary_table(trials, summaries))
    print(f"report: python -m pearlkit report {args.out}")
    return 1 if any("error" in s for s in summaries) else 0


def _status(args: argparse.Namespace) -> int:
    statuses = [run_status(run_dir) for run_dir in args.run_dirs]  # every folder checked before any output
    for status in statuses:
        print(json.dumps(status) if args.json else format_status(status))
    return 0


def _report(args: argparse.Namespace) -> int:
    if args.reps < 100:
        raise ValueError(f"--reps must be >= 100 for a usable interval, got {args.reps}")
    print(report(args.sweep_dir, args.out, reps=args.reps), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"train": _train, "evaluate": _evaluate, "render": _render, "sweep": _sweep, "report": _report,
                "status": _status}
    try:
        return commands[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, RunFolderBusy) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`... --json | head`): end quietly, as Unix tools do. Point
        # stdout at devnull so the interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
