"""Videos of a MuJoCo agent adapting: offscreen frames, a tracking camera, MP4 files.

Frames are rendered with MuJoCo's own offscreen renderer (``mujoco.Renderer``), which needs
an OpenGL backend without a window: ``MUJOCO_GL=egl`` (a GPU, or Mesa's EGL on a CPU) or
``MUJOCO_GL=osmesa`` (``import pearlkit`` picks the first that works when nothing is set). MP4
files are written with ``imageio`` and its bundled ffmpeg (H.264, which every browser plays).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pearlkit.checkpoint import atomic_file, atomic_write_json, load_agent
from pearlkit.config import PearlConfig
from pearlkit.envs.tasks import Task, env_class, make_env
from pearlkit.evaluate import MetaTestResult, meta_test
from pearlkit.pearl import PearlAgent
from pearlkit.runtime import OFFSCREEN_INSTALL_HINT

if TYPE_CHECKING:
    import gymnasium as gym
    import mujoco

# MuJoCo itself is imported where a frame is drawn, not with this module: where MUJOCO_GL
# names a backend that cannot load, importing MuJoCo fails, and the CLI (which imports this
# module) must still serve the navigation families.

#: Caption text size in pixels. A 3-task video (960 px wide) shows at about 730 px on a page,
#: so 20 px reads as about 15. At that size a 320-px tile holds about 28 characters a row, so
#: the captions' lines are short and a longer one wraps onto the next row.
CAPTION_FONT_SIZE = 20
CAPTION_LINES = 5
CAPTION_HEIGHT = CAPTION_LINES * (CAPTION_FONT_SIZE + 4) + 6  # 126: even, as H.264 needs


def body_motion(env: gym.Env) -> str:
    """The body's progress on its task as a caption writes it: for a goal family (Ant-Goal-2D:
    its ``distance_to_goal``) the torso's distance to the goal; otherwise the root body's velocity,
    forward speed for the planar bodies (cheetah, walker: joint 0 slides along x), the horizontal
    velocity vector for the free bodies (ant, humanoid), which may be asked to head anywhere."""
    import mujoco

    if hasattr(env.unwrapped, "distance_to_goal"):
        return f"{env.unwrapped.distance_to_goal():.2f} m from the goal"
    qvel = env.unwrapped.data.qvel
    if env.unwrapped.model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE:
        return f"velocity ({qvel[0]:+.2f}, {qvel[1]:+.2f}) m/s"
    return f"speed {qvel[0]:+.2f} m/s"


def tracking_camera(env: gym.Env, distance: float = 4.0) -> mujoco.MjvCamera:
    """A side view that follows the agent's root body (as the reference videos do)."""
    import mujoco

    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = 1  # the root body: torso of the cheetah, ant, humanoid and walker
    camera.distance = distance
    camera.elevation, camera.azimuth = -15.0, 90.0
    return camera


def offscreen_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """``mujoco.Renderer(model, height, width)``, or one error that says what to install when
    this machine has no offscreen OpenGL backend."""
    import mujoco

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
        motions: for each recorded step, each environment's :func:`body_motion`.
    """

    def __init__(self, height: int = 240, width: int = 320, every: int = 2) -> None:
        self.height, self.width, self.every = height, width, every
        self.frames: list[np.ndarray] = []
        self.motions: list[list[str]] = []
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
        motion = []
        for i, env in enumerate(envs):
            if running[i] or previous is None:
                self._renderers[i].update_scene(env.data, camera=self._cameras[i])
                frame[i] = self._renderers[i].render()
                motion.append(body_motion(env))
            else:
                frame[i] = previous[i]
                motion.append(self.motions[-1][i])
        self.frames.append(frame)
        self.motions.append(motion)

    def close(self) -> None:
        for renderer in self._renderers:
            renderer.close()
        self._renderers.clear()


def record_meta_test(agent: PearlAgent, config: PearlConfig, tasks: list[Task], seed: int = 0,
                     height: int = 240, width: int = 320, every: int = 2,
                     ) -> tuple[MetaTestResult, np.ndarray, np.ndarray]:
    """Meta-test ``agent`` on ``tasks`` (the reference protocol) while filming every environment.

    Returns:
        The meta-test result, the frames, ``(K, steps, num_tasks, height, width, 3)`` for its
        ``K`` trajectories with ``steps = ceil(max_path_length / every)``, and each frame's
        :func:`body_motion` text, ``(K, steps, num_tasks)``.
    """
    recorder = FrameRecorder(height, width, every)
    try:
        result = meta_test(agent, tasks, config, seed=seed, on_step=recorder)
    finally:
        recorder.close()
    frames, motions = np.stack(recorder.frames), np.array(recorder.motions, dtype=object)
    num_trajs = result.returns.shape[1]
    return (result, frames.reshape(num_trajs, -1, *frames.shape[1:]),
            motions.reshape(num_trajs, -1, motions.shape[-1]))


@functools.lru_cache(maxsize=None)
def caption_font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` pixels, loaded once per size (a film captions
    thousands of tiles)."""
    return ImageFont.load_default(size=size)


