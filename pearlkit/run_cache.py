"""Run folders trained on first use: how a chapter gets a trained agent without depending on
another notebook having run first.

:func:`cached_run` returns a finished run folder for a preset (plus overrides). If the folder
is missing it runs the command line, ``python -m pearlkit train ...``, exactly as a reader
would in a terminal; if an earlier run was interrupted it resumes it. A second call, from any
chapter, finds the folder finished and returns at once.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from pearlkit.cli import default_run_dir, format_value, with_overrides
from pearlkit.config import LOCOMOTION_FAST, get_preset
from pearlkit.evaluate import EVALUATION_FILE
from pearlkit.training import config_differences, finished_iterations


def status(message: str) -> None:
    """Tell the reader what is happening, on stderr: a terminal or a notebook shows it, and the
    built book leaves it off its pages (``stderr_output: remove``), as it does progress bars."""
    print(message, file=sys.stderr, flush=True)


#: Where run folders go unless ``root`` is given (relative to the working directory).
RUNS_ROOT_ENV = "PEARLKIT_RUNS"


def cached_run(preset: str, overrides: dict[str, object] | None = None, seed: int = 0,
               name: str | None = None, root: str | Path | None = None, device: str | None = None) -> Path:
    """A finished run folder for ``preset`` with ``overrides``, trained with the CLI if needed.

    Args:
        preset: a preset name (see ``pearlkit.PRESETS``).
        overrides: config fields to change, as for ``--set`` (e.g. ``{"num_iterations": 40}``).
        seed: the run's seed.
        name: the folder's name (default: ``PRESET-seedN``).
        root: the parent folder (default: ``$PEARLKIT_RUNS`` or ``runs``).
        device: passed to ``--device`` (default: CUDA when available).
    Raises:
        ValueError: an existing folder of that name holds a run with a different config
            (choose another ``name``); or the preset or an override is invalid.
        subprocess.CalledProcessError: training failed (its output says why).
    """
    assignments = [f"{key}={format_value(value)}" for key, value in (overrides or {}).items()]
    config = with_overrides(get_preset(preset), assignments).replace(seed=seed)  # validates early
    root = Path(root if root is not None else os.environ.get(RUNS_ROOT_ENV, "runs"))
    run_dir = root / name if name else root / default_run_dir(preset, seed).name
    done = finished_iterations(run_dir)
    differ = config_differences(run_dir, config)
    if differ:
        raise ValueError(f"{run_dir} holds a run with a different config (fields {differ}); "
                         f"pass another name= or delete the folder")
    if done >= config.num_iterations:
        status(f"using the trained run in {run_dir} ({done} iterations)")
        return run_dir
    command = [sys.executable, "-m", "pearlkit", "train", "--no-progress"]
    if (run_dir / "checkpoint.pt").exists():
        command += ["--resume", str(run_dir)]
    else:
        command += [preset, "--seed", str(seed), "--out", str(run_dir)]
        command += ["--set", *assignments] if assignments else []
    if device is not None:
        command += ["--device", device]
    shown = ["python", *command[1:]]
    status(f"training ({done} of {config.num_iterations} iterations done): {shlex.join(shown)}")
    subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    status(f"trained: {run_dir} ({finished_iterations(run_dir)} iterations)")
    return run_dir


#: The runs the chapters train: name -> (preset, overrides). Chapter 4 trains ``live`` as it
#: builds (a few minutes on 2 CPU cores); ``plain`` (PEARL as the paper specifies it, at the
#: book's budget), its ``deterministic`` and ``unbiased-critic`` variants, ``no-context`` (SAC
#: on the whole family with no task inference, the baseline) and ``pearl`` (the book's agent,
#: the ``sparse-point-robot`` preset) are the shipped agents of ``results/``
#: (:func:`shipped_run`), trained here only when a chapter's ``TRAIN_FROM_SCRATCH`` switch asks
#: (their preset's whole budget: about 20 minutes each on 2 CPU cores for the plain preset's,
#: more for the others, ``benchmarks/RESULTS.md``).
BOOK_RUNS: dict[str, tuple[str, dict[str, object]]] = {
    "live": ("sparse-point-robot-plain", {"num_iterations": 12}),
    "plain": ("sparse-point-robot-plain", {}),
    "deterministic": ("sparse-point-robot-plain", {"probabilistic_encoder": False}),
    "no-context": ("sparse-point-robot-plain", {"latent_dim": 0}),
    "unbiased-critic": ("sparse-point-robot-plain", {"critic_z_samples": 4}),
    "pearl": ("sparse-point-robot", {}),
}


def book_run(name: str, root: str | Path | None = None) -> Path:
    """One of the chapters' runs (:data:`BOOK_RUNS`), trained on first use.

    Args:
        name: ``"live"`` (chapter 4's short run), ``"plain"`` (PEARL as specified, the whole
            budget), ``"deterministic"`` (the deterministic context variant, same budget),
            ``"no-context"`` (no task inference, same budget), ``"unbiased-critic"`` (the
            critic's loss without its charge for the belief's width, same budget) or
            ``"pearl"`` (the book's agent, the ``sparse-point-robot`` preset).
    """
    if name not in BOOK_RUNS:
        raise ValueError(f"unknown book run {name!r}; the book has {sorted(BOOK_RUNS)}")
    preset, overrides = BOOK_RUNS[name]
    return cached_run(preset, overrides, name=f"book-{name}", root=root)


#: Where the book's repository keeps its trained MuJoCo results, seen from the repository
#: root, from ``chapters/`` (where the book executes) and from a Colab clone.
RESULTS_CANDIDATES = (Path("results"), Path("../results"), Path("pearl-book/results"))


def shipped_results() -> dict[str, Path]:
    """The trained locomotion runs shipped in the repository's ``results/<family>/``, by family
    name (the navigation agents there are :func:`shipped_run`'s).

    A family appears once its folder holds an ``agent.pt``; an empty dict means no
    ``results/`` folder was found (on Colab, the chapter's first cell clones the repository).
    """
    for root in RESULTS_CANDIDATES:
        if root.is_dir():
            return {p.name: p for p in sorted(root.iterdir())
                    if p.name in LOCOMOTION_FAST and (p / "agent.pt").exists()}
    return {}


def shipped_run(name: str) -> Path:
    """The trained run shipped as ``results/<name>/`` (``sparse-point-robot``, its
    ``-deterministic`` variant, or a locomotion family), for :func:`pearlkit.load_agent`.

    Raises:
        FileNotFoundError: naming the places looked in, when no such run is shipped.
    """
    for root in RESULTS_CANDIDATES:
        if (root / name / "agent.pt").exists():
            return root / name
    looked = ", ".join(str(root / name) for root in RESULTS_CANDIDATES)
    raise FileNotFoundError(f"no shipped run {name!r} (looked in {looked}); on Colab, the chapter's first cell "
                            "clones the repository, which holds it")


def shipped_evaluation(name: str) -> dict:
    """What ``results/<name>/evaluation.json`` records: the shipped agent meta-tested at evaluation
    seeds 0-4 (:func:`pearlkit.evaluate.evaluate_seeds`; CI checks that it still comes out)."""
    return recorded_evaluation(shipped_run(name))


def recorded_evaluation(run_dir: str | Path) -> dict:
    """What a shipped run folder's ``evaluation.json`` records (a result of ``results/``, or a run
    of a shipped sweep, whose seeds are :data:`pearlkit.evaluate.SWEEP_EVALUATION_SEEDS`)."""
    path = Path(run_dir) / EVALUATION_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} records no evaluation ({EVALUATION_FILE}); ship it with "
                                "scripts/ship_result.py or scripts/ship_sweep.py, which measure one")
    return json.loads(path.read_text())


#: The folder under ``results/`` where each chapter agent of :data:`BOOK_RUNS` is shipped
#: (chapter 4's live run is trained, never shipped).
SHIPPED_AS = {"plain": "sparse-point-robot-plain", "deterministic": "sparse-point-robot-deterministic",
              "no-context": "sparse-point-robot-no-context",
              "unbiased-critic": "sparse-point-robot-unbiased-critic", "pearl": "sparse-point-robot"}


def book_agent(name: str, train: bool = False) -> Path:
    """The run folder of a chapter's agent: the one shipped in ``results/`` (:data:`SHIPPED_AS`),
    or with ``train`` (a chapter's ``TRAIN_FROM_SCRATCH``) :func:`book_run`'s, trained here.

    Args:
        name: ``"plain"``, ``"deterministic"``, ``"no-context"``, ``"unbiased-critic"`` or
            ``"pearl"``.
    """
    if name not in SHIPPED_AS:
        raise ValueError(f"unknown book agent {name!r}; the book ships {sorted(SHIPPED_AS)}")
    return book_run(name) if train else shipped_run(SHIPPED_AS[name])


def shipped_sweep(name: str) -> Path:
    """The sweep folder shipped as ``results/sweeps/<name>/`` (its ``sweep.json`` and run
    folders without replay buffers), for :func:`pearlkit.report.load_presets` and meta-tests.

    Raises:
        FileNotFoundError: naming the places looked in, when no such sweep is shipped.
    """
    for root in RESULTS_CANDIDATES:
        if (root / "sweeps" / name / "sweep.json").exists():
            return root / "sweeps" / name
    looked = ", ".join(str(root / "sweeps" / name) for root in RESULTS_CANDIDATES)
    raise FileNotFoundError(f"no shipped sweep {name!r} (looked in {looked}); on Colab, the chapter's first cell "
                            "clones the repository, which holds it")
