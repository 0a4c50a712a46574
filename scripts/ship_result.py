"""Copy a trained run into ``results/<family>/``: what ``python -m pearlkit evaluate`` needs, the
curve, and the commands that regenerate it.

    python scripts/ship_result.py runs/cheetah-vel-seed0 cheetah-vel
    python scripts/ship_result.py runs/nav-det-seed0 sparse-point-robot --name sparse-point-robot-deterministic

Writes ``config.json``, ``progress.csv``, ``versions.json``, ``agent.pt`` (policy, encoder and
critics: a few MB; the resumable ``checkpoint.pt`` with its replay buffers stays behind), for a
MuJoCo family ``adaptation.mp4`` and ``adaptation.json`` (the agent filmed adapting to three
held-out tasks, which chapter 6 shows) and a
``README.md`` with the training command, the budget it took and the meta-test result, which
it measures here (``evaluation.json``: ``evaluate --seeds 0-4``; CI re-checks it).

    python scripts/ship_result.py results/ant-fwd-back --reevaluate   # measure a shipped result anew

``--threads N`` says how many threads the run trained with, and ``--alone`` that nothing else
ran on the machine meanwhile; the README's wall-clock row says so, with the CPU the run recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pearlkit
from pearlkit.checkpoint import SHIPPED_FILES
from pearlkit.cli import default_run_dir, train_command, training_commands
from pearlkit.config import budget_allows
from pearlkit.envs import is_navigation
from pearlkit.evaluate import EVALUATION_FILE, EVALUATION_SEEDS, record_evaluation
from pearlkit.render import film_result
from pearlkit.training import read_progress

ROOT = Path(__file__).resolve().parents[1]


#: How a README's table names each figure of ``evaluation.json``.
FIGURE_NAMES = {"return_after_exploration": "return after exploration", "reported_return": "reported return",
                "success_rate": "success after exploration", "reported_success": "reported success",
                "found_during_exploration": "found during exploration"}
#: The first and last row of the README table that :func:`evaluation_rows` writes.
FIRST_ROW, LAST_ROW = "| return after exploration (`evaluate --json`, seed 0) |", "| adaptation curve ("


def figure(key: str, value: float) -> str:
    """A figure as the README writes it: shares (success, found) to 2 decimals, returns to 1."""
    return f"{value:.2f}" if key in ("success_rate", "reported_success", "found_during_exploration") else f"{value:.1f}"


def cpu_time_row(last: dict[str, str]) -> str:
    """The README row of a run's CPU time (``progress.csv``'s ``cpu_seconds``: not stretched by
    other runs on the same cores or by pauses, as the wall clock is), with its line break; none
    for a run trained before the column existed, or resumed from such a checkpoint."""
    if not last.get("cpu_seconds"):
        return ""
    cpu = float(last["cpu_seconds"])
    return f"| training CPU time | {cpu / 3600:.2f} h ({cpu:.0f} s: the time the run computed, whatever shared its cores) |\n"


def iterations_row(last: dict[str, str], config: pearlkit.PearlConfig) -> str:
    """The README row of the iterations a run trained, and what ended it where that was its
    ``env_step_budget``, not ``num_iterations`` (a run shipped while it still trains has neither
    said of it); with its line break."""
    done = int(last["iteration"])
    budget_ended = not budget_allows(config, int(last["env_steps"]), done)
    ended = (f" (its budget of {config.env_step_budget:,} env steps ended it: another iteration could have "
             f"collected past it)" if done < config.num_iterations and budget_ended else "")
    return f"| iterations | {done} of {config.num_iterations}{ended} |\n"


def resume_line(run_name: str, last: dict[str, str], config: pearlkit.PearlConfig) -> str:
    """The command that goes on with a killed or stopped run, after a comment line where the
    commands would train past the shipped agent's iteration, saying how to stop there (not where
    the learning rates follow a schedule over ``num_iterations``: stopping early would change it)."""
    done = int(last["iteration"])
    line = f"python -m pearlkit train --resume {run_name}"
    goes_on = done < config.num_iterations and budget_allows(config, int(last["env_steps"]), done)
    if goes_on and config.lr_schedule == "constant":
        budget = " or until env_step_budget ends them" if config.env_step_budget is not None else ""
        line = (f"# these commands train on past this agent's iteration {done} (to {config.num_iterations}{budget}): "
                f"to stop there, give the last command above --set num_iterations={done} (in place of any it sets)\n{line}")
    return line


def thread_count(threads: int, noun: str = "thread") -> str:
    """``"one thread"`` or ``"2 threads"`` (with ``noun="CPU thread"``: ``"one CPU thread"``)."""
    return f"one {noun}" if threads == 1 else f"{threads} {noun}s"


def machines(versions: dict) -> str:
    """Where a run's clock ran, from its ``versions.json``: the CPU (and GPU) it started on (runs
    trained before that was recorded say so), then each resume's iteration, machine and changed
    fields, and those that went on from the weights alone (``train --resume --from-weights``). The
    number format is named where ``versions.json`` recorded it: at the start, and where a resume
    changed it (``precision="auto"`` decides again on another machine).
    Resumes made before 2026-12-04 were not recorded; a README should say so by hand where a run
    had them."""
    on = lambda record: (record["cpu"] + (f" with {record['gpu']}" if "gpu" in record else "")
                         + (f", in {record['precision']}" if "precision" in record else ""))
    started = on(versions) if versions.get("cpu") else "a machine whose CPU the run did not record"
    resumes = []
    for resume in versions.get("resumed", []):
        changed = ", ".join(f"{k}={v}" for k, v in resume.get("changed", {}).items())
        how = (" from its weights alone (replay buffers refilled, optimizers fresh)"
               if resume.get("from_weights") else "")
        resumes.append(f"resumed at iteration {resume['iteration']}{how} on {on(resume)}"
                       + (f", changing {changed}" if changed else ""))
    return "; ".join([started, *resumes])


def wall_clock_row(last: dict[str, str], versions: dict, threads: int = 1, alone: bool = False) -> str:
    """The README row of a run's wall clock, with how it shared the machine: a clean figure only
    for a run ``alone`` on the machine (``--alone``), otherwise what its neighbours left it, and
    every machine it ran on (:func:`machines`)."""
    seconds = float(last["seconds"])
    share = "alone on" if alone else "sharing"
    machine = machines(versions)
    return f"| training wall clock | {seconds / 3600:.2f} h ({seconds:.0f} s, {thread_count(threads, 'CPU thread')}, {share} {machine}) |\n"


def evaluation_rows(record: dict, config: pearlkit.PearlConfig) -> str:
    """The README table's rows for an ``evaluation.json`` record: seed 0 as ``evaluate --json``
    prints it, then the mean and standard error over the recorded seeds."""
    first = record["by_seed"][0]
    rows = [f"{FIRST_ROW} {first['return_after_exploration']:.1f} over {first['num_tasks']} test tasks |",
            f"| reported return (the reference's number: the last trajectory of {config.num_steps_per_eval} steps) "
            f"| {first['reported_return']:.1f} |"]
    if first["success_rate"] is not None:
        rows += [f"| success after exploration (entered the goal disc) | {first['success_rate']:.2f} |",
                 f"| reported success (the last trajectory) | {first['reported_success']:.2f} |",
                 f"| found during exploration | {first['found_during_exploration']:.2f} |"]
    rows.append(f"{LAST_ROW}mean return per trajectory, seed 0) | "
                f"{', '.join(f'{r:.1f}' for r in first['adaptation_curve'])} |")
    over = "; ".join(f"{label} {figure(key, record['mean'][key])} ± {figure(key, record['standard_error'][key])}"
                     for key, label in FIGURE_NAMES.items() if key in record["mean"])
    seeds = record["seeds"]
    rows.append(f"| evaluation seeds {seeds[0]}-{seeds[-1]}, mean ± standard error (`{EVALUATION_FILE}`, measured "
                f"on {record['measured_on']}) | {over} |")
    return "\n".join(rows)


def replace_evaluation_rows(readme: str, rows: str) -> str:
    """``readme`` with its evaluation rows (from :data:`FIRST_ROW` through the seeds row, or
    through :data:`LAST_ROW` in a README written before ``evaluation.json``) replaced by ``rows``."""
    lines = readme.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(FIRST_ROW))
    end = next(i for i, line in enumerate(lines) if line.startswith(LAST_ROW))
    if end + 1 < len(lines) and lines[end + 1].startswith("| evaluation seeds"):
        end += 1
    return "\n".join(lines[:start] + [rows] + lines[end + 1:])


def how_trained(commands: list[str] | None) -> str:
    """What the README's commands are (:func:`pearlkit.cli.training_commands`'s, or, where those
    cannot be known, the command of the run's last config)."""
    if commands is None:
        return ("its resumes changed its config, as the wall-clock row below lists, before they recorded what they "
                "replaced: the first command gives its last config; a killed or stopped run continues with "
                "`train --resume`")
    if len(commands) > 1:
        return ("the first commands train it again as it was trained, each stage stopping where the run was resumed "
                "with a changed config or from its weights alone; a killed or stopped run continues with "
                "`train --resume`")
    return "a killed or stopped run continues with `train --resume`"


