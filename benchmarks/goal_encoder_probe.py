"""Can PEARL's encoder read an Ant-Goal-2D goal from the contexts its agent gathers? A probe
trained on endless fresh goals, beside the run's own encoder and the ideal reader.

    python benchmarks/goal_encoder_probe.py RUN_DIR [--trajectories 300] [--steps 3000] [--seed 0]
        [--fixed-tasks N [--trajectories-per-task M]] [--encoder factors|pooled]

The run's encoder learned from each training task's context buffer, a few hundred transitions
that stay the same until the task is picked again (``goal_approach.py --training-contexts``
measures what it makes of them and of fresh ones). The probe is a new encoder of the run's
architecture (:class:`pearlkit.inference.ContextEncoder`: one Gaussian factor per transition,
multiplied together) with a linear map from its belief's mean to the goal, trained from scratch on
the squared error of that map. Its contexts are the run's own policy's trajectories, on z from the
prior with sampled actions (as training collects its context data), ``embedding_batch_size``
transitions of two of them at a time, relabelled to a goal drawn anew from the disc for every
context (``pearlkit.envs.ant.AntGoal2DEnv.relabelled_reward_change``): it never sees one context
twice, so it can only learn to read the rewards.

With ``--fixed-tasks N`` the probe trains as the run's encoder does instead: N tasks, each with
one goal and one fixed pair of the trajectories (the two exploring trajectories a context buffer
holds), every context drawn from its task's 400 transitions. Against the default, that tells
whether fixed contexts alone, without the critic, make an encoder learn its contexts rather than
how to read them; it then also prints the R² on its own tasks' contexts. ``--trajectories-per-task
M`` gives each fixed task M trajectories instead of two, as a context buffer that kept every
pick's prior data (two trajectories a pick) would hold after M / 2 picks.

Printed, on the run's meta-test of its held-out goals (as ``goal_approach.py`` runs it), per
trajectory from the second on: the held-out R² of the goal from the probe's belief, from the run's
belief and from the ideal reader (:func:`goal_approach.ideal_goal_means`); and the probe's
learning curve, its R² on fresh contexts of the kind it trains on (new goals, the policy's sampled
actions, from 150 trajectories it did not train on). A probe near the ideal reader says the
architecture can read the goal from these contexts and the run's encoder did not learn to; a
probe near 0 says the product of per-transition factors cannot. The last line is one JSON object.

``--encoder pooled`` gives the probe another encoder (:class:`PooledEncoder`): each transition
embedded, the embeddings averaged, and a network on the average. A product of Gaussian factors
combines the transitions only as a precision-weighted average of what each says alone; one
Ant-Goal-2D reward says how far the goal is, not in which direction, and the direction lies in how
the rewards change between positions. A pooled probe that reads well past the factor probe says
that the encoder's form, not its training, caps what PEARL's belief can hold here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from goal_approach import XY, check_ant_goal, goal_terms, held_out_r2, meta_test_copy
from per_run import per_run_main
from pearlkit.buffers import context_from_transitions
from pearlkit.checkpoint import load_agent
from pearlkit.envs.ant import GOAL_DISC_RADIUS, AntGoal2DEnv
from pearlkit.inference import ContextEncoder, prior, sample_z
from pearlkit.networks import MLP
from pearlkit.sampler import EnvPool, rollout

BATCH = 32  # contexts a gradient step


def goals_on_disc(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` goals uniform over the disc, as the family draws them."""
    angle, radius = rng.uniform(0, 2 * np.pi, n), GOAL_DISC_RADIUS * np.sqrt(rng.uniform(size=n))
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)


