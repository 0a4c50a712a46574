"""Where a run executes (device, threads) and how it is seeded."""
from __future__ import annotations

import contextlib
import os
import random
import sys
from typing import Iterator

import numpy as np
import torch


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``), else CUDA when available, else CPU."""
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available; use 'cpu'")
    return device


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return the NumPy generator the run draws tasks from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def seeded_stream(seed: int, device: torch.device) -> Iterator[None]:
    """Draw torch's randomness (on CPU and on ``device``) from ``seed`` inside the block, then put
    the global random state back, so the block never shifts what the caller draws afterwards."""
    cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


def default_mujoco_gl() -> str | None:
    """Pick MuJoCo's offscreen OpenGL backend where nothing else can render, before MuJoCo loads.

    MuJoCo reads ``MUJOCO_GL`` once, when it is first imported. On a Linux machine with no
    display, its default (GLFW) cannot open a window, so set ``egl`` (GPU machines such as
    Colab) or ``osmesa`` (software rendering; Debian's ``libosmesa6``). A value already set,
    or a machine with a display, is left alone. Returns the backend chosen, if any.
    """
    if os.environ.get("MUJOCO_GL") or not sys.platform.startswith("linux"):  # an empty value counts as unset
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    os.environ["MUJOCO_GL"] = "egl" if torch.cuda.is_available() else "osmesa"
    return os.environ["MUJOCO_GL"]
