r"""Meta-test: adapt to held-out tasks by posterior sampling, with no gradient step.

The protocol of the reference code, for every test task at once:

1. start from the prior (no context);
2. act deterministically (:math:`a = \tanh\mu`) for a whole trajectory with a sampled z,
   and append every transition to the task's context;
3. for the first ``num_exp_traj_eval`` (exploration) trajectories, z is drawn anew from
   the prior; from then on, the belief is inferred from *all* the context gathered so far
   and z is drawn from it before each trajectory.

"Return after exploration" is the return of the first trajectory after exploration,
averaged over tasks; for navigation, that trajectory succeeds when it enters the goal disc.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import Tensor

from pearlkit.buffers import context_from_transitions
from pearlkit.envs import Task
from pearlkit.envs.tasks import make_env, split_tasks
from pearlkit.inference import sample_z
from pearlkit.runtime import seeded_stream
from pearlkit.sampler import EnvPool, StepHook, Trajectories, rollout, valid_steps

if TYPE_CHECKING:
    from pearlkit.config import PearlConfig
    from pearlkit.pearl import PearlAgent


class MetaTestResult(NamedTuple):
    """Everything meta-test saw, for metrics and for plots. ``K`` = trajectories per task."""

    returns: Tensor  #: ``(num_tasks, K)`` return of each trajectory (the task's own reward)
    successes: Tensor  #: ``(num_tasks, K)`` bool, the trajectory entered the goal (if reported)
    z: Tensor  #: ``(num_tasks, K, latent_dim)`` the z each trajectory was run with
    z_means: Tensor  #: ``(num_tasks, K, latent_dim)`` the belief that z was drawn from
    z_vars: Tensor  #: same shape
    trajectories: list[Trajectories]  #: one per trajectory index, arrays ``(num_tasks, horizon, ·)``
    valid: Tensor  #: ``(num_tasks, K, horizon)`` bool, real (not padded) steps
    reports_success: bool  #: the environment reports ``is_success`` (navigation)
    #: ``(num_tasks, K)`` bool, the trajectories the reference would have run: those begun
    #: before the task had ``min_steps`` steps (all of them when meta-test had no ``min_steps``)
    counted: Tensor | None = None


def infer_from_context(agent: PearlAgent, contexts: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Belief per task from each task's whole context (lengths may differ after early
    terminations; equal lengths go through the encoder in one batch)."""
    if len({c.shape[0] for c in contexts}) == 1:
        return agent.encoder(torch.stack(contexts))
    beliefs = [agent.encoder(c.unsqueeze(0)) for c in contexts]
    return torch.cat([b[0] for b in beliefs]), torch.cat([b[1] for b in beliefs])


@torch.no_grad()
def meta_test(agent: PearlAgent, tasks: list[Task], pool: EnvPool, max_path_length: int,
              num_trajs: int, num_exp_traj_eval: int, use_next_obs: bool,
              online_posterior: bool = False, on_step: StepHook | None = None,
              min_steps: int | None = None) -> MetaTestResult:
    """Run the meta-test protocol on ``tasks`` (all in lockstep).

    Args:
        agent: the trained agent (encoder + policy).
        tasks: held-out tasks.
        pool: environments to run them in.
        max_path_length: horizon of one trajectory.
        num_trajs: trajectories per task (the reference: ``num_steps_per_eval / horizon``).
        num_exp_traj_eval: exploration trajectories with z from the prior.
        use_next_obs: context rows include s'.
        online_posterior: infer the belief after *every* trajectory, exploration included
            (the paper's Algorithm 2) instead of only after exploration (the reference code).
        on_step: passed to :func:`~pearlkit.sampler.rollout` (e.g. to render frames).
        min_steps: the reference's ``num_steps_per_eval``: go on past ``num_trajs`` until every
            task has this many steps (more trajectories where episodes end early).
    """
    device = next(agent.parameters()).device
    envs = pool.take(tasks)
    n = len(tasks)
    steps_so_far = torch.zeros(n, dtype=torch.long)
    counted = []
    z_mean, z_var = agent.encoder.belief_without_context(n, device)
    contexts = [torch.zeros(0, agent.context_dim, device=device) for _ in range(n)]
    act = lambda obs, z: agent.policy(obs, z, deterministic=True).action
    records: dict[str, list] = {k: [] for k in ("ret", "succ", "z", "mean", "var", "traj", "valid")}
    k = 0
    while k < num_trajs or (min_steps is not None and (steps_so_far < min_steps).any()):
        # paper-vs-code: the reference samples exploration z from the prior and infers only
        # once num_exp_traj_eval trajectories are in; `online_posterior` gives the paper's
        # Algorithm 2, which updates the belief after each trajectory.
        if k > 0 and (online_posterior or k >= num_exp_traj_eval):
            z_mean, z_var = infer_from_context(agent, contexts)
        z = sample_z(z_mean, z_var)
        traj, valid, success = rollout(pool, envs, act, z, max_path_length, on_step)
        for i in range(n):
            steps = valid_steps(traj, valid, i)
            contexts[i] = torch.cat([contexts[i], context_from_transitions(steps, use_next_obs).to(device)])
        records["ret"].append((traj.reward * valid).sum(1))
        records["succ"].append(success.any(1))
        for key, value in (("z", z), ("mean", z_mean), ("var", z_var)):
            records[key].append(value.cpu())
        records["traj"].append(traj)
        records["valid"].append(valid)
        counted.append(steps_so_far < min_steps if min_steps is not None else torch.ones(n, dtype=torch.bool))
        steps_so_far += valid.sum(1)
        k += 1
    stack = lambda key: torch.stack(records[key], dim=1)
    reports_success = bool(getattr(envs[0], "reports_success", False))
    return MetaTestResult(stack("ret"), stack("succ"), stack("z"), stack("mean"), stack("var"),
                          records["traj"], stack("valid"), reports_success, torch.stack(counted, dim=1))


