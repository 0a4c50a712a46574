"""Where a run executes (device, threads) and how it is seeded."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import importlib.metadata
import os
import platform
import random
import sys
import time
import warnings
from typing import Callable, Iterator

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


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` line of ``/proc/cpuinfo``; None where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.split(":", 1)[0].strip() == field), None)
    except OSError:
        return None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (x86 ``avx512_bf16`` or ``amx_bf16``)."""
    # Not Linux: no way to ask without a vendor library; float32 is the safe answer.
    flags = (_cpuinfo("flags") or "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_name() -> str:
    """This machine's CPU as results record it, e.g. ``"AMD EPYC 9R14 (2 cores)"``."""
    name = _cpuinfo("model name") or platform.processor() or platform.machine()
    return f"{name} ({os.cpu_count()} cores)"


def device_name(device: torch.device) -> str:
    """The machine a device computes on, as results record it: the CPU's name, or the GPU's."""
    return cpu_name() if device.type == "cpu" else torch.cuda.get_device_name(device)


def versions() -> dict[str, str]:
    """The versions a run was trained with (``versions.json``)."""
    version = importlib.metadata.version
    return {"pearlkit": version("pearlkit"), "python": platform.python_version(), "torch": version("torch"),
            "gymnasium": version("gymnasium"), "numpy": version("numpy")}


#: The values of ``PearlConfig.precision``.
PRECISIONS = ("auto", "bfloat16", "float32")
#: ``"auto"`` picks bfloat16 on a CPU only when its matrix products run at least this much faster.
AUTO_BF16_MIN_SPEEDUP = 1.5


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup() -> float:
    """float32 time over bfloat16 time of one hidden layer's product at the reference size
    (4096 x 300 by 300 x 300), best of 5 each, on this CPU at torch's thread count: about 0.1 s, once.

    The CPU flags alone do not say it: with AVX512-BF16 but without AMX, an Intel Xeon
    multiplies bfloat16 *slower* than MKL's float32 (0.6x, measured), while an AMD EPYC with
    the same flag runs it 4.5x faster.
    """
    generator = torch.Generator().manual_seed(0)
    a, w = torch.randn(4096, 300, generator=generator), torch.randn(300, 300, generator=generator)

    def best_of_5(x: torch.Tensor, y: torch.Tensor) -> float:
        x @ y  # warm-up: the first call picks and builds the kernel
        times = []
        for _ in range(5):
            start = time.perf_counter()
            x @ y
            times.append(time.perf_counter() - start)
        return min(times)

    return best_of_5(a, w) / best_of_5(a.bfloat16(), w.bfloat16())


def bf16_is_native(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware: a CUDA device of compute capability
    8.0 or more, or a CPU with AVX512-BF16 or AMX (:func:`cpu_has_native_bf16`). Elsewhere
    PyTorch emulates it, several times slower than float32."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu" and cpu_has_native_bf16()


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the hidden layers' matrix products for ``PearlConfig.precision`` on ``device``.

    ``"auto"`` gives bfloat16 only where the hardware multiplies it natively *and* faster:
    a CUDA device of compute capability 8.0 or more (A100, L4, H100; Colab's T4 is 7.5), or a
    CPU with AVX512-BF16 or AMX whose bfloat16 products run at least
    :data:`AUTO_BF16_MIN_SPEEDUP` times faster (:func:`cpu_bf16_speedup`). Everywhere else
    float32, so no machine gets slower. ``"bfloat16"`` is obeyed everywhere, with a warning
    where it is emulated (an AVX2-only CPU steps about 8x slower in it than in float32).
    """
    if precision == "float32":
        return torch.float32
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    native = bf16_is_native(device)
    if precision == "bfloat16":
        if not native:
            warnings.warn(f"precision='bfloat16' on {device_name(device)}, which has no native bfloat16: "
                          "PyTorch emulates it, several times slower than float32; precision='auto' picks float32 here",
                          stacklevel=2)
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if native else torch.float32
    return torch.bfloat16 if native and cpu_bf16_speedup() >= AUTO_BF16_MIN_SPEEDUP else torch.float32


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


#: What to install when no offscreen backend works (named by the error that rendering raises).
OFFSCREEN_INSTALL_HINT = ("install EGL (Debian/Ubuntu: apt-get install libegl1) or OSMesa "
                          "(apt-get install libosmesa6), or set MUJOCO_GL to a backend that works here; "
                          "Colab has EGL")
_EGL_PLATFORM_DEVICE_EXT = 0x313F


@functools.cache
def egl_works() -> bool:
    """Whether EGL can open a display on some device (a GPU, or Mesa's software device).

    Goes the way MuJoCo's EGL context does (``eglQueryDevicesEXT``, then a platform display
    per device), through ``ctypes``: a few milliseconds, and it never imports MuJoCo or PyOpenGL.
    """
    try:
        egl = ctypes.CDLL("libEGL.so.1")
    except OSError:
        return False
    egl.eglGetProcAddress.restype, egl.eglGetProcAddress.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    query_address = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
    display_address = egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
    if not query_address or not display_address:
        return False
    query_devices = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                     ctypes.POINTER(ctypes.c_int))(query_address)
    platform_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p,
                                        ctypes.c_void_p)(display_address)
    egl.eglInitialize.restype, egl.eglInitialize.argtypes = ctypes.c_uint, [ctypes.c_void_p] * 3
    egl.eglTerminate.argtypes = [ctypes.c_void_p]
    devices, count = (ctypes.c_void_p * 16)(), ctypes.c_int(0)
    if not query_devices(16, devices, ctypes.byref(count)):
        return False
    for device in devices[: count.value]:
        display = platform_display(_EGL_PLATFORM_DEVICE_EXT, device, None)
        if display and egl.eglInitialize(display, None, None):
            egl.eglTerminate(display)
            return True
    return False


@functools.cache
def osmesa_works() -> bool:
    """Whether libOSMesa (software rendering) loads, as PyOpenGL will load it."""
    name = ctypes.util.find_library("OSMesa")
    try:
        return name is not None and hasattr(ctypes.CDLL(name), "OSMesaCreateContextExt")
    except OSError:
        return False


#: Offscreen OpenGL backends ``import pearlkit`` tries, in this order, where no display exists,
#: each with the probe that says whether it works here.
_BACKEND_PROBES: dict[str, Callable[[], bool]] = {"egl": egl_works, "osmesa": osmesa_works}
OFFSCREEN_BACKENDS = tuple(_BACKEND_PROBES)


def mujoco_gl_problem() -> str | None:
    """What is wrong with ``MUJOCO_GL`` here, if it names an offscreen backend whose probe fails
    (MuJoCo's import then fails on it, in PyOpenGL, with an error that does not say why)."""
    chosen = os.environ.get("MUJOCO_GL", "").lower().strip()  # as MuJoCo reads it
    if chosen not in _BACKEND_PROBES or _BACKEND_PROBES[chosen]():
        return None
    return (f"MUJOCO_GL={chosen}, but {chosen} does not work on this machine, so MuJoCo cannot be imported: "
            f"{OFFSCREEN_INSTALL_HINT}; or unset MUJOCO_GL and pearlkit picks a backend that works")


def default_mujoco_gl() -> str | None:
    """Pick MuJoCo's offscreen OpenGL backend where nothing else can render, before MuJoCo loads.

    MuJoCo reads ``MUJOCO_GL`` once, when it is first imported, and a backend whose library
    is missing breaks that import. On a Linux machine with no display, its default (GLFW)
    cannot open a window, so this sets the first of :data:`OFFSCREEN_BACKENDS` whose probe
    succeeds here (EGL: GPUs, and Mesa on a CPU; then OSMesa). A value already set, a machine
    with a display, or one where no backend works is left alone: MuJoCo then imports as
    usual and only rendering fails (:func:`pearlkit.render.offscreen_renderer` says what to
    install). A value set to an offscreen backend whose probe fails here gets a warning: MuJoCo's
    own import would fail on it with an error that does not say why. Returns the backend chosen,
    if any.
    """
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("MUJOCO_GL"):  # an empty value counts as unset
        problem = mujoco_gl_problem()
        if problem is not None:
            warnings.warn(f"{problem} (the navigation families do not need MuJoCo)", RuntimeWarning, stacklevel=2)
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    backend = next((name for name in OFFSCREEN_BACKENDS if _BACKEND_PROBES[name]()), None)
    if backend is not None:
        os.environ["MUJOCO_GL"] = backend
    return backend