def film_if_mujoco(folder: Path, config: pearlkit.PearlConfig) -> None:
    """Film a MuJoCo agent adapting (:func:`pearlkit.render.film_result`), which chapter 6
    shows; navigation agents are drawn by the chapters, not filmed."""
    if not is_navigation(config.env_id):
        film_result(folder)


def reevaluate(folder: Path) -> None:
    """Measure ``evaluation.json`` of an already shipped ``folder`` anew (and film its video anew),
    and rewrite its README's evaluation rows, keeping its notes (after a change that moves the figures, or for a result
    shipped before ``evaluation.json`` existed)."""
    config = pearlkit.PearlConfig.from_file(folder / "config.json")
    record = record_evaluation(folder)
    film_if_mujoco(folder, config)
    readme = folder / "README.md"
    readme.write_text(replace_evaluation_rows(readme.read_text(), evaluation_rows(record, config)))
    print(json.dumps({"name": folder.name, **record["mean"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("preset", nargs="?", choices=sorted(k for k in pearlkit.PRESETS if not k.endswith("-paper")),
                        help="the preset the run was trained from")
    parser.add_argument("--name", help="the folder under results/ (default: the preset's name), for a "
                                       "variant trained with --set, such as the deterministic encoder")
    parser.add_argument("--note", default="", help="a sentence on where the run stands")
    parser.add_argument("--threads", type=int, default=1,
                        help="the CPU threads the run trained with (default 1, as the README's command runs it)")
    parser.add_argument("--alone", action="store_true",
                        help="nothing else ran on the machine while it trained, so its wall clock is a clean figure")
    parser.add_argument("--reevaluate", action="store_true",
                        help="RUN_DIR is an already shipped results/<name>: measure its evaluation.json anew "
                             "and rewrite its README's evaluation rows")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.reevaluate:
        reevaluate(args.run_dir)
        return
    if args.preset is None:
        parser.error("the preset the run was trained from is required (unless --reevaluate)")
    name = args.name or args.preset
    out = ROOT / "results" / name
    tmp = out.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for file_name in SHIPPED_FILES:
        shutil.copy2(args.run_dir / file_name, tmp / file_name)
    config = pearlkit.PearlConfig.from_dict(json.loads((tmp / "config.json").read_text()))
    rows = read_progress(tmp)
    last = rows[-1]
    record = record_evaluation(tmp)
    if record["by_seed"][0]["iteration"] != int(last["iteration"]):
        shutil.rmtree(tmp)
        raise SystemExit(f"error: {args.run_dir}/agent.pt is at iteration {record['by_seed'][0]['iteration']} but "
                         f"progress.csv ends at {last['iteration']}; resume the run for an iteration, then ship it")
    film_if_mujoco(tmp, config)
    run_name = default_run_dir(name, config.seed)
    versions = json.loads((tmp / "versions.json").read_text())
    how = f" --threads {args.threads}" + (" --alone" if args.alone else "")
    commands = training_commands(config, versions, args.preset, run_name)
    train_lines = "\n".join(f"OMP_NUM_THREADS={args.threads} {command}"
                            for command in commands or [train_command(config, args.preset, out=run_name)])
    method = "PEARL" if config.latent_dim else "SAC with no task inference (`latent_dim=0`)"
    readme = f"""# `{name}`: {method} on `{config.env_id}`

{args.note}

Trained with ({thread_count(args.threads)}; {how_trained(commands)}):

```bash
{train_lines}
{resume_line(run_name, last, config)}
python scripts/ship_result.py {run_name} {args.preset}{f" --name {name}" if args.name else ""}{how}
```

| | |
|---|---|
{iterations_row(last, config)}| environment steps | {int(last['env_steps']):,} |
| gradient steps | {int(last['grad_steps']):,} |
{wall_clock_row(last, versions, args.threads, args.alone)}{cpu_time_row(last)}{evaluation_rows(record, config)}

Check it: `python -m pearlkit evaluate results/{name} --seeds 0-{EVALUATION_SEEDS[-1]}` (CI does, against
`{EVALUATION_FILE}`). `progress.csv` is the learning curve (evaluated every {config.eval_every} iterations on the held-out tasks).
"""
    (tmp / "README.md").write_text(readme)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    print(json.dumps({"name": name, "iteration": int(last["iteration"]), **record["mean"]}))


if __name__ == "__main__":
    main()
