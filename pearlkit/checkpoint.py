"""Saving and loading run state, atomically: a crash never leaves a half-written file; and
loading a run folder's trained agent."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import torch

from pearlkit.config import PearlConfig
from pearlkit.pearl import PearlAgent, build_agent
from pearlkit.runtime import pick_device

#: Everything needed to resume a run (weights, optimizers, buffers, random states).
CHECKPOINT_NAME = "checkpoint.pt"
#: The weights evaluation needs, with the config they were trained with.
AGENT_NAME = "agent.pt"
#: What a shipped run folder keeps (``results/``): enough to evaluate it and read its curve,
#: without the resumable checkpoint and its replay buffers.
SHIPPED_FILES = ("config.json", "progress.csv", "versions.json", AGENT_NAME)


@contextlib.contextmanager
def atomic_file(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to inside the block; when the block ends it
    replaces ``path`` (with the usual permissions), and if the block raises it is removed.
    ``suffix`` ends the temporary name (a writer that picks its format by extension needs it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, flush it to disk, then rename it
    over ``path`` (:func:`atomic_file`)."""
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_json(path: str | Path, value: Any, indent: int = 1) -> None:
    """Write ``value`` as JSON (one trailing newline) to ``path``, atomically
    (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, lambda f: f.write((json.dumps(value, indent=indent) + "\n").encode()))


def handler_settable(signum: int) -> bool:
    """Whether this code may replace ``signum``'s handler and put it back afterwards: Python runs
    signal handlers only in the main thread, and a handler installed outside Python reads as
    None and cannot be put back."""
    return threading.current_thread() is threading.main_thread() and signal.getsignal(signum) is not None


@contextlib.contextmanager
def stop_signals_deferred(signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and ``kill`` (SIGTERM) until the block ends, then act on them.

    Each file is already atomic; this keeps a *set* of files consistent: a run stopped while
    it writes its folder stops after the last file, never between two (an ``agent.pt`` one
    iteration ahead of ``progress.csv``). SIGKILL cannot be held; resume handles that case.
    A signal whose handler is not :func:`handler_settable` (outside the main thread, for one)
    is left alone.
    """
    pending: list[int] = []
    held = [s for s in signums if handler_settable(s)]
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:  # now, with the usual handler: KeyboardInterrupt for Ctrl-C, exit for kill
            signal.raise_signal(pending[0])


@contextlib.contextmanager
def signal_raises(signum: int, error: type[BaseException]) -> Iterator[None]:
    """Inside the block, ``signum`` raises ``error`` where the program stands, so that it unwinds
    as Ctrl-C does (``finally`` blocks run, the caller can catch it); the handler before is put
    back after. Where the handler is not :func:`handler_settable`, nothing changes."""
    if not handler_settable(signum):
        yield
        return

    def raise_error(signum: int, frame: Any) -> None:
        raise error

    previous = signal.signal(signum, raise_error)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` ``state`` to ``path`` atomically (temp file, then rename)."""
    atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    # weights_only=False: the checkpoint holds RNG states and the config dict besides tensors.
    return torch.load(path, map_location=device, weights_only=False)


def dtype_name(dtype: torch.dtype) -> str:
    """A number format as ``PearlConfig.precision`` and ``versions.json`` write it: ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


def recorded_precision(record: dict) -> str | None:
    """The number format a run's last stage trained in, from its ``versions.json`` (``record``):
    the start's ``"precision"``, or the last resume's that changed it. None for a run from before
    the format was recorded (2026-12-05)."""
    stages = [record, *record.get("resumed", [])]
    return next((stage["precision"] for stage in reversed(stages) if "precision" in stage), None)


def read_versions(run_dir: str | Path) -> dict:
    """A run folder's ``versions.json``, or ``{}`` where it has none."""
    path = Path(run_dir) / "versions.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_agent(run_dir: str | Path, device: str | None = None) -> tuple[PearlAgent, PearlConfig, int]:
    """The trained agent (in eval mode), its config and its iteration, from ``run_dir/agent.pt``.
    A run at ``precision="auto"`` meta-tests in the format its ``versions.json`` says it last
    trained in (where recorded), on any machine, so its figures do not depend on what ``"auto"``
    would pick here."""
    dev = pick_device(device)
    ckpt = load_checkpoint(Path(run_dir) / AGENT_NAME, dev)
    config = PearlConfig.from_dict(ckpt["config"])
    agent = build_agent(config, dev)
    trained_in = recorded_precision(read_versions(run_dir)) if config.precision == "auto" else None
    if trained_in is not None:
        agent.set_precision(getattr(torch, trained_in))
    agent.load_state_dict(ckpt["agent"])
    return agent.eval(), config, ckpt["iteration"]
