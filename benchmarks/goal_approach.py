"""Does an Ant-Goal-2D agent walk to its goal, or stay where it starts? Measured on its own
meta-test.

    python benchmarks/goal_approach.py [RUN_DIR ...] [--seed 0] [--training-contexts]
        [--exploration-actions mean|sampled] [--training-goals] [--runs-per-task N]
        [--exploration-trajectories K]
        (default: results/ant-goal-2d)

For each run folder: meta-test the agent on its held-out goals (the protocol of ``evaluate``, its
runs) and follow the torso, whose x, y open each observation (Ant-Goal-2D keeps them). Per
trajectory index, averaged over the runs: the straight-line distance to the goal at the start, at
the end and at its closest; the share of runs that end nearer the goal than they started; how far
the torso ended from where it started; the share of runs whose torso ended upside down; and the
return split into its terms (:func:`pearlkit.envs.ant.ant_goal_reward`): the goal term (the L1
distance summed over the steps), the control cost and the contact cost. Whether the belief knows
the goal: how much of the goals' spread a linear map from the belief's mean explains (R², each
task's runs predicted by a fit to the other tasks'; at or below 0 the belief says nothing linear
about where the goal is), how far the torso positions in the context it was inferred from
spread (the root mean square distance about their mean, over the trajectories before this one),
and the same R² for an ideal reader of that context (:func:`ideal_goal_means`: the exact
posterior over goals, given the rewards and the costs, which the observations and actions give),
which tells an uninformative context from an encoder that reads an informative one badly. Where
the belief points: the goal that held-out linear map reads from each run's belief, how far it
lies from the true goal, from the torso's start and from its end. A policy that walks to where its
belief points closes the distance from its start to the goal it reads about as a policy told its
goal (the oracle, ``pearlkit/AntGoal2DOracle-v0``) closes the distance to the true one; one that
closes much less walks a short way on what it believes; and, for the last trajectory, how far the
runs closed on their goal binned by how far off it the goal read lies (:func:`closed_by_read_error`):
a policy that uses its belief closes more where the belief is right. For an oracle, which has no
belief, these columns read the goal its observation ends with. As a check, the goal term is
recomputed from the observed positions and compared with what the return leaves once the costs
are taken out: the ``residual`` column, the largest gap over the runs, should read about 0 (the
observations are stored in float32, so about 0.01 over 200 steps). The last line is one JSON
object.

With ``--training-contexts`` (a run folder that still holds its ``checkpoint.pt``), the same
questions asked of the *training* tasks, to tell which half of PEARL stops the agent:

- **belief**: the held-out R² of the goal from the belief a gradient step infers (one context of
  ``embedding_batch_size`` transitions from each training task's context buffer), beside the
  R² after a fresh exploration of the same tasks (the meta-test protocol run on them: new
  trajectories, the same goals). A gap between the two is an encoder that learned its
  buffers' contexts rather than how rewards place a goal. Also the buffer belief's R² with the
  context drawn each way ``context_sampling`` allows (one stored trajectory, or all of the task's
  transitions; the config's way is the draw above): how loose the beliefs a policy trains on are;
- **relabelled**: the buffer contexts with each reward's goal term moved to another training
  task's goal (``AntGoal2DEnv.relabelled_reward_change``, to within a few mm of the torso's
  travel), the R² against each task's own goal and against the goal its rewards now point to. An
  encoder that reads rewards follows the new goal;
- **acting on it**: one trajectory in each training task on the buffer belief's mean, on the
  prior's mean and on another task's buffer belief (actions as meta-test takes them, the
  policy's mean): its return and how far the torso went toward the goal. A policy that walks to
  a goal its belief knows gains only on the first.

``--training-goals`` meta-tests on the run's training goals instead of its held-out ones: how far
the policy gets toward goals it trained on, which is the whole question for a run on one goal (the
belief's R² needs two goals or more, and reads null with one). ``--runs-per-task N`` meta-tests
each goal N times (default: the run's ``num_evals``, as ``evaluate``).

``--exploration-actions sampled`` meta-tests (and explores the training tasks afresh) with the
exploring trajectories' actions drawn from the policy, as training collects its contexts, in
place of the run's config (``PearlConfig.exploration_actions``). ``--exploration-trajectories K``
meta-tests with K exploring trajectories (the run's ``num_exp_traj_eval`` in its config, 2 in the
reference) and then one on the belief inferred from them: whether a longer look, and so a better
belief, brings the agent nearer its goal.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pearlkit.buffers import CONTEXT_SAMPLINGS
from pearlkit.checkpoint import load_agent
from pearlkit.config import EXPLORATION_ACTIONS, PearlConfig
from pearlkit.envs.ant import GOAL_CONTROL_COST, GOAL_DISC_RADIUS, AntGoal2DEnv
from pearlkit.envs.tasks import make_env
from pearlkit.evaluate import HeldOutMetaTest, exploration_beliefs, meta_test
from pearlkit.sampler import EnvPool, rollout
from pearlkit.training import new_run, restore_run
from per_run import per_run_main

XY, QUATERNION = slice(0, 2), slice(3, 7)  # the observation opens with qpos: torso x, y, z, then w, x, y, z
CONTACT_COST = 5e-4  # Ant-v5's contact_cost_weight, on the clipped contact forces it observes (cfrc_ext)


def torso_points_down(quaternion: np.ndarray) -> np.ndarray:
    """Whether the torso's own z axis points below the horizon: its world z component,
    :math:`1 - 2(q_x^2 + q_y^2)`, is negative (the ant lies on its back)."""
    return 1.0 - 2.0 * (quaternion[..., 1] ** 2 + quaternion[..., 2] ** 2) < 0.0


def position_spread(positions: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per row of ``positions`` ``(rows, points, 2)``, the root mean square distance of its
    ``valid`` points about their mean."""
    count = valid.sum(1)
    centre = (positions * valid[..., None]).sum(1) / count[:, None]
    squared = np.square(positions - centre[:, None, :]).sum(-1)
    return np.sqrt((squared * valid).sum(1) / count)