def caption_rows(text: str, width: int) -> list[str]:
    """``text`` wrapped at spaces into rows no wider than ``width`` pixels at
    :data:`CAPTION_FONT_SIZE` (a single word wider than that keeps a row of its own)."""
    font, rows = caption_font(CAPTION_FONT_SIZE), []
    for word in text.split(" "):
        if rows and font.getlength(f"{rows[-1]} {word}") <= width:
            rows[-1] = f"{rows[-1]} {word}"
        else:
            rows.append(word)
    return rows


def with_caption(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """``frame`` with a dark strip above it holding ``lines``, each wrapped to the frame's
    width (:func:`caption_rows`), up to :data:`CAPTION_LINES` rows in all."""
    strip = Image.new("RGB", (frame.shape[1], CAPTION_HEIGHT), (20, 20, 20))
    draw = ImageDraw.Draw(strip)
    width = frame.shape[1] - 12
    rows = [row for text in lines for row in caption_rows(text, width)]
    for row, text in enumerate(rows[:CAPTION_LINES]):
        size = CAPTION_FONT_SIZE
        while caption_font(size).getlength(text) > width and size > 9:  # one word wider than the tile
            size -= 1
        draw.text((6, 3 + (CAPTION_FONT_SIZE + 4) * row), text, fill=(235, 235, 235), font=caption_font(size))
    return np.concatenate([np.asarray(strip), frame], axis=0)


def adaptation_frames(result: MetaTestResult, frames: np.ndarray, labels: list[str], every: int,
                      motions: np.ndarray | None = None) -> np.ndarray:
    """Tile the tasks side by side, trajectory after trajectory, each tile captioned with its
    task, the trajectory (exploring or adapted), the body's motion (``motions``, from
    :func:`record_meta_test`) and the return so far.

    Returns:
        ``(num_frames, CAPTION_HEIGHT + height, num_tasks * width, 3)`` uint8.
    """
    num_trajs, steps, num_tasks = frames.shape[:3]
    out = []
    for k in range(num_trajs):
        stage = "exploring" if k < result.num_exp_traj_eval else "adapted"  # z from the prior / the belief
        rewards = result.trajectories[k].reward * result.valid[:, k]
        so_far = rewards.cumsum(dim=1)
        for t in range(steps):
            step = min((t + 1) * every, rewards.shape[1]) - 1
            tiles = []
            for i in range(num_tasks):
                motion = [motions[k, t, i]] if motions is not None else []
                tiles.append(with_caption(frames[k, t, i], [
                    labels[i], f"trajectory {k + 1} of {num_trajs}: {stage}", *motion,
                    f"return {float(so_far[i, step]):.0f}"]))
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
    result, frames, motions = record_meta_test(agent, config, tasks, seed, height, width, every)
    labels = [type(env).describe_task(task) for task in tasks]
    video = adaptation_frames(result, frames, labels, every, motions)
    return write_video(video, path, fps=1.0 / (env.dt * every)), result


# ----- the video a shipped MuJoCo result carries -----

#: The files of ``results/<family>/`` that :func:`film_result` writes: the video, and what it
#: shows (the tasks, the seed, each trajectory's return).
FILM_FILE, FILM_RECORD = "adaptation.mp4", "adaptation.json"


def tasks_to_film(config: PearlConfig, count: int = 3) -> list[Task]:
    """``count`` held-out tasks that span the family: all of them where there are no more (the
    Fwd-Back families' two), else tasks at the 10 %, ..., 90 % points of the held-out ones
    ordered by their one number (a velocity, a direction) or by the goal's angle; in the
    family's own order where a task is several numbers (Walker-2D-Params' physics)."""
    _, tasks = config.split_tasks()
    if len(tasks) <= count:
        return tasks

    def position(index: int) -> float:
        values = [np.asarray(v, dtype=float) for v in tasks[index].values()]
        if len(values) == 1 and values[0].size == 1:
            return float(values[0])
        if len(values) == 1 and values[0].shape == (2,):
            return float(np.arctan2(values[0][1], values[0][0]))
        return float(index)

    order = sorted(range(len(tasks)), key=position)
    picks = np.round(np.linspace(0.1, 0.9, count) * (len(tasks) - 1)).astype(int)
    return [tasks[order[p]] for p in picks]


def film_result(folder: str | Path, out: str | Path | None = None, count: int = 3, seed: int = 0,
                every: int = 2) -> dict:
    """Film the agent in ``folder`` adapting to :func:`tasks_to_film` (side by side) into
    ``out/adaptation.mp4`` (``out``: ``folder`` itself unless given) and record what it shows
    in ``out/adaptation.json``: ``{"tasks": [description], "returns": [[per trajectory] per
    task], "seed", "every"}``."""
    folder = Path(folder)
    out = Path(out) if out is not None else folder
    out.mkdir(parents=True, exist_ok=True)
    agent, config, _ = load_agent(folder, "cpu")
    tasks = tasks_to_film(config, count)
    _, result = adaptation_video(agent, config, tasks, out / FILM_FILE, seed=seed, every=every)
    describe = env_class(config.env_id).describe_task
    record = {"tasks": [describe(task) for task in tasks], "returns": result.returns.tolist(), "seed": seed,
              "every": every}
    atomic_write_json(out / FILM_RECORD, record)
    return record
