"""How long the book's preset takes to solve sparse 2D navigation on this machine.

Trains the ``sparse-point-robot`` preset (held-out goals evaluated during training, every
``eval_every`` iterations) and prints, as its last line, one JSON object:
``seconds_to_solve`` (wall clock of the first evaluation with success >= 0.9 and return after
exploration >= 10; null if never), ``success_rate`` and ``return_after_exploration`` (the
last evaluation), ``env_steps``, ``seconds_total``.

    python benchmarks/solve_sparse_nav.py --seed 0 [--out runs/solve-0] [--set key=value ...]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

import pearlkit
from pearlkit.cli import with_overrides
from pearlkit.training import read_progress

SOLVED_SUCCESS, SOLVED_RETURN = 0.9, 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="sparse-point-robot")
    parser.add_argument("--out", default=None, help="run folder (a temporary one if omitted)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--stop-when-solved", action="store_true", help="stop at the first solved evaluation")
    args = parser.parse_args()
    config = with_overrides(pearlkit.get_preset(args.preset), args.set).replace(seed=args.seed)
    out = args.out or tempfile.mkdtemp(prefix="solve-sparse-nav-")
    solved_at: list[float] = []
    start = time.perf_counter()

    def on_iteration(row: dict) -> None:
        success, ret = row.get("eval/success_rate"), row.get("eval/return_after_exploration")
        print(json.dumps({k: row.get(k) for k in ("iteration", "env_steps", "seconds", "eval/success_rate",
                                                  "eval/return_after_exploration", "train/kl", "train/z_var")}),
              flush=True)
        if not solved_at and success is not None and success >= SOLVED_SUCCESS and ret >= SOLVED_RETURN:
            solved_at.append(time.perf_counter() - start)
            if args.stop_when_solved:
                raise StopIteration

    try:
        pearlkit.train(config, out, progress=False, on_iteration=on_iteration)
    except StopIteration:
        pass
    rows = read_progress(out)
    evaluated = [r for r in rows if r["eval/success_rate"] != ""]
    last = evaluated[-1] if evaluated else {}
    print(json.dumps({
        "seconds_to_solve": round(solved_at[0], 1) if solved_at else None,
        "success_rate": float(last["eval/success_rate"]) if last else None,
        "return_after_exploration": float(last["eval/return_after_exploration"]) if last else None,
        "env_steps": int(rows[-1]["env_steps"]), "seconds_total": round(time.perf_counter() - start, 1),
        "seed": args.seed, "threads": torch.get_num_threads(), "run_dir": out, "overrides": args.set,
    }))


if __name__ == "__main__":
    main()
