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

import dataclasses
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from pearlkit.belief import misses_ignored
from pearlkit.buffers import context_from_transitions
from pearlkit.checkpoint import atomic_write_json, load_agent
from pearlkit.config import PearlConfig
from pearlkit.envs.point_nav import goals_passed
from pearlkit.envs.tasks import Task, make_env
from pearlkit.inference import pick_from_mixture, sample_z
from pearlkit.pearl import PearlAgent
from pearlkit.runtime import cpu_name, seeded_stream, versions
from pearlkit.sampler import EnvPool, StepHook, Trajectories, rollout, valid_steps


class MetaTestResult(NamedTuple):
    """Everything meta-test saw, for metrics and for plots. ``K`` = trajectories per task run
    (``num_steps_per_eval / max_path_length``, more where episodes end early)."""

    returns: Tensor  #: ``(num_runs, K)`` return of each trajectory (the task's own reward)
    successes: Tensor  #: ``(num_runs, K)`` bool, the trajectory entered the goal (if reported)
    z: Tensor  #: ``(num_runs, K, latent_dim)`` the z each trajectory was run with
    z_means: Tensor  #: ``(num_runs, K, latent_dim)`` the belief that z was drawn from
    z_vars: Tensor  #: same shape
    trajectories: list[Trajectories]  #: one per trajectory index, arrays ``(num_runs, horizon, ·)``
    valid: Tensor  #: ``(num_runs, K, horizon)`` bool, real (not padded) steps
    reports_success: bool  #: the environment reports ``is_success`` (navigation)
    #: ``(num_runs, K)`` bool, the trajectories the reference would have run: those begun
    #: before the run had ``num_steps_per_eval`` steps
    counted: Tensor
    num_exp_traj_eval: int  #: the first this many trajectories explored with z from the prior
    runs_per_task: int  #: run ``i`` is task ``i // runs_per_task``


class TrainingBeliefs(NamedTuple):
    """The components of the exploration mixture (:func:`training_beliefs`)."""

    means: Tensor  #: ``(M, latent_dim)``
    variances: Tensor  #: ``(M, latent_dim)``
    tasks: list[Task]  #: the training task each component is the belief of


