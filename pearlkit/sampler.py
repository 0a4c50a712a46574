r"""Rollouts: many environments stepped in lockstep, one policy pass per step for all of them.

PEARL holds z fixed for a whole trajectory (that is what makes exploration *temporally
extended*: a sampled hypothesis about the task is acted on for an episode, then revised).
Each environment here runs one task; z has one row per environment.
"""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from pearlkit.buffers import Transitions
from pearlkit.envs import Task, make_env

#: ``policy(obs (num_envs, obs_dim), z (num_envs, latent_dim)) -> actions (num_envs, action_dim)``
ActFn = Callable[[Tensor, Tensor], Tensor]
#: ``on_step(envs, running)``: called after each lockstep step; ``running`` marks the
#: environments that had not terminated before this step.
StepHook = Callable[[list[gym.Env], np.ndarray], None]


class EnvPool:
    """One environment per slot, created on demand and seeded once.

    Args:
        env_id: a pearlkit environment id.
        seed: environment ``i`` is reset with seed ``seed + i`` the first time it is used.
    """

    def __init__(self, env_id: str, seed: int) -> None:
        self.env_id, self.seed = env_id, seed
        self.envs: list[gym.Env] = []
        self._seeded: list[bool] = []

    def take(self, tasks: list[Task]) -> list[gym.Env]:
        """The first ``len(tasks)`` environments, each switched to its task."""
        self._make_up_to(len(tasks))
        for env, task in zip(self.envs, tasks):
            env.set_task(task)
        return self.envs[: len(tasks)]

    def _make_up_to(self, count: int) -> None:
        """Make environments (not yet seeded) until the pool holds ``count``."""
        while len(self.envs) < count:
            self.envs.append(make_env(self.env_id))
            self._seeded.append(False)

    def reset(self, envs: list[gym.Env]) -> np.ndarray:
        observations = []
        for i, env in enumerate(envs):
            seed = None if self._seeded[i] else self.seed + i
            self._seeded[i] = True
            observations.append(env.reset(seed=seed)[0])
        return np.stack(observations)

    def state_dict(self) -> dict:
        """Where each environment's random stream stands (its resets draw from it), so that a
        resumed run's resets go on where they stopped instead of starting their streams again."""
        return {"streams": [env.unwrapped.np_random.bit_generator.state if seeded else None
                            for env, seeded in zip(self.envs, self._seeded)]}

    def load_state_dict(self, state: dict) -> None:
        """Take up :meth:`state_dict`'s streams: the environments it held are made, those that
        had been reset given their generators as they stood."""
        streams = state["streams"]
        self._make_up_to(len(streams))
        for i, stream in enumerate(streams):
            if stream is not None:
                generator = np.random.Generator(getattr(np.random, stream["bit_generator"])())
                generator.bit_generator.state = stream
                self.envs[i].unwrapped.np_random = generator
                self._seeded[i] = True


class Trajectories(Transitions):
    """One trajectory per environment, arrays ``(num_envs, horizon, ·)``.

    An environment that terminated early pads the rest of the horizon; :func:`rollout`
    returns the mask of real steps (``valid``) and ``info["is_success"]`` per step (False
    where the environment does not report it).
    """


def _stack_info(infos: list[dict], key: str, default: float) -> np.ndarray:
    return np.array([info.get(key, default) for info in infos], dtype=np.float64)


@torch.no_grad()
def rollout(pool: EnvPool, envs: list[gym.Env], act: ActFn, z: Tensor, max_path_length: int,
            on_step: StepHook | None = None
            ) -> tuple[Trajectories, Tensor, Tensor]:
    """Run one trajectory in each environment with its row of ``z`` held fixed.

    Args:
        pool: the pool the environments came from (it knows their seeds).
        envs: ``num_envs`` environments, already set to their tasks.
        act: the policy, called once per step for all environments together.
        z: ``(num_envs, latent_dim)``, held for the whole trajectory.
        max_path_length: the horizon.
        on_step: called after every step with the environments and which of them were
            still running (e.g. to render frames); ``None`` to skip.
    Returns:
        ``(trajectories, valid, success)``: trajectories ``(num_envs, max_path_length, ·)``,
        then the valid-step mask and the per-step success flags, both
        ``(num_envs, max_path_length)`` booleans.
    """
    n, device = len(envs), z.device
    obs = pool.reset(envs)
    alive = np.ones(n, dtype=bool)
    names = ("obs", "action", "reward", "dense_reward", "next_obs", "terminal", "valid", "success")
    columns: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for _ in range(max_path_length):
        action = act(torch.as_tensor(obs, dtype=torch.float32, device=device), z).cpu().numpy()
        next_obs, reward, terminal, infos = obs.copy(), np.zeros(n), np.zeros(n), [{}] * n
        for i in np.flatnonzero(alive):
            next_obs[i], reward[i], terminal[i], _, infos[i] = envs[i].step(action[i])
        columns["obs"].append(obs)
        columns["action"].append(action)
        columns["reward"].append(reward)
        columns["dense_reward"].append(np.where(alive, _stack_info(infos, "dense_reward", np.nan), 0.0))
        columns["next_obs"].append(next_obs)
        columns["terminal"].append(terminal)
        columns["valid"].append(alive.copy())
        columns["success"].append(alive & (_stack_info(infos, "is_success", 0.0) > 0))
        if on_step is not None:
            on_step(envs, alive.copy())
        alive = alive & (terminal == 0)
        obs = next_obs
    as_tensor = lambda key: torch.as_tensor(np.stack(columns[key], axis=1), dtype=torch.float32)
    dense = as_tensor("dense_reward")
    reward = as_tensor("reward")
    # Environments without a separate dense reward train the critic on their own reward.
    dense = torch.where(dense.isnan(), reward, dense)
    trajectories = Trajectories(as_tensor("obs"), as_tensor("action"), reward, dense,
                                as_tensor("next_obs"), as_tensor("terminal"))
    return trajectories, as_tensor("valid").bool(), as_tensor("success").bool()


def visited_states(trajectories: Trajectories) -> Tensor:
    """The states along each trajectory, start included: ``(num_envs, horizon + 1, obs_dim)``."""
    return torch.cat([trajectories.obs[:, :1], trajectories.next_obs], dim=1)


def valid_steps(trajectories: Trajectories, valid: Tensor, env_index: int) -> Transitions:
    """The real steps of one environment's trajectory, as flat ``(n, ·)`` transitions."""
    mask = valid[env_index]
    return Transitions(*(field[env_index][mask] for field in trajectories))
