"""Copy a trained run into ``results/<family>/``: what ``python -m pearlkit evaluate`` needs, the
curve, and the commands that regenerate it.

    python scripts/ship_result.py runs/cheetah-vel-seed0 cheetah-vel
    python scripts/ship_result.py runs/nav-det-seed0 sparse-point-robot --name sparse-point-robot-deterministic

Writes ``config.json``, ``progress.csv``, ``versions.json``, ``agent.pt`` (policy, encoder and
critics: a few MB; the resumable ``checkpoint.pt`` with its replay buffers stays behind) and a
``README.md`` with the training command, the budget it took and the meta-test result, which
it measures here with ``evaluate --json`` (seed 0).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

import pearlkit
from pearlkit.checkpoint import SHIPPED_FILES
from pearlkit.cli import default_run_dir, train_command
from pearlkit.evaluate import run_meta_test
from pearlkit.training import read_progress

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("preset", choices=sorted(k for k in pearlkit.PRESETS if not k.endswith("-paper")),
                        help="the preset the run was trained from")
    parser.add_argument("--name", help="the folder under results/ (default: the preset's name), for a "
                                       "variant trained with --set, such as the deterministic encoder")
    parser.add_argument("--note", default="", help="a sentence on where the run stands")
    args = parser.parse_args()
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
    metrics = run_meta_test(tmp, seed=0, device="cpu")
    if metrics.iteration != int(last["iteration"]):
        shutil.rmtree(tmp)
        raise SystemExit(f"error: {args.run_dir}/agent.pt is at iteration {metrics.iteration} but progress.csv "
                         f"ends at {last['iteration']}; resume the run for an iteration, then ship it")
    run_name = default_run_dir(name, config.seed)
    navigation = "" if metrics.success_rate is None else (
        f"| success after exploration (entered the goal disc) | {metrics.success_rate:.2f} |\n"
        f"| reported success (the last trajectory) | {metrics.reported_success:.2f} |\n"
        f"| found during exploration | {metrics.found_during_exploration:.2f} |\n")
    readme = f"""# `{name}`: PEARL on `{config.env_id}`

{args.note}

Trained with (one thread; a killed or stopped run continues with the second command):

```bash
OMP_NUM_THREADS=1 {train_command(config, args.preset, out=run_name)}
python -m pearlkit train --resume {run_name}
python scripts/ship_result.py {run_name} {args.preset}{f" --name {name}" if args.name else ""}
```

| | |
|---|---|
| iterations | {last['iteration']} of {config.num_iterations} |
| environment steps | {int(last['env_steps']):,} |
| gradient steps | {int(last['grad_steps']):,} |
| training wall clock | {float(last['seconds']) / 3600:.2f} h ({float(last['seconds']):.0f} s, one CPU thread, sharing a {os.cpu_count()}-core {platform.machine()} machine) |
| return after exploration (`evaluate --json`, seed 0) | {metrics.return_after_exploration:.1f} over {metrics.num_tasks} test tasks |
| reported return (the reference's number: the last trajectory of {config.num_steps_per_eval} steps) | {metrics.reported_return:.1f} |
{navigation}| adaptation curve (mean return per trajectory) | {', '.join(f'{r:.1f}' for r in metrics.adaptation_curve)} |

Check it: `python -m pearlkit evaluate results/{name} --json`. `progress.csv` is the
learning curve (evaluated every {config.eval_every} iterations on the held-out tasks).
"""
    (tmp / "README.md").write_text(readme)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    print(json.dumps({"name": name, "iteration": int(last["iteration"]),
                      "return_after_exploration": metrics.return_after_exploration}))


if __name__ == "__main__":
    main()