def ideal_goal_means(next_xy: np.ndarray, goal_term: np.ndarray, valid: np.ndarray, spacing: float = 0.05,
                     noise: float = 0.02) -> np.ndarray:
    """What an ideal reader of each run's context knows of its goal: the posterior mean over goals
    uniform on the disc (a grid ``spacing`` apart), given each step's goal term
    :math:`-\\lVert p_{xy} - g\\rVert_1` (the reward with the costs added back) at the observed
    torso ``next_xy`` ``(runs, steps, 2)``, with Gaussian ``noise`` for the few mm the observed
    position lags the one the reward measured. Near the start, where every distance is taken from
    the same side of the goal, the context fixes the goal's quadrant and one sum of its
    coordinates; the rest of it only where the torso's path crosses the goal's x or y."""
    axis = np.arange(-GOAL_DISC_RADIUS, GOAL_DISC_RADIUS + spacing / 2, spacing)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    grid = grid[np.linalg.norm(grid, axis=1) <= GOAL_DISC_RADIUS]
    means = np.empty((len(next_xy), 2))
    for run, (xy, term, real) in enumerate(zip(next_xy, goal_term, valid)):
        xy, term = xy[real], term[real]
        misfit = np.square(term[:, None] + np.abs(xy[:, None, :] - grid[None]).sum(-1)).sum(0)
        log_posterior = -0.5 * misfit / noise ** 2
        weights = np.exp(log_posterior - log_posterior.max())
        means[run] = weights @ grid / weights.sum()
    return means


def held_out_prediction(features: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``targets`` as an affine least-squares map from ``features`` predicts them, each group's
    rows by a map fitted to the other groups' rows (so a map that only memorised the tasks
    predicts no better than their mean). Needs two groups or more."""
    design = np.concatenate([features, np.ones((len(features), 1))], axis=1)
    predicted = np.empty_like(targets, dtype=float)
    for group in np.unique(groups):
        held = groups == group
        weights, *_ = np.linalg.lstsq(design[~held], targets[~held], rcond=None)
        predicted[held] = design[held] @ weights
    return predicted


def explained_share(predicted: np.ndarray, targets: np.ndarray) -> float:
    """R²: the share of ``targets``' spread about their mean that ``predicted`` explains."""
    return 1.0 - float(np.square(targets - predicted).sum() / np.square(targets - targets.mean(0)).sum())


