"""Offscreen frames from the simulator and MP4 files (MUJOCO_GL=egl or osmesa on a CPU machine)."""
import numpy as np
import pytest
import torch

import pearlkit  # noqa: F401  (picks MUJOCO_GL before MuJoCo loads)
from pearlkit.envs import make_env
from pearlkit.render import (
    FILM_FILE,
    FILM_RECORD,
    FrameRecorder,
    adaptation_frames,
    body_motion,
    film_result,
    offscreen_renderer,
    tasks_to_film,
    with_caption,
    write_video,
)
from pearlkit.sampler import EnvPool, rollout


def _renderer_unavailable() -> str | None:
    """Why this machine cannot render offscreen, or None when it can."""
    try:
        offscreen_renderer(make_env("pearlkit/HalfCheetahVel-v0").model, 8, 8).close()
        return None
    except RuntimeError as error:
        return str(error)


_WHY_NO_RENDERER = _renderer_unavailable()
needs_renderer = pytest.mark.skipif(_WHY_NO_RENDERER is not None, reason=str(_WHY_NO_RENDERER))


@needs_renderer
def test_recorder_films_every_other_step_of_each_environment():
    pool = EnvPool("pearlkit/HalfCheetahVel-v0", seed=0)
    envs = pool.take([{"velocity": 1.0}, {"velocity": 2.0}])
    recorder = FrameRecorder(height=48, width=64, every=2)
    actions = lambda obs, z: torch.ones(obs.shape[0], 6) * torch.tensor([1.0, -1.0])[:, None]
    rollout(pool, envs, actions, torch.zeros(2, 5), 6, on_step=recorder)
    frames = np.stack(recorder.frames)
    assert frames.shape == (3, 2, 48, 64, 3) and frames.dtype == np.uint8
    assert frames.std() > 10  # a real picture, not a blank buffer
    assert np.abs(frames[0, 0].astype(int) - frames[0, 1]).mean() > 1  # different actions, different poses
    # An environment that stopped running keeps its last frame; the others move on.
    envs[0].step(np.ones(6))
    envs[1].step(-np.ones(6))
    recorder._steps = 0
    recorder(envs, np.array([False, True]))
    np.testing.assert_array_equal(recorder.frames[-1][0], frames[-1][0])
    assert np.abs(recorder.frames[-1][1].astype(int) - frames[-1][1]).mean() > 0
    recorder.close()


def test_written_video_reads_back_frame_for_frame(tmp_path):
    import imageio.v2 as imageio

    colours = np.array([[255, 0, 0], [0, 0, 255], [0, 200, 0]], dtype=np.uint8)
    frames = np.repeat(colours, 4, axis=0)[:, None, None, :] * np.ones((1, 32, 48, 1), dtype=np.uint8)
    path = write_video(frames, tmp_path / "clip.mp4", fps=10)
    read = np.stack([frame for frame in imageio.get_reader(str(path)).iter_data()])
    assert read.shape == frames.shape
    assert np.abs(read.astype(int) - frames).mean() < 8  # lossy, but the same pictures in order
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left behind


@pytest.mark.parametrize("frames, message", [
    (np.zeros((2, 33, 48, 3), dtype=np.uint8), "even"),
    (np.zeros((2, 32, 48, 3)), "uint8"),
    (np.zeros((32, 48, 3), dtype=np.uint8), "uint8"),
])
def test_bad_frames_are_refused(tmp_path, frames, message):
    with pytest.raises(ValueError, match=message):
        write_video(frames, tmp_path / "bad.mp4", fps=10)
    assert not list(tmp_path.iterdir())


def test_adaptation_frames_tile_tasks_and_caption_them():
    from pearlkit.evaluate import MetaTestResult
    from pearlkit.sampler import Trajectories

    num_tasks, horizon, num_trajs = 2, 4, 3
    reward = torch.ones(num_tasks, horizon)
    traj = Trajectories(*(torch.zeros(num_tasks, horizon, 1) for _ in range(2)), reward, reward,
                        torch.zeros(num_tasks, horizon, 1), torch.zeros(num_tasks, horizon))
    result = MetaTestResult(torch.zeros(num_tasks, num_trajs), torch.zeros(num_tasks, num_trajs, dtype=torch.bool),
                            *(torch.zeros(num_tasks, num_trajs, 5) for _ in range(3)), [traj] * num_trajs,
                            torch.ones(num_tasks, num_trajs, horizon, dtype=torch.bool), False,
                            torch.ones(num_tasks, num_trajs, dtype=torch.bool), num_exp_traj_eval=2, runs_per_task=1)
    frames = np.zeros((num_trajs, 2, num_tasks, 20, 30, 3), dtype=np.uint8)
    video = adaptation_frames(result, frames, ["task a", "task b"], every=2)
    captioned = with_caption(frames[0, 0, 0], ["x"])
    assert video.shape == (num_trajs * 2, captioned.shape[0], 2 * 30, 3)
    assert video[:, :captioned.shape[0] - 20].max() > 200  # white caption text on the dark strip


