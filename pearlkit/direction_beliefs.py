"""Which task a two-direction agent's belief names (Half-Cheetah-Fwd-Back, Ant-Fwd-Back).

In these families the reward is all that tells the two tasks apart, so an encoder has to read
the reward's sign *times* the direction the body moved. :func:`named_tasks` reads each
exploring trajectory of a meta-test alone, as a context of its own, and says which task the
belief from it names; :func:`belief_by_motion` counts how often that is the run's own task, by
which way the body moved; :func:`belief_with_other_reward` asks whether the named task changes
when the trajectory's reward is swapped for the other task's, as it always should.
:func:`read_directions` does it all for a run folder (chapter 6 prints it for the shipped
agents; ``benchmarks/direction_diagnosis.py`` adds the returns behind it).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from pearlkit.buffers import context_from_transitions
from pearlkit.checkpoint import load_agent
from pearlkit.config import PearlConfig
from pearlkit.envs.tasks import env_class, make_env
from pearlkit.evaluate import MetaTestResult, held_out_meta_test, zero_action_return

#: A reading: (cell, the run's task, the task the belief names), the cell being
#: ``"<task's name>, moved forward|backward"``.
Reading = tuple[str, int, int]


def forward_velocity_index(env_id: str) -> int:
    """Where the root's forward (x) velocity sits in ``env_id``'s observation: ``qvel`` opens
    with it (after Half-Cheetah's ``qpos[1:]``, 8 numbers; after the ant's ``qpos[2:]``, 13)."""
    return make_env(env_id).observation_slice("qvel").start


def forward_and_backward(names: list[str]) -> bool:
    """Whether these task names are the two of a Fwd-Back family: one forward, one backward."""
    return sorted(names) == ["backward", "forward"]


def went_the_right_way(result: MetaTestResult, max_path_length: int, floor: float) -> Tensor:
    """``(num_runs,)`` bool: the runs whose trajectory after exploration stayed up to the end and
    scored at least ``floor`` (what idle motors score: below it a body went the wrong way or
    hardly moved)."""
    after = result.num_exp_traj_eval
    stayed_up = result.valid[:, after].sum(-1) == max_path_length
    return (result.returns[:, after] >= floor) & stayed_up


def named_tasks(encoder: Callable, use_next_obs: bool, velocity_index: int, result: MetaTestResult,
                right: Tensor, names: list[str], reward_of: Callable | None = None) -> list[Reading] | None:
    """For each exploring trajectory of each run, alone: ``(cell, the run's task, the task its
    belief names)``, where the cell is ``"<task's name>, moved forward|backward"`` (the sign of its
    mean forward velocity, ``obs[:, velocity_index]``). The trajectory is read with its own reward,
    or with ``reward_of(trajectory)`` in its place.

    The named task is the one whose belief after exploration, averaged over the runs that went
    the right way (``right``), is nearer. None where a task has no such run."""
    task_of_run = torch.arange(len(right)) // result.runs_per_task
    after = result.num_exp_traj_eval
    if any(not right[task_of_run == task].any() for task in range(len(names))):
        return None
    centres = torch.stack([result.z_means[(task_of_run == task) & right, after].mean(0) for task in range(len(names))])
    readings = []
    for k in range(after):
        trajectories, valid = result.trajectories[k], result.valid[:, k]
        for run, task in enumerate(task_of_run.tolist()):
            one = type(trajectories)(*[field[run][valid[run]] for field in trajectories])
            if reward_of is not None:
                one = one._replace(reward=reward_of(one))
            with torch.no_grad():
                mean, _ = encoder(context_from_transitions(one, use_next_obs).unsqueeze(0))
            moved = "forward" if float(one.obs[:, velocity_index].mean()) > 0 else "backward"
            readings.append((f"{names[task]}, moved {moved}", task, int(torch.cdist(mean, centres).argmin())))
    return readings


def _count_by_cell(cells: list[tuple[str, bool]]) -> dict[str, list[int]]:
    """``[how many are True, how many]`` per cell, cells sorted."""
    counts: dict[str, list[int]] = {}
    for cell, counted in cells:
        counts.setdefault(cell, [0, 0])
        counts[cell][0] += counted
        counts[cell][1] += 1
    return dict(sorted(counts.items()))


def belief_by_motion(readings: list[Reading] | None) -> dict[str, list[int]] | None:
    """Does the belief from each exploring trajectory alone name the run's task? ``[named right,
    trajectories]`` per cell of :func:`named_tasks`' ``readings``; None where there are none."""
    return None if readings is None else _count_by_cell([(cell, named == task) for cell, task, named in readings])


def belief_with_other_reward(own: list[Reading] | None, other: list[Reading] | None) -> dict[str, list[int]] | None:
    """Does the task each exploring trajectory's belief names change when its reward is swapped
    for the other task's (the same states and actions)? ``own`` and ``other`` are
    :func:`named_tasks`' readings without and with that swap. An encoder that reads the reward
    changes it every time; one that reads only how the body moved, never. ``[changed,
    trajectories]`` per cell; None where there are no readings."""
    if own is None or other is None:
        return None
    return _count_by_cell([(cell, named != swapped) for (cell, _, named), (_, _, swapped) in zip(own, other)])


def read_directions(run_dir: str | Path, seed: int = 0, runs_per_task: int = 20, device: str | None = None
                    ) -> dict[str, list[int]] | None:
    """Meta-test a Fwd-Back run folder's agent (``runs_per_task`` runs of each task) and
    count, per cell, how often one exploring trajectory's belief names the run's own task
    (:func:`belief_by_motion`). The encoder reads on the CPU.

    Raises:
        ValueError: the run's tasks are not forward and backward.
    """
    config = PearlConfig.from_file(Path(run_dir) / "config.json")
    names = [env_class(config.env_id).describe_task(task) for task in config.split_tasks()[1]]
    if not forward_and_backward(names):
        raise ValueError(f"read_directions needs a family whose two tasks are forward and backward; "
                         f"{config.env_id}'s held-out tasks are {names[:4]}{' ...' if len(names) > 4 else ''}")
    tested = held_out_meta_test(run_dir, seed, runs_per_task, device=device)
    config, result = tested.config, tested.result
    right = went_the_right_way(result, config.max_path_length, zero_action_return(config))
    encoder = load_agent(run_dir, "cpu")[0].encoder
    return belief_by_motion(named_tasks(encoder, config.use_next_obs_in_context, forward_velocity_index(config.env_id),
                                        result, right, names))