def infer_from_context(agent: PearlAgent, contexts: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Belief per task from each task's whole context (lengths may differ after early
    terminations; equal lengths go through the encoder in one batch)."""
    if len({c.shape[0] for c in contexts}) == 1:
        return agent.encoder(torch.stack(contexts))
    beliefs = [agent.encoder(c.unsqueeze(0)) for c in contexts]
    return torch.cat([b[0] for b in beliefs]), torch.cat([b[1] for b in beliefs])


def met_reward(traj: Trajectories, valid: Tensor) -> Tensor:
    """Per run, whether a real step of the trajectory got a nonzero reward. ``(num_runs,)``, on the CPU."""
    return ((traj.reward != 0) & valid).any(1).cpu()


def exploit_on_mean(sample: Tensor, mean: Tensor, rewarded: Tensor, mean_missed: Tensor) -> tuple[Tensor, Tensor]:
    r"""The z each run acts on under ``exploit_with_mean``:

    .. math:: z_k = \begin{cases} \mu_\phi(c_{1:k-1}) & \text{if } e_k \\
              z \sim q_\phi(z \mid c_{1:k-1}) & \text{otherwise} \end{cases}

    where :math:`e_k` holds when :math:`c_{1:k-1}` holds a reward and no trajectory on the mean
    has missed since the last one.

    :func:`meta_test` keeps :math:`e_k` per run: any reward sets it, and a trajectory on the mean
    that meets none clears it until the next reward. Trajectories that explore on the prior (or
    the training beliefs) are not exploitation and do not count.

    Args:
        sample: ``(runs, latent_dim)``, a draw from each run's belief.
        mean: ``(runs, latent_dim)``, each belief's mean.
        rewarded: ``(runs,)`` bool, the run's context holds a reward.
        mean_missed: ``(runs,)`` bool, a trajectory on the mean met no reward since the last reward.
    Returns:
        The z per run, and which runs act on the mean. Book label: ``eq-exploit-mean``.
    """
    on_mean = rewarded & ~mean_missed
    return torch.where(on_mean.to(mean.device).unsqueeze(1), mean, sample), on_mean


@torch.no_grad()
def meta_test(agent: PearlAgent, tasks: list[Task], config: PearlConfig, *, seed: int, runs_per_task: int = 1,
              online_posterior: bool = False, on_step: StepHook | None = None,
              pool: EnvPool | None = None, exploration_beliefs: TrainingBeliefs | None = None
              ) -> MetaTestResult:
    r"""Run the meta-test protocol on ``tasks``, all in lockstep, until each run has
    ``config.num_steps_per_eval`` steps: posterior sampling, with no gradient step,

    .. math:: z_k \sim q_\phi(z \mid c_{1:k-1}), \qquad a_t = \tanh\big(\mu_\pi(s_t, z_k)\big)
              \text{ for the whole trajectory } k

    (the first ``num_exp_traj_eval`` trajectories draw z from the prior, see below).

    Args:
        agent: the trained agent (encoder + policy).
        tasks: held-out tasks.
        config: the protocol's settings: ``max_path_length``, ``num_exp_traj_eval``,
            ``num_steps_per_eval``, ``use_next_obs_in_context``, ``ignore_misses``,
            ``exploration_actions`` (the exploration trajectories act on samples of the policy
            instead of :math:`\tanh\mu` where it is ``"sampled"``).
        seed: seeds the environments (of a new pool) and every z drawn.
        runs_per_task: independent runs of each task, side by side (``num_evals`` in training).
        online_posterior: infer the belief after *every* trajectory, exploration included
            (the paper's Algorithm 2) instead of only after exploration (the reference code).
        on_step: passed to :func:`~pearlkit.sampler.rollout` (e.g. to render frames).
        pool: environments to reuse across calls (training keeps one, so that its evaluations
            do not rebuild them); by default a new pool seeded with ``seed``.
        exploration_beliefs: optional mixture components (:func:`training_beliefs`): while a
            run's belief is the prior, its z comes from their equal mixture instead
            (``exploration_prior="training-beliefs"``), and the record holds the mixture
            component it came from. With ``config.rule_out_searched``, each run's mixture drops
            the components its reward-free trajectories ruled out
            (:func:`~pearlkit.envs.point_nav.goals_passed`).

    With ``config.exploit_with_mean``, a run whose context holds a reward acts on the belief's
    mean rather than a sample, until a trajectory on the mean meets no reward (then on samples
    again, until one meets a reward).
    Returns:
        Everything the runs saw. Book label: ``eq-posterior-sampling``.
    """
    runs = [task for task in tasks for _ in range(runs_per_task)]
    pool = pool if pool is not None else EnvPool(config.env_id, seed)
    envs, n, device = pool.take(runs), len(runs), agent.device
    steps_so_far = torch.zeros(n, dtype=torch.long)
    z_mean, z_var = agent.encoder.belief_without_context(n, device)
    contexts = [torch.zeros(0, agent.context_dim, device=device) for _ in range(n)]
    act = lambda obs, z: agent.policy(obs, z, deterministic=True).action
    explore = (lambda obs, z: agent.policy(obs, z).action) if config.exploration_actions == "sampled" else act
    misses_left_out = config.ignore_misses != "never"
    rewarded = torch.zeros(n, dtype=torch.bool)  # the run's context holds a nonzero reward
    mean_missed = torch.zeros(n, dtype=torch.bool)  # a trajectory on the mean has missed since the last reward
    ruled_out = None  # per run, the mixture components a miss has ruled out
    if exploration_beliefs is not None:  # recorded on the CPU; drawn from where the agent acts
        mixture_means, mixture_variances = (exploration_beliefs.means.to(device),
                                            exploration_beliefs.variances.to(device))
    if config.rule_out_searched and exploration_beliefs is not None:
        goals = torch.as_tensor(np.array([task["goal"] for task in exploration_beliefs.tasks]), dtype=torch.float32)
        ruled_out = torch.zeros(n, len(goals), dtype=torch.bool)
    records: dict[str, list] = {k: [] for k in ("returns", "successes", "z", "z_means", "z_vars", "valid", "counted")}
    trajectories = []
    with seeded_stream(seed, device):
        while (steps_so_far < config.num_steps_per_eval).any():
            k = len(trajectories)
            # paper-vs-code: the reference samples exploration z from the prior and infers only
            # once num_exp_traj_eval trajectories are in; `online_posterior` gives the paper's
            # Algorithm 2, which updates the belief after each trajectory.
            inferred = k > 0 and (online_posterior or k >= config.num_exp_traj_eval)
            if inferred:
                # paper-vs-code: ignore_misses="meta-test" leaves misses out of this belief only.
                with misses_ignored(agent) if config.ignore_misses == "meta-test" else nullcontext():
                    z_mean, z_var = infer_from_context(agent, contexts)
            z = sample_z(z_mean, z_var)  # drawn for every run, so the others draw what they would without the option
            on_mean = torch.zeros(n, dtype=torch.bool)
            if inferred and config.exploit_with_mean:  # paper-vs-code: the reference acts on samples only
                z, on_mean = exploit_on_mean(z, z_mean, rewarded, mean_missed)
            if exploration_beliefs is not None:
                # The belief is the prior before any inference, and after it where misses are
                # left out and no reward has come.
                at_prior = ~rewarded & misses_left_out if inferred else torch.ones(n, dtype=torch.bool)
                if at_prior.any():
                    z_mean, z_var, z = z_mean.clone(), z_var.clone(), z.clone()
                    allowed = None if ruled_out is None else ~ruled_out[at_prior]
                    rows = at_prior.to(device)
                    z_mean[rows], z_var[rows] = pick_from_mixture(
                        mixture_means, mixture_variances, int(at_prior.sum()), allowed)
                    z[rows] = sample_z(z_mean[rows], z_var[rows])
            actions = explore if k < config.num_exp_traj_eval else act
            traj, valid, success = rollout(pool, envs, actions, z, config.max_path_length, on_step)
            met = met_reward(traj, valid)
            rewarded |= met
            mean_missed = ~met & (mean_missed | on_mean)  # a reward resets it; a miss on the mean sets it
            if ruled_out is not None:  # a miss is evidence against every training goal it passed
                passed = goals_passed(traj.next_obs[..., :2].cpu(), valid.cpu(), goals)
                ruled_out |= passed & ~met.unsqueeze(1)
            for i in range(n):
                steps = valid_steps(traj, valid, i)
                contexts[i] = torch.cat([contexts[i], context_from_transitions(steps, config.use_next_obs_in_context)
                                         .to(device)])
            trajectories.append(traj)
            for key, value in (("returns", (traj.reward * valid).sum(1)), ("successes", success.any(1)),
                               ("z", z.cpu()), ("z_means", z_mean.cpu()), ("z_vars", z_var.cpu()),
                               ("valid", valid), ("counted", steps_so_far < config.num_steps_per_eval)):
                records[key].append(value)
            steps_so_far += valid.sum(1)
    stacked = {key: torch.stack(values, dim=1) for key, values in records.items()}
    return MetaTestResult(trajectories=trajectories, reports_success=bool(getattr(envs[0], "reports_success", False)),
                          num_exp_traj_eval=config.num_exp_traj_eval, runs_per_task=runs_per_task, **stacked)


class NoRewardMet(ValueError):
    """No meta-test run in the training tasks met a reward, so there is no training belief to
    draw exploration z from (an agent early in training, or one that never learned to reach a
    goal)."""


def training_beliefs(agent: PearlAgent, config: PearlConfig,
                     seed: int) -> TrainingBeliefs:
    r"""The beliefs the agent reaches in its own training tasks: the
    components of the mixture that ``exploration_prior="training-beliefs"``
    draws exploration z from,

    .. math:: \bar q(z) = \frac1M \sum_{j=1}^{M} q_\phi(z \mid c_j),

    the task distribution as the encoder sees it (the unit prior only stands
    in for it). Each training task is meta-tested ``num_evals`` times,
    exploring with the unit prior, and gives one component: the belief its
    first run with a nonzero reward (before the last trajectory) drew that
    last trajectory's z from. A task none of whose runs met a reward is left
    out: a context without one says nothing about the task (its belief is
    the prior, or one narrowed by misses alone).

    Returns:
        The means and variances, each ``(M, latent_dim)``, one row per task
        kept, in task order, and those tasks. Book label: ``eq-training-beliefs``.
    Raises:
        NoRewardMet: no run gathered a reward.
    """
    train_tasks, _ = config.split_tasks()
    runs_per_task = config.num_evals
    # Posterior sampling's beliefs: how a found goal is exploited (exploit_with_mean) is no part of them.
    result = meta_test(agent, train_tasks, config.replace(exploit_with_mean=False), seed=seed,
                       runs_per_task=runs_per_task)
    rewarded = torch.zeros(result.returns.shape[0], dtype=torch.bool)
    for k, traj in enumerate(result.trajectories[:-1]):
        rewarded |= met_reward(traj, result.valid[:, k])
    if not rewarded.any():
        raise NoRewardMet(f"no meta-test run in the {len(train_tasks)} training "
                         "tasks gathered a reward: there is no belief to draw "
                         "exploration z from")
    # One component per task (its first rewarded run): every task weighs the same.
    by_task = rewarded.view(len(train_tasks), runs_per_task)
    offsets = torch.arange(len(train_tasks)) * runs_per_task
    kept = by_task.any(1)
    first = (by_task.float().argmax(1) + offsets)[kept]
    return TrainingBeliefs(result.z_means[first, -1], result.z_vars[first, -1],
                           [task for task, keep in zip(train_tasks, kept) if keep])


def reported_trajectory(result: MetaTestResult) -> Tensor:
    """Per run, the index of the last trajectory the reference would have run: the one whose
    return it reports (``final_returns`` in its ``_do_eval``). ``(num_runs,)``."""
    index = torch.arange(result.counted.shape[1]).expand_as(result.counted)
    return torch.where(result.counted, index, -1).max(dim=1).values


def velocity_along_task(result: MetaTestResult, tasks: list[Task], env_id: str) -> np.ndarray:
    r"""``(num_runs, K)``: for a direction family (Ant-Fwd-Back, Humanoid-Dir-2D), each
    trajectory's mean over its real steps of the root body's velocity along its task's
    direction, :math:`\langle v_{xy}, (\cos\theta, \sin\theta)\rangle` in m/s: the number
    the films' captions let a reader compare by eye. Read from the observation's ``qvel``,
    which opens with the root's :math:`x, y` velocity.

    Raises:
        ValueError: ``tasks`` are not directions (no ``"angle"``).
    """
    if any("angle" not in task for task in tasks):
        raise ValueError(f"velocity_along_task needs direction tasks (an 'angle'); {env_id} has {tasks[0]}")
    qvel = make_env(env_id).observation_slice("qvel")
    angles = np.repeat([float(task["angle"]) for task in tasks], result.runs_per_task)
    direction = np.stack([np.cos(angles), np.sin(angles)], axis=-1)[:, None, :]  # (num_runs, 1, 2)
    along = []
    for traj, valid in zip(result.trajectories, result.valid.unbind(1)):
        velocity = traj.next_obs.numpy()[..., qvel.start:qvel.start + 2]
        valid = valid.numpy()
        along.append(((velocity * direction).sum(-1) * valid).sum(1) / valid.sum(1))
    return np.stack(along, axis=1)


@dataclass(frozen=True)
class MetaTestSummary:
    """The meta-test metrics (how chapter 4 defines them). The trajectory *after exploration* is
    trajectory ``num_exp_traj_eval + 1``, the first run with z from the inferred belief."""

    return_after_exploration: float  #: mean over runs of the return after exploration
    success_rate: float | None  #: share of runs whose trajectory after exploration entered the goal (navigation)
    reported_return: float  #: the reference's number: the last trajectory (:func:`reported_trajectory`)
    reported_success: float | None  #: the same trajectory's success rate (navigation)
    found_during_exploration: float | None  #: share of runs where an exploration trajectory entered the goal
    success_given_found: float | None  #: success rate of the runs whose exploration found the goal
    success_given_not_found: float | None  #: ... and of those whose exploration did not
    adaptation_curve: list[float]  #: mean return per trajectory index
    success_curve: list[float] | None  #: success rate per trajectory index (navigation)
    num_tasks: int  #: distinct tasks
    runs_per_task: int
    iteration: int | None = None  #: the training iteration of the weights, when read from a run folder


def summarize(result: MetaTestResult) -> MetaTestSummary:
    r"""The logged meta-test metrics of ``result`` (see :class:`MetaTestSummary`). The headline one:

    .. math:: R_\text{after} = \frac{1}{|\mathcal T_\text{test}|} \sum_{\mathcal T \in \mathcal T_\text{test}}
              \sum_{t=1}^{H} r_{\mathcal T}(s_t, a_t), \qquad a_t = \tanh \mu_\pi(s_t, z),\
              z \sim q_\phi(z \mid c_{1:K})

    for the trajectory right after the :math:`K` = ``num_exp_traj_eval`` exploration ones.
    Book label: ``eq-return-after-exploration``.
    """
    after = result.num_exp_traj_eval
    success = found = given_found = given_not_found = reported_success = None
    reported = reported_trajectory(result)
    runs = torch.arange(result.returns.shape[0])
    if result.reports_success:
        succeeded = result.successes[:, after].float()
        was_found = result.successes[:, :after].any(1)
        success, found = succeeded.mean().item(), was_found.float().mean().item()
        # Exploitation vs exploration: how often the trajectory after exploration succeeds
        # when exploration did (or did not) find the goal. None where no run falls in the group.
        given_found = succeeded[was_found].mean().item() if was_found.any() else None
        given_not_found = succeeded[~was_found].mean().item() if not was_found.all() else None
        reported_success = result.successes[runs, reported].float().mean().item()
    return MetaTestSummary(
        return_after_exploration=result.returns[:, after].mean().item(),
        success_rate=success,
        reported_return=result.returns[runs, reported].mean().item(),
        reported_success=reported_success,
        found_during_exploration=found,
        success_given_found=given_found,
        success_given_not_found=given_not_found,
        adaptation_curve=result.returns.mean(0).tolist(),
        success_curve=result.successes.float().mean(0).tolist() if result.reports_success else None,
        num_tasks=result.returns.shape[0] // result.runs_per_task,
        runs_per_task=result.runs_per_task,
    )


def exploration_beliefs(agent: PearlAgent, config: PearlConfig, seed: int) -> TrainingBeliefs | None:
    """What :func:`meta_test` draws exploration z from under ``config.exploration_prior``:
    :func:`training_beliefs` for ``"training-beliefs"``, None (the unit prior) for ``"unit"``,
    and the unit prior with a warning where no training task met a reward (an agent early in
    training has no training beliefs yet; its evaluations go on rather than stop the run)."""
    if config.exploration_prior != "training-beliefs":
        return None
    try:
        return training_beliefs(agent, config, seed)
    except NoRewardMet as error:
        warnings.warn(f"{error}; exploring with the unit prior instead (seed {seed})", stacklevel=2)
        return None


class HeldOutMetaTest(NamedTuple):
    """A run folder's agent meta-tested on its held-out tasks (:func:`held_out_meta_test`)."""

    result: MetaTestResult
    config: PearlConfig  #: the config it was meta-tested with
    tasks: list[Task]  #: the held-out tasks; run ``i`` is task ``i // runs_per_task``
    iteration: int  #: of the loaded weights


def held_out_meta_test(run_dir, seed: int = 0, runs_per_task: int | None = None, online_posterior: bool = False,
                       device: str | None = None, ignore_misses: bool = False,
                       exploration_prior: str | None = None, exploration_actions: str | None = None
                       ) -> HeldOutMetaTest:
    """Load a run folder's agent and meta-test it on the held-out tasks of its config,
    ``runs_per_task`` runs of each (``num_evals`` by default). ``ignore_misses`` meta-tests as
    ``ignore_misses="meta-test"`` whatever the run's config says (a run trained with
    ``"always"`` ignores them anyway); ``exploration_prior`` and ``exploration_actions``, when
    given, replace the config's.

    Raises:
        ValueError: ``runs_per_task`` below 1.
    """
    if runs_per_task is not None and runs_per_task < 1:
        raise ValueError(f"runs_per_task (--runs-per-task) must be >= 1, got {runs_per_task}")
    agent, config, iteration = load_agent(run_dir, device)
    if ignore_misses and config.ignore_misses == "never":
        config = config.replace(ignore_misses="meta-test")
    if exploration_prior is not None:
        config = config.exploring_with(exploration_prior)
    if exploration_actions is not None:
        config = config.replace(exploration_actions=exploration_actions)
    _, test_tasks = config.split_tasks()
    runs_per_task = config.num_evals if runs_per_task is None else runs_per_task
    result = meta_test(agent, test_tasks, config, seed=seed, runs_per_task=runs_per_task,
                       online_posterior=online_posterior, exploration_beliefs=exploration_beliefs(agent, config, seed))
    return HeldOutMetaTest(result, config, test_tasks, iteration)


def run_meta_test(run_dir, seed: int = 0, online_posterior: bool = False, device: str | None = None,
                  ignore_misses: bool = False, exploration_prior: str | None = None,
                  runs_per_task: int | None = None, exploration_actions: str | None = None) -> MetaTestSummary:
    """:func:`held_out_meta_test`, summarized, with the iteration of the loaded weights."""
    tested = held_out_meta_test(run_dir, seed, runs_per_task, online_posterior=online_posterior, device=device,
                                ignore_misses=ignore_misses, exploration_prior=exploration_prior,
                                exploration_actions=exploration_actions)
    return dataclasses.replace(summarize(tested.result), iteration=tested.iteration)


def zero_action_return(config: PearlConfig, seed: int = 0) -> float:
    r"""The floor a trained agent must rise above: the mean return, over the held-out tasks, of one
    trajectory with zero actions (motors idle), as long as meta-test's (or until the body falls).

    On Half-Cheetah-Vel a still cheetah scores about :math:`-H\,\bar v^\star`; on the families
    with an alive bonus, what the body collects before it falls.
    """
    env = make_env(config.env_id)
    returns = []
    for index, task in enumerate(config.split_tasks()[1]):
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


# ----- over several evaluation seeds: what a shipped result records and CI re-checks -----

#: The evaluation seeds a shipped result is measured at (``results/<name>/evaluation.json``).
EVALUATION_SEEDS = (0, 1, 2, 3, 4)
#: ... and each run of a shipped sweep (``results/sweeps/<name>/<run>/evaluation.json``): three,
#: as the reference meta-tests, for the tables of chapter 7.
SWEEP_EVALUATION_SEEDS = (0, 1, 2)
#: The file in a shipped result's folder that records :func:`evaluate_seeds` at shipping time.
EVALUATION_FILE = "evaluation.json"
#: The figures :func:`changed_figures` compares (those of them a family reports).
CHECKED_METRICS = ("return_after_exploration", "reported_return", "success_rate", "reported_success")


def seed_statistics(summaries: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean over evaluation seeds of each scalar metric of ``summaries`` (dicts of
    :class:`MetaTestSummary`), and the standard error of that mean,
    :math:`s/\\sqrt{n}` with :math:`s` the sample standard deviation (0 for one seed)."""
    names = [k for k, v in summaries[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
             and k not in ("num_tasks", "runs_per_task", "iteration")
             and all(s[k] is not None for s in summaries)]
    mean, error = {}, {}
    for name in names:
        values = np.array([s[name] for s in summaries], dtype=float)
        mean[name] = float(values.mean())
        error[name] = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return mean, error


def evaluate_seeds(run_dir, seeds=EVALUATION_SEEDS, device: str | None = None, ignore_misses: bool = False,
                   exploration_prior: str | None = None, runs_per_task: int | None = None,
                   exploration_actions: str | None = None, progress: bool = False) -> dict:
    """:func:`run_meta_test` at each of ``seeds``: ``{"seeds", "by_seed": [summary dicts],
    "mean": {metric: mean over seeds}, "standard_error": {metric: ...}}`` (``python -m pearlkit
    evaluate RUN --seeds 0-4 --json`` prints it). ``progress``: a bar over the seeds on stderr
    (a MuJoCo family's seed takes seconds to a minute on a CPU)."""
    by_seed = [dataclasses.asdict(run_meta_test(run_dir, seed=seed, device=device, ignore_misses=ignore_misses,
                                                exploration_prior=exploration_prior, runs_per_task=runs_per_task,
                                                exploration_actions=exploration_actions))
               for seed in tqdm(list(seeds), desc="evaluation seeds", unit="seed", disable=not progress,
                                dynamic_ncols=True)]
    mean, error = seed_statistics(by_seed)
    return {"seeds": list(seeds), "by_seed": by_seed, "mean": mean, "standard_error": error}


def record_evaluation(folder: str | Path, device: str = "cpu", seeds: Sequence[int] = EVALUATION_SEEDS) -> dict:
    """Measure a shipped result at ``seeds`` (:func:`evaluate_seeds`; a shipped sweep's runs use
    :data:`SWEEP_EVALUATION_SEEDS`) and write it, with the CPU and versions it was measured with,
    to ``folder/evaluation.json``: the figures its README or chapter quotes and CI re-checks
    (:func:`changed_figures`)."""
    record = {**evaluate_seeds(folder, seeds, device), "measured_on": cpu_name(), "versions": versions()}
    atomic_write_json(Path(folder) / EVALUATION_FILE, record)
    return record


def figure_tolerance(mean: float, standard_error: float) -> float:
    r"""How far a re-measured seed mean may move before the recorded figure "no longer comes out":
    :math:`4\,\mathrm{SE} + 0.01\,(1 + |\bar x|)`.

    The same code on the same kind of CPU reproduces a figure exactly. On another CPU the
    floating-point rounding differs, and a chaotic body (an ant) then acts as if it had drawn
    another evaluation seed, so the seed mean may move by about its standard error; the 1 %
    covers agents whose seeds all agree (a standard error of 0). A change that breaks an
    environment, the agent or the meta-test protocol moves the figures by far more.
    """
    return 4.0 * standard_error + 0.01 * (1.0 + abs(mean))


def changed_figures(recorded: dict, measured: dict) -> list[str]:
    """The :data:`CHECKED_METRICS` whose seed mean in ``measured`` moved from ``recorded`` (both
    :func:`evaluate_seeds` results at the same seeds) by more than :func:`figure_tolerance`,
    each as a sentence; empty when every recorded figure still comes out."""
    if recorded["seeds"] != measured["seeds"]:
        raise ValueError(f"measured at seeds {measured['seeds']}, but the record is of seeds {recorded['seeds']}")
    changed = []
    for name in CHECKED_METRICS:
        if name not in recorded["mean"]:
            continue
        was, now = recorded["mean"][name], measured["mean"].get(name)
        tolerance = figure_tolerance(was, recorded["standard_error"][name])
        if now is None or abs(now - was) > tolerance:
            changed.append(f"{name}: recorded {was:.3f} (mean of seeds {recorded['seeds']}), measured "
                           f"{now if now is None else round(now, 3)}; allowed ±{tolerance:.3f}")
    return changed