def held_out_r2(features: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> float:
    """R² of :func:`held_out_prediction` (at or below 0 for a map that only memorised the tasks);
    ``nan`` for a single group, which leaves nothing to fit on."""
    if len(np.unique(groups)) < 2:
        return float("nan")
    return explained_share(held_out_prediction(features, targets, groups), targets)


def rounded_r2(features: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> float | None:
    """:func:`held_out_r2` to two decimals, ``None`` (JSON's null) where it is undefined."""
    r2 = held_out_r2(features, targets, groups)
    return None if np.isnan(r2) else round(r2, 2)


def check_ant_goal(run_dir: Path) -> None:
    """Stop with a clear message unless ``run_dir`` trained on Ant-Goal-2D."""
    env_id = PearlConfig.from_file(run_dir / "config.json").env_id
    if "AntGoal" not in env_id:
        raise SystemExit(f"{run_dir} trained on {env_id}; this diagnosis is for Ant-Goal-2D only")


def told_goal(z_means: np.ndarray, first_obs: np.ndarray, config: PearlConfig, env) -> np.ndarray | None:
    """Per run, what the policy is told of its goal: the belief's mean, or for an oracle (no
    latent) the goal, or its code, that its observation ends with
    (:meth:`~pearlkit.envs.ant.AntGoal2DOracleEnv.observed_task`); None for an agent told nothing."""
    if config.latent_dim:
        return z_means
    return first_obs[:, env.observation_slice("goal")] if "goal" in env.observation_structure else None


#: Upper edges (m) of :func:`closed_by_read_error`'s bins.
READ_ERROR_EDGES = (0.5, 1.0, 1.5, np.inf)
#: Each bin's (lower, upper) edge, the first from 0.
READ_ERROR_BINS = tuple(zip((0.0,) + READ_ERROR_EDGES[:-1], READ_ERROR_EDGES))


def closed_by_read_error(closed: np.ndarray, read_error: np.ndarray) -> list[dict]:
    """How far the runs closed on their goal (``closed``, m), by how far the goal read from what
    they were told lies off it (``read_error``, m), in the bins of :data:`READ_ERROR_EDGES`: per
    bin its upper edge (None for the last), its runs and their mean closing (None for an empty
    bin). A policy that uses what it is told closes more where that is right."""
    bins = []
    for low, high in READ_ERROR_BINS:
        inside = (read_error >= low) & (read_error < high)
        bins.append({"below_m": None if np.isinf(high) else high, "runs": int(inside.sum()),
                     "closed": round(float(closed[inside].mean()), 2) if inside.any() else None})
    return bins


def goal_terms(meta: HeldOutMetaTest) -> dict:
    """Per trajectory index of ``meta`` (an Ant-Goal-2D run's meta-test), the mean over runs of
    the distances, the displacement, the share upside down at the end, and each term of the
    return."""
    result, config, tasks, iteration = meta
    out = {"iteration": iteration, "runs": int(result.returns.shape[0]), "by_trajectory": []}
    env = make_env(config.env_id)
    contact_forces = env.observation_slice("cfrc_ext")  # the oracle's goal follows them
    # The agent acts in [-1, 1]; the control cost is on the motors' range (env.to_control).
    runs_each = result.returns.shape[0] // len(tasks)  # task-major, as meta_test runs them
    goals = np.repeat([np.asarray(task["goal"], dtype=float) for task in tasks], runs_each, axis=0)
    task_of_run = np.repeat(np.arange(len(tasks)), runs_each)
    positions = np.concatenate([traj.obs[..., XY].numpy() for traj in result.trajectories], axis=1)
    horizon = result.valid.shape[2]
    reached, read_goal_terms = [], []  # per trajectory: the torso after each step, the goal term its reward holds
    for k, traj in enumerate(result.trajectories):
        valid = result.valid[:, k].numpy()
        before = result.valid[:, :k].reshape(len(valid), -1).numpy()  # the context this belief was inferred from
        steps = valid.sum(1)
        last = steps - 1
        runs = np.arange(len(steps))
        obs, next_obs = traj.obs.numpy(), traj.next_obs.numpy()
        total = lambda x: (x * valid).sum(1)  # per run, over its real steps
        to_goal = next_obs[..., XY] - goals[:, None, :]
        distance = np.linalg.norm(to_goal, axis=-1)
        distance[~valid] = np.inf
        goal_term = -total(np.abs(to_goal).sum(-1))
        step_control = GOAL_CONTROL_COST * np.square(env.to_control(traj.action.numpy())).sum(-1)
        step_contact = CONTACT_COST * np.square(next_obs[..., contact_forces]).sum(-1)
        control, contact = total(step_control), total(step_contact)
        returns = result.returns[:, k].numpy()
        ideal_r2 = None
        if k:  # what the context this belief was inferred from says, read ideally
            ideal = ideal_goal_means(np.concatenate(reached, 1), np.concatenate(read_goal_terms, 1), before)
            ideal_r2 = rounded_r2(ideal, goals, task_of_run)
        reached.append(next_obs[..., XY])
        read_goal_terms.append(traj.reward.numpy() + step_control + step_contact)
        mean = lambda x: round(float(np.mean(x)), 2)
        start_distance, end_distance = np.linalg.norm(obs[:, 0, XY] - goals, axis=-1), distance[runs, last]
        belief_r2 = read_error = start_to_read = end_to_read = closed_by_error = None
        told = told_goal(result.z_means[:, k].numpy(), obs[:, 0], config, env)
        if len(tasks) > 1 and told is not None:  # what it is told of the goal, and where that points
            read = held_out_prediction(told, goals, task_of_run)
            belief_r2 = round(explained_share(read, goals), 2)
            errors = np.linalg.norm(read - goals, axis=-1)
            read_error = mean(errors)
            start_to_read = mean(np.linalg.norm(obs[:, 0, XY] - read, axis=-1))
            end_to_read = mean(np.linalg.norm(next_obs[runs, last, XY] - read, axis=-1))
            closed_by_error = closed_by_read_error(start_distance - end_distance, errors)
        out["by_trajectory"].append({
            "return": round(float(returns.mean()), 1),
            "goal_term": round(float(goal_term.mean()), 1),
            "control_cost": round(float(control.mean()), 1),
            "contact_cost": round(float(contact.mean()), 1),
            "residual": round(float(np.abs(returns - goal_term + control + contact).max()), 3),
            "start_distance": mean(start_distance),
            "end_distance": mean(end_distance),
            "ended_closer": mean(end_distance < start_distance),
            "closest": mean(distance.min(1)),
            "moved": mean(np.linalg.norm(next_obs[runs, last, XY] - obs[:, 0, XY], axis=-1)),
            "upside_down": mean(torso_points_down(next_obs[runs, last, QUATERNION])),
            "belief_r2": belief_r2,
            "read_goal_error": read_error,
            "start_to_read_goal": start_to_read,
            "end_to_read_goal": end_to_read,
            "closed_by_read_error": closed_by_error,
            "context_spread": mean(position_spread(positions[:, :k * horizon], before)) if k else None,
            "ideal_r2": ideal_r2})
    return out


def meta_test_copy(run_dir: Path, seed: int, runs_per_task: int | None = None, exploration_actions: str | None = None,
                   training_goals: bool = False, exploration_trajectories: int | None = None) -> HeldOutMetaTest:
    """The run's agent meta-tested as ``evaluate`` meta-tests it (``runs_per_task`` runs of each
    goal; the config's ``num_evals`` by default), on its held-out goals or its training ones, in
    the shape :func:`goal_terms` reads. ``exploration_actions`` replaces the config's, and
    ``exploration_trajectories`` its ``num_exp_traj_eval``, with one trajectory on the inferred
    belief after them.

    Raises:
        ValueError: ``runs_per_task`` or ``exploration_trajectories`` below 1.
    """
    for name, value in (("runs_per_task (--runs-per-task)", runs_per_task),
                        ("exploration_trajectories (--exploration-trajectories)", exploration_trajectories)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    check_ant_goal(run_dir)
    agent, config, iteration = load_agent(run_dir, "cpu")
    if exploration_actions is not None:
        config = config.replace(exploration_actions=exploration_actions)
    if exploration_trajectories is not None:
        config = config.replace(num_exp_traj_eval=exploration_trajectories,
                                num_steps_per_eval=(exploration_trajectories + 1) * config.max_path_length)
    tasks = config.split_tasks()[0 if training_goals else 1]
    result = meta_test(agent, tasks, config, seed=seed, runs_per_task=runs_per_task or config.num_evals,
                       exploration_beliefs=exploration_beliefs(agent, config, seed))
    return HeldOutMetaTest(result, config, tasks, iteration)


@torch.no_grad()
def training_tasks_diagnosis(run_dir: Path, seed: int, exploration_actions: str | None = None) -> dict:
    """The belief from the context buffers and from a fresh exploration (exploring with
    ``exploration_actions`` where given), the belief with relabelled rewards, and the policy
    acting on each kind of belief, in the training tasks."""
    if not (run_dir / "checkpoint.pt").is_file():
        raise SystemExit(f"--training-contexts reads the context buffers, and {run_dir} has no checkpoint.pt "
                         "(a copy of agent.pt alone cannot give them)")
    config = PearlConfig.from_file(run_dir / "config.json")
    run = new_run(config, torch.device("cpu"))
    restore_run(run, run_dir)
    agent, tasks = run.trainer.agent, config.split_tasks()[0]
    goals = np.asarray([task["goal"] for task in tasks], dtype=float)
    own = np.arange(len(tasks))
    other = np.random.default_rng(seed).permutation(len(tasks))
    torch.manual_seed(seed)
    # Drawn with s' so that the goal term can be relabelled exactly; the encoder sees (s, a, r).
    drawn = run.trainer.context_buffer.sample_context(torch.as_tensor(own), config.embedding_batch_size, True,
                                                      config.context_sampling)
    context = drawn if config.use_next_obs_in_context else drawn[..., :-agent.obs_dim]
    next_obs = drawn[..., -agent.obs_dim:].double().numpy()
    relabelled, reward = context.clone(), agent.obs_dim + agent.action_dim
    change = AntGoal2DEnv.relabelled_reward_change(next_obs, goals[:, None, :], goals[other][:, None, :])
    relabelled[..., reward] = torch.as_tensor(context[..., reward].double().numpy() + change)
    belief = agent.encoder(context)[0]
    # The same buffers drawn the other way too: one stored trajectory, or all of the task's transitions.
    by_sampling = {config.context_sampling: belief}
    for sampling in [other for other in CONTEXT_SAMPLINGS if other != config.context_sampling]:
        other_draw = run.trainer.context_buffer.sample_context(torch.as_tensor(own), config.embedding_batch_size,
                                                               config.use_next_obs_in_context, sampling)
        by_sampling[sampling] = agent.encoder(other_draw)[0]
    relabelled_mean = agent.encoder(relabelled)[0].float().numpy()
    exploring = config if exploration_actions is None else config.replace(exploration_actions=exploration_actions)
    fresh = meta_test(agent, tasks, exploring, seed=seed)
    first_inferred = config.num_exp_traj_eval
    direction = goals / np.linalg.norm(goals, axis=1, keepdims=True)
    acting = {}
    pool = EnvPool(config.env_id, seed)
    envs = pool.take(tasks)
    for name, z in (("buffer_belief", belief), ("prior_mean", torch.zeros_like(belief)),
                    ("other_task_belief", belief[torch.as_tensor(other)])):
        traj, valid, _ = rollout(pool, envs, lambda obs, z: agent.policy(obs, z, deterministic=True).action, z,
                                 config.max_path_length)
        last = valid.sum(1) - 1
        moved = traj.next_obs[torch.as_tensor(own), last][:, XY].numpy() - traj.obs[:, 0, XY].numpy()
        acting[name] = {"return": round(float((traj.reward * valid).sum(1).mean()), 1),
                        "toward_goal": round(float((moved * direction).sum(1).mean()), 2)}
    r2 = lambda means, targets: rounded_r2(means, targets, own)
    return {"iteration": run.state.iteration, "tasks": len(tasks),
            "buffer_belief_r2": r2(belief.float().numpy(), goals),
            "buffer_belief_r2_by_sampling": {sampling: r2(b.float().numpy(), goals)
                                             for sampling, b in sorted(by_sampling.items())},
            "fresh_belief_r2": r2(fresh.z_means[:, first_inferred].numpy(), goals),
            "relabelled_r2_own_goal": r2(relabelled_mean, goals),
            "relabelled_r2_new_goal": r2(relabelled_mean, goals[other]),
            "acting_on": acting}


def measure(run_dir: Path, args: argparse.Namespace) -> dict:
    result = goal_terms(meta_test_copy(run_dir, args.seed, args.runs_per_task, args.exploration_actions,
                                       args.training_goals, args.exploration_trajectories))
    result["goals"] = "training" if args.training_goals else "held-out"
    if args.training_contexts:
        result["training_tasks"] = training_tasks_diagnosis(run_dir, args.seed, args.exploration_actions)
    return result


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    print(f"{run_dir} (iteration {result['iteration']}, {result['runs']} runs on its {result['goals']} goals, "
          f"seed {args.seed})")
    print("  trajectory  return = goal term - control - contact (residual)"
          "   distance to goal (m): start, end, closest   ended closer   moved (m)   upside down   belief R²"
          "   goal it reads (m): off the goal, start, end   context spread (m)   ideal reader's R²")
    shown = lambda value: "–" if value is None else f"{value:.2f}"  # one goal: no R², no goal read
    for k, t in enumerate(result["by_trajectory"], start=1):
        spread, ideal = ("", "")
        if t["context_spread"] is not None:
            spread, ideal = f"{t['context_spread']:.2f}", shown(t["ideal_r2"])
        print(f"  {k:10d}  {t['return']:6.0f} = {t['goal_term']:9.0f} - {t['control_cost']:7.1f} - "
              f"{t['contact_cost']:7.1f} ({t['residual']:.3f})   {t['start_distance']:5.2f}, "
              f"{t['end_distance']:5.2f}, {t['closest']:5.2f}   {t['ended_closer']:12.2f}   {t['moved']:9.2f}   "
              f"{t['upside_down']:11.2f}   "
              f"{shown(t['belief_r2']):>9s}   {shown(t['read_goal_error']):>28s}, "
              f"{shown(t['start_to_read_goal']):>5s}, "
              f"{shown(t['end_to_read_goal']):>5s}"
              f"   {spread:>18s}   {ideal:>17s}")
    bins = result["by_trajectory"][-1]["closed_by_read_error"]
    if bins is not None:
        shares = (f"{low:g}–{'' if np.isinf(high) else high} m {shown(b['closed'])} ({b['runs']} runs)"
                  for (low, high), b in zip(READ_ERROR_BINS, bins))
        print("  last trajectory: closed on the goal (m), by how far off it the goal read lies: " + ", ".join(shares))
    if "training_tasks" in result:
        t = result["training_tasks"]
        print(f"  training tasks (checkpoint at iteration {t['iteration']}, {t['tasks']} tasks): belief R² "
              f"{shown(t['buffer_belief_r2'])} from the context buffers, {shown(t['fresh_belief_r2'])} after a fresh "
              f"exploration; buffer rewards relabelled to another task's goal: "
              f"R² {shown(t['relabelled_r2_own_goal'])} "
              f"(own goal), {shown(t['relabelled_r2_new_goal'])} (new goal)")
        print("    buffer belief R² by how its context is drawn: " + ", ".join(
            f"{sampling} {shown(value)}" for sampling, value in t["buffer_belief_r2_by_sampling"].items()))
        for name, a in t["acting_on"].items():
            print(f"    acting on the {name.replace('_', ' ')}: return {a['return']:.0f}, "
                  f"{a['toward_goal']:+.2f} m toward the goal")


if __name__ == "__main__":
    per_run_main(__doc__, [Path("results/ant-goal-2d")], measure, show, lambda parser: (
        parser.add_argument("--training-contexts", action="store_true",
                            help="also diagnose the training tasks from the context buffers (needs the run's "
                                 "checkpoint.pt)"),
        parser.add_argument("--exploration-actions", choices=EXPLORATION_ACTIONS, default=None,
                            help="how the exploring trajectories act, in place of the run's config"),
        parser.add_argument("--training-goals", action="store_true",
                            help="meta-test on the run's training goals instead of its held-out ones"),
        parser.add_argument("--runs-per-task", type=int, default=None,
                            help="meta-test runs of each goal (default: the run's num_evals, as evaluate)"),
        parser.add_argument("--exploration-trajectories", type=int, default=None,
                            help="exploring trajectories before the one on the inferred belief, in place of the "
                                 "run's num_exp_traj_eval")))