@torch.no_grad()
def policy_trajectories(agent, config, count: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` trajectories of the policy on z from the prior, with sampled actions, in the
    training tasks (their goals only set the rewards, which the probe relabels)."""
    tasks = config.split_tasks()[0]
    pool = EnvPool(config.env_id, seed)
    parts: dict[str, list] = {"obs": [], "action": [], "reward": [], "next_xy": [], "goal": []}
    torch.manual_seed(seed)
    while sum(len(g) for g in parts["goal"]) < count:
        envs = pool.take(tasks)
        traj, valid, _ = rollout(pool, envs, lambda obs, z: agent.policy(obs, z).action,
                                 sample_z(*prior(len(tasks), config.latent_dim)), config.max_path_length)
        if not valid.all():
            raise SystemExit("an Ant-Goal-2D trajectory ended early; the probe assumes whole ones")
        for key, value in (("obs", traj.obs), ("action", traj.action), ("reward", traj.reward),
                           ("next_xy", traj.next_obs[..., XY])):
            parts[key].append(value.numpy())
        parts["goal"].append(np.array([task["goal"] for task in tasks], dtype=float))
    return {key: np.concatenate(value)[:count] for key, value in parts.items()}


def relabelled_contexts(data: dict[str, np.ndarray], n: int, size: int, rng: np.random.Generator,
                        tasks: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """``n`` contexts of ``size`` transitions, each from two trajectories and relabelled to a new
    goal on the disc; and those goals. With ``tasks`` (their trajectories ``(N, M)`` and goals
    ``(N, 2)``), each context is one of those tasks, drawn at random: from its M trajectories,
    paying its goal."""
    count, horizon = data["reward"].shape
    if tasks is None:
        rows, goals = rng.integers(count, size=(n, 2)), goals_on_disc(n, rng)
    else:
        drawn = rng.integers(len(tasks[0]), size=n)
        rows, goals = tasks[0][drawn], tasks[1][drawn]
    steps = rng.integers(rows.shape[1] * horizon, size=(n, size))
    trajectory, step = rows[np.arange(n)[:, None], steps // horizon], steps % horizon
    reward = data["reward"][trajectory, step] + AntGoal2DEnv.relabelled_reward_change(
        data["next_xy"][trajectory, step], data["goal"][trajectory], goals[:, None, :])
    context = np.concatenate([data["obs"][trajectory, step], data["action"][trajectory, step],
                              reward[..., None]], -1)
    return torch.as_tensor(context, dtype=torch.float32), goals


class PooledEncoder(nn.Module):
    """The comparison for ``--encoder pooled``: each transition embedded (the run's encoder
    layers), the embeddings averaged over the context, and a network on the average gives the
    belief's mean. A product of Gaussian factors combines the transitions only as a
    precision-weighted average of what each says alone; the network after the average can combine
    them in any way (how the rewards change between positions, which is where a goal's direction
    lies). Called as :class:`~pearlkit.inference.ContextEncoder` is: the mean comes first."""

    def __init__(self, context_dim: int, latent_dim: int, hidden_sizes: tuple[int, ...], width: int = 64) -> None:
        super().__init__()
        self.embed = MLP(context_dim, hidden_sizes, width)
        self.read = MLP(width, hidden_sizes[-1:], latent_dim)

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.read(torch.relu(self.embed(context)).mean(-2)), None


def train_probe(agent, config, data: dict[str, np.ndarray], check_data: dict[str, np.ndarray], steps: int,
                seed: int, tasks: tuple[np.ndarray, np.ndarray] | None = None, pooled: bool = False
                ) -> tuple[nn.Module, list[tuple[int, float]]]:
    """A fresh encoder of the run's architecture (or, ``pooled``, a :class:`PooledEncoder`) and a
    linear read-out, trained to the goal (on ``tasks`` only, where given); and its learning curve,
    the held-out R² on 600 contexts of ``check_data`` relabelled to fresh goals, at every fifth of
    the steps."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    check, check_goals = relabelled_contexts(check_data, 600, config.embedding_batch_size,
                                             np.random.default_rng(seed + 1))
    curve = []
    encoder = (PooledEncoder(agent.context_dim, config.latent_dim, config.encoder_hidden_sizes) if pooled else
               ContextEncoder(agent.context_dim, config.latent_dim, config.encoder_hidden_sizes,
                              factor_variance=config.factor_variance))
    read_out = nn.Linear(config.latent_dim, 2)
    optimizer = torch.optim.Adam([*encoder.parameters(), *read_out.parameters()], lr=config.context_lr)
    for step in range(1, steps + 1):
        context, goals = relabelled_contexts(data, BATCH, config.embedding_batch_size, rng, tasks)
        loss = (read_out(encoder(context)[0]) - torch.as_tensor(goals, dtype=torch.float32)).square().sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % max(steps // 5, 1) == 0 or step == steps:
            with torch.no_grad():
                r2 = held_out_r2(encoder(check)[0].numpy(), check_goals, np.arange(len(check_goals)))
            curve.append((step, round(r2, 2)))
    return encoder, curve


@torch.no_grad()
def own_tasks_r2(encoder, data: dict[str, np.ndarray], tasks: tuple[np.ndarray, np.ndarray], size: int,
                 seed: int, contexts_per_task: int = 4) -> float:
    """Held-out R² of the goal from ``encoder``'s belief on contexts of its own fixed ``tasks``
    (about ``contexts_per_task`` of each), each task's contexts predicted by a fit to the other
    tasks'."""
    context, goals = relabelled_contexts(data, contexts_per_task * len(tasks[0]), size, np.random.default_rng(seed + 3),
                                         tasks)
    task_of_context = np.unique(goals, axis=0, return_inverse=True)[1].ravel()
    return round(held_out_r2(encoder(context)[0].numpy(), goals, task_of_context), 2)


@torch.no_grad()
def probe(run_dir: Path, args: argparse.Namespace) -> dict:
    check_ant_goal(run_dir)
    agent, config, iteration = load_agent(run_dir, "cpu")
    per_task = args.trajectories_per_task
    if per_task < 1:
        raise SystemExit(f"--trajectories-per-task is {per_task}; it must be at least 1")
    if per_task * args.fixed_tasks > args.trajectories:
        raise SystemExit(f"--fixed-tasks {args.fixed_tasks} needs {per_task} trajectories each, "
                         f"{per_task * args.fixed_tasks} in all; --trajectories is {args.trajectories}")
    data = policy_trajectories(agent, config, args.trajectories, args.seed)
    check_data = policy_trajectories(agent, config, 150, args.seed + 1)
    tasks = None
    if args.fixed_tasks:
        rng = np.random.default_rng(args.seed + 2)
        tasks = (np.arange(per_task * args.fixed_tasks).reshape(-1, per_task), goals_on_disc(args.fixed_tasks, rng))
    with torch.enable_grad():
        encoder, curve = train_probe(agent, config, data, check_data, args.steps, args.seed, tasks,
                                     pooled=args.encoder == "pooled")
    own_r2 = None if tasks is None else own_tasks_r2(encoder, data, tasks, config.embedding_batch_size, args.seed)
    meta = meta_test_copy(run_dir, args.seed)
    result = meta.result
    goal_of_run = np.repeat([task["goal"] for task in meta.tasks], result.runs_per_task, axis=0)
    task_of_run = np.repeat(np.arange(len(meta.tasks)), result.runs_per_task)
    diagnosis = goal_terms(meta)
    by_trajectory = []
    for k in range(1, len(result.trajectories)):
        before = [context_from_transitions(traj, config.use_next_obs_in_context) for traj in result.trajectories[:k]]
        context = torch.cat(before, 1)  # whole trajectories: every step real (checked in policy_trajectories)
        by_trajectory.append({
            "trajectory": k + 1,
            "probe_r2": round(held_out_r2(encoder(context)[0].numpy(), goal_of_run, task_of_run), 2),
            "run_belief_r2": diagnosis["by_trajectory"][k]["belief_r2"],
            "ideal_r2": diagnosis["by_trajectory"][k]["ideal_r2"]})
    return {"iteration": iteration, "trajectories": args.trajectories, "steps": args.steps, "encoder": args.encoder,
            "fixed_tasks": args.fixed_tasks or None,
            "trajectories_per_task": per_task if args.fixed_tasks else None,
            "probe_curve": curve, "own_tasks_r2": own_r2,
            "by_trajectory": by_trajectory}


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    print(f"{run_dir} (iteration {result['iteration']}; probe ({result['encoder']} encoder) trained "
          f"{result['steps']} steps on {result['trajectories']} trajectories)")
    if result["fixed_tasks"]:
        print(f"  trained on {result['fixed_tasks']} fixed tasks (a goal and {result['trajectories_per_task']} "
              f"trajectories each); "
              f"R² on their own contexts {result['own_tasks_r2']:.2f}")
    print("  the probe's R² on fresh contexts (new trajectories, new goals), by its steps: "
          + ", ".join(f"{r2:.2f} ({step})" for step, r2 in result["probe_curve"]))
    print("  meta-test trajectory   goal R² from: the probe   the run's belief   the ideal reader")
    for t in result["by_trajectory"]:
        print(f"  {t['trajectory']:20d}   {t['probe_r2']:19.2f}   {t['run_belief_r2']:16.2f}   {t['ideal_r2']:16.2f}")


if __name__ == "__main__":
    per_run_main(__doc__, [Path("results/ant-goal-2d")], probe, show, lambda parser: (
        parser.add_argument("--trajectories", type=int, default=300, help="the policy's trajectories (default 300)"),
        parser.add_argument("--steps", type=int, default=3000, help="the probe's gradient steps (default 3000)"),
        parser.add_argument("--fixed-tasks", type=int, default=0, metavar="N",
                            help="train on N fixed tasks, as the run's encoder does "
                                 "(default: a fresh goal a context)"),
        parser.add_argument("--trajectories-per-task", type=int, default=2, metavar="M",
                            help="each fixed task's trajectories (default 2, one pick's prior data)"),
        parser.add_argument("--encoder", choices=("factors", "pooled"), default="factors",
                            help="the probe's encoder: the run's architecture (default) or embeddings "
                                 "averaged, then a network")))