@pytest.mark.parametrize("environ, working, expected", [
    ({}, {"egl", "osmesa"}, "egl"),  # EGL first: GPUs and Mesa on a CPU
    ({}, {"osmesa"}, "osmesa"),  # a backend that fails its probe is not chosen
    ({}, set(), None),  # none works: MUJOCO_GL stays unset, so importing MuJoCo still works
    ({"DISPLAY": ":0"}, {"egl"}, None),
    ({"MUJOCO_GL": "glfw"}, {"egl"}, None),  # an explicit choice is respected
    ({"MUJOCO_GL": ""}, {"osmesa"}, "osmesa"),  # an empty value counts as unset
])
def test_offscreen_backend_is_the_first_that_works_where_nothing_else_can_render(monkeypatch, environ, working,
                                                                                 expected):
    from pearlkit import runtime

    for key in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    probed = []
    probe = lambda name: lambda: probed.append(name) or name in working
    monkeypatch.setattr(runtime, "_BACKEND_PROBES", {name: probe(name) for name in runtime.OFFSCREEN_BACKENDS})
    assert runtime.default_mujoco_gl() == expected
    already_set = environ.get("MUJOCO_GL")  # a value someone chose is kept
    assert runtime.os.environ.get("MUJOCO_GL") == (already_set or expected)
    if expected is not None:
        assert probed == list(runtime.OFFSCREEN_BACKENDS[:runtime.OFFSCREEN_BACKENDS.index(expected) + 1])


def _backends_failing(monkeypatch, chosen: str) -> None:
    """MUJOCO_GL names ``chosen`` and every backend's probe fails."""
    from pearlkit import runtime

    monkeypatch.setenv("MUJOCO_GL", chosen)
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.setattr(runtime, "_BACKEND_PROBES", {name: (lambda: False) for name in runtime.OFFSCREEN_BACKENDS})


def test_a_chosen_backend_that_fails_its_probe_is_named_in_a_warning(monkeypatch):
    from pearlkit import runtime

    _backends_failing(monkeypatch, "osmesa")
    with pytest.warns(RuntimeWarning, match=r"MUJOCO_GL=osmesa, but osmesa does not work.*libosmesa6"):
        assert runtime.default_mujoco_gl() is None
    assert runtime.os.environ["MUJOCO_GL"] == "osmesa"  # kept: the choice is the user's
    monkeypatch.setenv("MUJOCO_GL", "OSMesa ")  # MuJoCo reads it lower-cased and stripped
    assert runtime.mujoco_gl_problem().startswith("MUJOCO_GL=osmesa, but")
    monkeypatch.setenv("MUJOCO_GL", "glfw")  # not an offscreen backend pearlkit can probe: no warning
    assert runtime.mujoco_gl_problem() is None


def test_a_mujoco_family_that_cannot_import_says_why(monkeypatch):
    from pearlkit.envs import tasks

    _backends_failing(monkeypatch, "egl")

    def broken_import(name):  # what PyOpenGL does where the backend's library is missing
        raise AttributeError("'NoneType' object has no attribute 'glGetError'")

    monkeypatch.setattr(tasks.importlib, "import_module", broken_import)
    with pytest.raises(RuntimeError, match=r"cannot build pearlkit/AntGoal2D-v0: MUJOCO_GL=egl, but egl does not work"):
        tasks.make_env("pearlkit/AntGoal2D-v0")
    monkeypatch.setenv("MUJOCO_GL", "glfw")  # a failure pearlkit cannot explain is raised as it is
    with pytest.raises(AttributeError, match="glGetError"):
        tasks.env_class("pearlkit/AntGoal2D-v0")


def test_the_cli_imports_without_importing_mujoco(tmp_path):
    import os
    import subprocess
    import sys

    # With a MUJOCO_GL that MuJoCo rejects, importing MuJoCo fails; the navigation commands need
    # no MuJoCo, so the CLI (and the renderer it imports) must not import it up front.
    env = dict(os.environ, MUJOCO_GL="not-a-backend")
    code = "import sys, pearlkit.cli; print('mujoco' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False"]


