"""Videos of a MuJoCo agent adapting: offscreen frames, a tracking camera, MP4 files.

Frames are rendered with MuJoCo's own offscreen renderer (``mujoco.Renderer``), which needs
an OpenGL backend without a window: ``MUJOCO_GL=egl`` (a GPU, or Mesa's EGL on a CPU) or
``MUJOCO_GL=osmesa`` (``import pearlkit`` picks the first that works when nothing is set). MP4
files are written with ``imageio`` and its bundled ffmpeg (H.264, which every browser plays).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from pearlkit.checkpoint import atomic_file
from pearlkit.config import PearlConfig
from pearlkit.envs.tasks import Task, make_env
from pearlkit.evaluate import MetaTestResult, meta_test
from pearlkit.pearl import PearlAgent
from pearlkit.runtime import OFFSCREEN_INSTALL_HINT

if TYPE_CHECKING:
    import gymnasium as gym

CAPTION_HEIGHT = 34


def tracking_camera(env: gym.Env, distance: float = 4.0) -> mujoco.MjvCamera:
    """A side view that follows the agent's root body (as the reference videos do)."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = 1  # the root body: torso of the cheetah, ant, humanoid and walker
    camera.distance = distance
    camera.elevation, camera.azimuth = -15.0, 90.0
    return camera


def offscreen_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """``mujoco.Renderer(model, height, width)``, or one error that says what to install when
    this machine has no offscreen OpenGL backend."""
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as error:  # GLFW without a display, a missing library: each fails its own way
        backend = os.environ.get("MUJOCO_GL") or "unset (GLFW, which needs a display)"
        raise RuntimeError(f"MuJoCo cannot render offscreen here (MUJOCO_GL={backend}: {error}); "
                           f"{OFFSCREEN_INSTALL_HINT}") from error


def snapshot(env: gym.Env, height: int = 240, width: int = 320, distance: float = 4.0) -> np.ndarray:
    """One ``(height, width, 3)`` picture of ``env``'s current state, from :func:`tracking_camera`."""
    renderer = offscreen_renderer(env.model, height, width)
    try:
        renderer.update_scene(env.data, camera=tracking_camera(env, distance))
        return renderer.render()
    finally:
        renderer.close()


class FrameRecorder:
    """Records one frame per environment after every ``every``-th step of a rollout.

    Use it as the ``on_step`` hook of :func:`~pearlkit.evaluate.meta_test`. Each
    environment gets its own renderer (Walker-2D-Params changes each one's model); an
    environment that terminated keeps showing its last frame.

    Attributes:
        frames: one ``(num_envs, height, width, 3)`` array per recorded step.
    """

    def __init__(self, height: int = 240, width: int = 320, every: int = 2) -> None:
        self.height, self.width, self.every = height, width, every
        self.frames: list[np.ndarray] = []
        self._renderers: list[mujoco.Renderer] = []
        self._cameras: list[mujoco.MjvCamera] = []
        self._steps = 0

    def __call__(self, envs: list[gym.Env], running: np.ndarray) -> None:
        self._steps += 1
        if (self._steps - 1) % self.every:
            return
        while len(self._renderers) < len(envs):
            env = envs[len(self._renderers)]
            self._renderers.append(offscreen_renderer(env.model, self.height, self.width))
            self._cameras.append(tracking_camera(env))
        previous = self.frames[-1] if self.frames else None
        frame = np.empty((len(envs), self.height, self.width, 3), dtype=np.uint8)
        for i, env in enumerate(envs):
            if running[i] or previous is None:
                self._renderers[i].update_scene(env.data, camera=self._cameras[i])
                frame[i] = self._renderers[i].render()
            else:
                frame[i] = previous[i]
        self.frames.append(frame)

    def close(self) -> None:
        for renderer in self._renderers:
            renderer.close()
        self._renderers.clear()


def record_meta_test(agent: PearlAgent, config: PearlConfig, tasks: list[Task], seed: int = 0,
                     height: int = 240, width: int = 320, every: int = 2) -> tuple[MetaTestResult, np.ndarray]:
    """Meta-test ``agent`` on ``tasks`` (the reference protocol) while filming every environment.

    Returns:
        The meta-test result and the frames, ``(K, steps, num_tasks, height, width, 3)`` for its
        ``K`` trajectories, with ``steps = ceil(max_path_length / every)``.
    """
    recorder = FrameRecorder(height, width, every)
    try:
        result = meta_test(agent, tasks, config, seed=seed, on_step=recorder)
    finally:
        recorder.close()
    frames = np.stack(recorder.frames)
    return result, frames.reshape(result.returns.shape[1], -1, *frames.shape[1:])


def with_caption(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """``frame`` with a dark strip above it holding up to two lines of text."""
    strip = Image.new("RGB", (frame.shape[1], CAPTION_HEIGHT), (20, 20, 20))
    draw = ImageDraw.Draw(strip)
    for row, text in enumerate(lines[:2]):
        draw.text((6, 3 + 15 * row), text, fill=(235, 235, 235))
    return np.concatenate([np.asarray(strip), frame], axis=0)


def adaptation_frames(result: MetaTestResult, frames: np.ndarray, labels: list[str], every: int,
) -> np.ndarray:
    """Tile the tasks side by side, trajectory after trajectory, each tile captioned with its
    task, the trajectory (exploring or adapted) and the return so far.

    Returns:
        ``(num_frames, CAPTION_HEIGHT + height, num_tasks * width, 3)`` uint8.
    """
    num_trajs, steps, num_tasks = frames.shape[:3]
    out = []
    for k in range(num_trajs):
        stage = "exploring (z from the prior)" if k < result.num_exp_traj_eval else "after exploration (z from the belief)"
        rewards = result.trajectories[k].reward * result.valid[:, k]
        so_far = rewards.cumsum(dim=1)
        for t in range(steps):
            step = min((t + 1) * every, rewards.shape[1]) - 1
            tiles = [with_caption(frames[k, t, i], [labels[i], f"trajectory {k + 1}: {stage}, return "
                                                    f"{float(so_far[i, step]):.0f}"]) for i in range(num_tasks)]
            out.append(np.concatenate(tiles, axis=1))
    return np.stack(out)


def write_video(frames: np.ndarray, path: str | Path, fps: float) -> Path:
    """Write ``(num_frames, height, width, 3)`` uint8 frames as an H.264 MP4, atomically
    (:func:`~pearlkit.checkpoint.atomic_file`). Height and width must be even (H.264 needs it)."""
    import imageio.v2 as imageio

    path = Path(path)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (num_frames, height, width, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"frame height and width must be even for H.264, got {frames.shape[1:3]}")
    with atomic_file(path, suffix=".mp4") as tmp:
        with imageio.get_writer(tmp, fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=2,
                                ffmpeg_log_level="error") as writer:
            for frame in frames:
                writer.append_data(frame)
    return path


def adaptation_video(agent: PearlAgent, config: PearlConfig, tasks: list[Task], path: str | Path,
                     seed: int = 0, every: int = 2, height: int = 240, width: int = 320) -> tuple[Path, MetaTestResult]:
    """Film ``agent`` adapting to each of ``tasks`` (side by side) and write an MP4 to ``path``.

    Plays at real time: one frame per ``every`` environment steps of ``dt`` seconds.
    """
    env = make_env(config.env_id)  # for its step length dt
    result, frames = record_meta_test(agent, config, tasks, seed, height, width, every)
    labels = [type(env).describe_task(task) for task in tasks]
    video = adaptation_frames(result, frames, labels, every)
    return write_video(video, path, fps=1.0 / (env.dt * every)), result
