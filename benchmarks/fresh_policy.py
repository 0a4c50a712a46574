"""A run folder whose agent keeps another run's encoder and starts every other network afresh.

    python benchmarks/fresh_policy.py SOURCE_RUN OUT
    python -m pearlkit train --resume OUT --from-weights --set context_lr=1e-12 [relabel_goals=0 ...]

Does a policy learn to act on z when z is a fixed code from the start? PEARL's policy and critic
learn on a code that the encoder is still learning, and they carry what they learned on it. OUT
keeps SOURCE's ``config.json``, ``progress.csv`` and ``versions.json`` and an ``agent.pt`` at
SOURCE's iteration whose encoder is SOURCE's and whose policy, Q-functions, V and target are
initialised as a run of SOURCE's config and seed initialises them
(:func:`pearlkit.pearl.new_trainer`). Resumed from the weights, it refills every task's buffers
with the fresh policy, as iteration 0 does, and a tiny ``context_lr`` holds the encoder still
(``benchmarks/RESULTS.md``, "Resume goes on exactly; a code that stops moving; relabelling and the
policy").
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from pearlkit.checkpoint import AGENT_NAME, load_checkpoint, save_checkpoint
from pearlkit.config import PearlConfig
from pearlkit.pearl import new_trainer

KEPT_FILES = ("config.json", "progress.csv", "versions.json")


def fresh_policy(source: Path, out: Path) -> int:
    """Write OUT (a new folder) from SOURCE as the module says; returns the iteration.

    Raises:
        FileExistsError: OUT exists.
        FileNotFoundError: SOURCE lacks one of the files OUT needs.
    """
    if out.exists():
        raise FileExistsError(f"{out} exists; give a new folder")
    missing = [name for name in (*KEPT_FILES, AGENT_NAME) if not (source / name).exists()]
    if missing:
        raise FileNotFoundError(f"{source} is not a run folder: no {', '.join(missing)}")
    checkpoint = load_checkpoint(source / AGENT_NAME, "cpu")
    config = PearlConfig.from_dict(checkpoint["config"])
    weights = new_trainer(config, torch.device("cpu")).agent.state_dict()
    weights.update({k: v for k, v in checkpoint["agent"].items() if k.startswith("encoder.")})
    out.mkdir(parents=True)
    for name in KEPT_FILES:
        shutil.copy(source / name, out / name)
    save_checkpoint(out / AGENT_NAME, {**checkpoint, "agent": weights})
    return checkpoint["iteration"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    iteration = fresh_policy(args.source, args.out)
    print(f"{args.out}: {args.source}'s encoder at iteration {iteration}, every other network fresh")


if __name__ == "__main__":
    main()