def test_backend_probes_answer_without_importing_mujoco():
    import subprocess
    import sys

    code = ("import sys; from pearlkit import runtime; "
            "print(type(runtime.egl_works()).__name__, type(runtime.osmesa_works()).__name__, 'mujoco' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["bool", "bool", "False"]


def test_rendering_without_a_backend_says_what_to_install(monkeypatch):
    import mujoco

    def no_context(*args, **kwargs):
        raise mujoco.FatalError("gladLoadGL error")

    monkeypatch.setattr(mujoco, "Renderer", no_context)
    with pytest.raises(RuntimeError, match="libegl1.*libosmesa6.*Colab has EGL"):
        offscreen_renderer(make_env("pearlkit/HalfCheetahVel-v0").model, 8, 8)


@needs_renderer
def test_render_command_films_a_trained_run(tmp_path, capsys):
    import json

    from pearlkit.cli import main

    config = pearlkit.get_preset("cheetah-vel").replace(
        num_train_tasks=3, num_test_tasks=2, num_iterations=1, num_initial_steps=200, num_tasks_sample=1,
        num_steps_prior=200, num_extra_rl_steps_posterior=0, num_train_steps_per_itr=2, meta_batch=2,
        batch_size=8, embedding_batch_size=8, hidden_sizes=(16, 16), encoder_hidden_sizes=(16,))
    pearlkit.train(config, tmp_path / "run", progress=False)
    capsys.readouterr()
    assert main(["render", str(tmp_path / "run"), "--out", str(tmp_path / "v.mp4"), "--tasks", "2",
                 "--every", "50"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (tmp_path / "v.mp4").stat().st_size > 1000 and len(printed["returns"]) == 2
    assert main(["render", str(tmp_path / "run"), "--out", str(tmp_path / "w.mp4"), "--tasks", "3"]) == 2
    assert "--tasks must be between 1 and 2" in capsys.readouterr().err
    # What a shipped result carries: the video and what it shows.
    record = film_result(tmp_path / "run", count=2, every=50)
    assert (tmp_path / "run" / FILM_FILE).stat().st_size > 1000
    assert json.loads((tmp_path / "run" / FILM_RECORD).read_text()) == record
    assert record["tasks"] == [f"target velocity {float(t['velocity']):.2f} m/s" for t in config.split_tasks()[1]]
    assert len(record["returns"]) == 2 and len(record["returns"][0]) == 3


def test_captions_give_the_bodys_velocity_from_the_simulator():
    cheetah, ant = make_env("pearlkit/HalfCheetahVel-v0"), make_env("pearlkit/AntFwdBack-v1")
    for env in (cheetah, ant):
        env.reset(seed=0)
        for _ in range(5):
            env.step(env.action_space.sample())
    assert body_motion(cheetah) == f"speed {cheetah.unwrapped.data.qvel[0]:+.2f} m/s"  # the root's slide along x
    vx, vy = ant.unwrapped.data.qvel[:2]  # the free joint's linear velocity, world frame
    assert body_motion(ant) == f"velocity ({vx:+.2f}, {vy:+.2f}) m/s"


def test_a_goal_familys_caption_gives_the_torsos_distance_to_its_goal():
    env = make_env("pearlkit/AntGoal2D-v0")
    env.reset(seed=0, options={"task": {"goal": np.array([1.0, -2.0])}})
    for _ in range(5):
        env.step(env.action_space.sample())
    x, y = env.unwrapped.data.body("torso").xpos[:2]
    assert body_motion(env) == f"{np.hypot(x - 1.0, y + 2.0):.2f} m from the goal"


def test_filmed_tasks_span_the_family():
    vel = pearlkit.get_preset("cheetah-vel")
    velocities = sorted(float(t["velocity"]) for t in vel.split_tasks()[1])
    picked = [float(t["velocity"]) for t in tasks_to_film(vel)]
    assert picked == [velocities[3], velocities[14], velocities[26]]  # 10 %, 50 %, 90 % of 30
    fwd_back = pearlkit.get_preset("cheetah-fwd-back")
    assert tasks_to_film(fwd_back) == fwd_back.split_tasks()[1]  # both tasks
    goals = [t["goal"] for t in tasks_to_film(pearlkit.get_preset("ant-goal-2d"))]
    angles = [np.arctan2(g[1], g[0]) for g in goals]
    assert angles == sorted(angles)


def test_caption_rows_wrap_at_spaces_to_the_tiles_width():
    from pearlkit.render import CAPTION_FONT_SIZE, caption_font, caption_rows

    font = caption_font(CAPTION_FONT_SIZE)
    label = "mass x1.13, inertia x0.91, damping x0.91, friction x0.89"  # a Walker-2D-Params task
    rows = caption_rows(label, 308)
    assert len(rows) == 2 and " ".join(rows) == label
    assert all(font.getlength(row) <= 308 for row in rows)
    # The longest lines the films write fit a 320-px tile whole, at full size.
    for line in ("trajectory 3 of 4: exploring", "velocity (+10.23, -10.45) m/s", "target velocity 0.42 m/s"):
        assert caption_rows(line, 308) == [line]