def reported_trajectory(result: MetaTestResult) -> Tensor:
    """Per task, the index of the last trajectory the reference would have run: the one whose
    return it reports (``final_returns`` in its ``_do_eval``). ``(num_tasks,)``."""
    counted = result.counted if result.counted is not None else torch.ones_like(result.successes)
    index = torch.arange(counted.shape[1]).expand_as(counted)
    return torch.where(counted, index, -1).max(dim=1).values


def summarize(result: MetaTestResult, num_exp_traj_eval: int) -> dict:
    """The logged meta-test metrics.

    Returns:
        ``return_after_exploration`` (mean over tasks of the return of trajectory
        ``num_exp_traj_eval + 1``), ``success_rate`` (share of tasks whose trajectory
        ``num_exp_traj_eval + 1`` entered the goal; ``None`` if the environment does not
        report success), ``found_during_exploration`` (share of tasks where an exploration
        trajectory entered the goal), ``success_given_found`` and ``success_given_not_found``
        (the success rate within each of those two groups of runs), ``reported_return`` and
        ``reported_success`` (the reference's number: the last trajectory of a
        ``num_steps_per_eval``-step meta-test, see :func:`reported_trajectory`), ``adaptation_curve``
        (mean return per trajectory index), ``success_curve`` and ``num_tasks``.
    """
    after = num_exp_traj_eval
    success = found = given_found = given_not_found = reported_success = None
    reported = reported_trajectory(result)
    tasks = torch.arange(result.returns.shape[0])
    if result.reports_success:
        succeeded = result.successes[:, after].float()
        was_found = result.successes[:, :after].any(1)
        success, found = succeeded.mean().item(), was_found.float().mean().item()
        # Exploitation vs exploration: how often the trajectory after exploration succeeds
        # when exploration did (or did not) find the goal. None where no run falls in the group.
        given_found = succeeded[was_found].mean().item() if was_found.any() else None
        given_not_found = succeeded[~was_found].mean().item() if not was_found.all() else None
        reported_success = result.successes[tasks, reported].float().mean().item()
    return {
        "return_after_exploration": result.returns[:, after].mean().item(),
        "success_rate": success,
        "reported_return": result.returns[tasks, reported].mean().item(),
        "reported_success": reported_success,
        "found_during_exploration": found,
        "success_given_found": given_found,
        "success_given_not_found": given_not_found,
        "adaptation_curve": result.returns.mean(0).tolist(),
        "success_curve": result.successes.float().mean(0).tolist() if result.reports_success else None,
        "num_tasks": result.returns.shape[0],
    }


def trajectories_per_task(config: PearlConfig) -> int:
    """Trajectories in one meta-test run where no episode ends early: ``num_steps_per_eval``
    steps, rounded up to whole trajectories (more run where episodes end early)."""
    return -(-config.num_steps_per_eval // config.max_path_length)


def evaluate_agent(agent: PearlAgent, config: PearlConfig, tasks: list, pool: EnvPool, seed: int,
                   online_posterior: bool = False) -> dict:
    """Meta-test ``agent`` on ``tasks`` (``num_evals`` runs each, side by side) and summarize it."""
    repeated = [task for task in tasks for _ in range(config.num_evals)]
    with seeded_stream(seed, next(agent.parameters()).device):
        result = meta_test(agent, repeated, pool, config.max_path_length,
                           trajectories_per_task(config),
                           config.num_exp_traj_eval, config.use_next_obs_in_context, online_posterior,
                           min_steps=config.num_steps_per_eval)
    return {**summarize(result, config.num_exp_traj_eval), "num_tasks": len(tasks), "num_evals": config.num_evals}


def run_meta_test(run_dir, seed: int = 0, online_posterior: bool = False, device: str | None = None) -> dict:
    """Load a run folder's agent and meta-test it on the held-out tasks of its config.

    Returns:
        :func:`summarize`'s metrics plus ``iteration`` (of the loaded weights) and ``seed``.
    """
    from pearlkit.training import load_agent  # here: training imports this module

    agent, config, iteration = load_agent(run_dir, device)
    _, test_tasks = split_tasks(config)
    pool = EnvPool(config.env_id, seed)
    metrics = evaluate_agent(agent, config, test_tasks, pool, seed, online_posterior)
    return {**metrics, "iteration": iteration, "seed": seed, "online_posterior": online_posterior}


def zero_action_return(config: PearlConfig, seed: int = 0) -> float:
    r"""The floor a trained agent must rise above: the mean return, over the held-out tasks, of one
    trajectory with zero actions (motors idle), as long as meta-test's (or until the body falls).

    On Half-Cheetah-Vel a still cheetah scores about :math:`-H\,\bar v^\star`; on the families
    with an alive bonus, what the body collects before it falls.
    """
    env = make_env(config.env_id)
    returns = []
    for index, task in enumerate(split_tasks(config)[1]):
        env.set_task(task)
        env.reset(seed=seed + index)
        total = 0.0
        for _ in range(config.max_path_length):
            _, reward, terminated, _, _ = env.step(np.zeros(env.action_space.shape, dtype=env.action_space.dtype))
            total += float(reward)
            if terminated:
                break
        returns.append(total)
    return float(np.mean(returns))
