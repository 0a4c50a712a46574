r"""The PEARL agent and its meta-training loop (the paper's Algorithm 1).

One iteration (:func:`meta_train_iteration`): pick training tasks and collect data in them
(first with z from the prior, then with z from the posterior given the context collected so
far), then take gradient steps on batches that span ``meta_batch`` tasks at once. The
encoder is trained only by the critic's Bellman error and the KL term; the policy and V see
z with its gradient cut.
"""
from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from pearlkit import sac
from pearlkit.buffers import MultiTaskReplayBuffer, RewardChange, context_dim
from pearlkit.config import LR_SCHEDULES, PearlConfig, picks_per_iteration
from pearlkit.envs.tasks import ENV_IDS, Task, env_class
from pearlkit.inference import ContextEncoder, kl_to_prior, log_var_excess, sample_z
from pearlkit.networks import MLP, QNetwork, TanhGaussianPolicy, VNetwork, initialise
from pearlkit.runtime import resolve_precision, seed_everything
from pearlkit.sac import TransitionBatch
from pearlkit.sampler import EnvPool, rollout, valid_steps


class PearlAgent(nn.Module):
    """The inference network and the five SAC networks, conditioned on z: the policy, Q1, Q2,
    and V with its copy :math:`\bar V` (or, with ``critic_target="q-bar"``, copies of Q1 and Q2).

    Args:
        obs_dim, action_dim: sizes of the environment's spaces.
        config: the run's configuration (network sizes, latent size, context layout).
    """

    def __init__(self, obs_dim: int, action_dim: int, config: PearlConfig) -> None:
        super().__init__()
        self.obs_dim, self.action_dim, self.latent_dim = obs_dim, action_dim, config.latent_dim
        self.context_dim = context_dim(obs_dim, action_dim, config.use_next_obs_in_context)
        hidden, latent = config.hidden_sizes, config.latent_dim
        self.encoder = ContextEncoder(self.context_dim, latent, config.encoder_hidden_sizes,
                                      config.probabilistic_encoder, config.prior_factor, config.factor_variance,
                                      reward_column=obs_dim + action_dim,
                                      ignore_misses=config.ignore_misses == "always")
        self.policy = TanhGaussianPolicy(obs_dim, latent, action_dim, hidden)
        self.q1 = QNetwork(obs_dim, action_dim, latent, hidden)
        self.q2 = QNetwork(obs_dim, action_dim, latent, hidden)
        if config.critic_target == "v-bar":
            self.v = VNetwork(obs_dim, latent, hidden)
        initialise(self, config.network_init)
        if config.critic_target == "v-bar":
            self.v_bar = copy.deepcopy(self.v).requires_grad_(False)  # the book's \bar V
        else:  # \bar Q_1, \bar Q_2
            self.q1_bar = copy.deepcopy(self.q1).requires_grad_(False)
            self.q2_bar = copy.deepcopy(self.q2).requires_grad_(False)
        if config.learn_temperature:  # log alpha, so that alpha stays positive
            self.log_temperature = nn.Parameter(torch.tensor(math.log(config.temperature)))
        self.precision = torch.float32

    def temperature(self, config: PearlConfig) -> float | Tensor:
        r"""SAC's :math:`\alpha`: ``config.temperature``, or the learned one (no gradient)."""
        return self.log_temperature.detach().exp() if config.learn_temperature else config.temperature

    @property
    def device(self) -> torch.device:
        """Where the networks' weights are."""
        return next(self.parameters()).device

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As :meth:`torch.nn.Module.load_state_dict`, also reading the weights of runs saved
        before the networks were renamed (``qf1``, ``qf2``, ``vf``, ``target_vf``)."""
        return super().load_state_dict(renamed_networks(state_dict), strict=strict, assign=assign)

    def set_precision(self, dtype: torch.dtype) -> PearlAgent:
        """Run every network's hidden layers in ``dtype`` (float32 or bfloat16), in training,
        rollouts and meta-test alike."""
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"precision must be torch.float32 or torch.bfloat16, got {dtype}")
        self.precision = dtype
        for module in self.modules():
            if isinstance(module, MLP):
                module.hidden_dtype = dtype
        return self


#: Network names of runs saved before they followed the book's notation.
_OLD_NETWORK_NAMES = {"qf1": "q1", "qf2": "q2", "vf": "v", "target_vf": "v_bar"}


def renamed_networks(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """``state_dict`` with the old network prefixes (``qf1.``, ``vf.``, ...) renamed."""
    renamed = {}
    for key, value in state_dict.items():
        network, dot, rest = key.partition(".")  # no dot: a weight of the agent itself (log_temperature)
        renamed[f"{_OLD_NETWORK_NAMES.get(network, network)}{dot}{rest}"] = value
    return renamed


def build_agent(config: PearlConfig, device: torch.device) -> PearlAgent:
    """A freshly initialised agent sized for ``config.env_id``'s spaces, on ``device``, in the
    precision ``config.precision`` resolves to there."""
    spaces = ENV_IDS[config.env_id]
    agent = PearlAgent(spaces.obs_dim, spaces.action_dim, config).to(device)
    return agent.set_precision(resolve_precision(config.precision, device))


class Optimizers(NamedTuple):
    """Adam for the critic side (Q1, Q2, encoder) and for the actor side (policy, V where there
    is one, and a learned temperature)."""

    critic: torch.optim.Optimizer
    actor: torch.optim.Optimizer


def make_optimizers(agent: PearlAgent, config: PearlConfig) -> Optimizers:
    """One Adam per side, one parameter group per network (so each keeps its own rate)."""
    # paper-vs-code: the reference has one Adam per network; Adam treats every parameter
    # separately, so grouping them changes no arithmetic, only the number of calls.
    # "initial_lr" (the key torch's own schedulers use) is what set_learning_rates scales.
    group = lambda module, lr: {"params": list(module.parameters()), "lr": lr, "initial_lr": lr}
    critic = torch.optim.Adam([group(agent.q1, config.qf_lr), group(agent.q2, config.qf_lr)] + (
        [group(agent.encoder, config.context_lr)] if config.latent_dim else []))  # latent_dim=0: no encoder
    actor = torch.optim.Adam([group(agent.policy, config.policy_lr)] + (
        [group(agent.v, config.vf_lr)] if config.critic_target == "v-bar" else []) + (
        [{"params": [agent.log_temperature], "lr": config.policy_lr, "initial_lr": config.policy_lr}]
        if config.learn_temperature else []))
    return Optimizers(critic, actor)


def learning_rate_factor(schedule: str, iteration: int, num_iterations: int) -> float:
    r"""The share of its configured value each learning rate has in ``iteration`` (0 for the first).

    ``"constant"``: 1. ``"linear"``: :math:`1 - i/N` for iteration :math:`i` of :math:`N`, from 1
    in the first iteration down to :math:`1/N` in the last (0 would be after it).
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - min(iteration, num_iterations - 1) / num_iterations
    raise ValueError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {schedule!r}")


def set_learning_rates(optimizers: Optimizers, factor: float) -> None:
    """Every parameter group's learning rate to ``factor`` times its configured (initial) one."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            # Checkpoints from before schedules saved no "initial_lr"; their rates were constant.
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block, gradients flow *through* ``modules`` but not *into* their weights."""
    flags = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@torch.no_grad()
def next_state_value(agent: PearlAgent, next_obs: Tensor, z_bar: Tensor, config: PearlConfig) -> Tensor:
    r"""The value of :math:`s'` in the critic's Bellman target, per ``config.critic_target``:
    :math:`\bar V(s', \bar z)`, or :math:`\min_i \bar Q_i(s', \tilde a', \bar z) - \alpha\log\pi(\tilde a'|s', \bar z)`
    with :math:`\tilde a' \sim \pi(\cdot|s', \bar z)` (:func:`pearlkit.sac.v_target` on the target Qs).

    Args:
        next_obs: ``(batch, obs_dim)``; z_bar: ``(batch, latent_dim)``, without gradient.
    Returns:
        Shape ``(batch,)``, no gradient.
    """
    if config.critic_target == "v-bar":
        return agent.v_bar(next_obs, z_bar)
    pi = agent.policy(next_obs, z_bar)
    q_bar = torch.min(agent.q1_bar(next_obs, pi.action, z_bar), agent.q2_bar(next_obs, pi.action, z_bar))
    return sac.v_target(q_bar, pi.log_pi, agent.temperature(config))


def critic_over_draws(agent: PearlAgent, batch: TransitionBatch, z_mean: Tensor, z_var: Tensor, draws: int,
                      config: PearlConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Q1, Q2 and their Bellman target on ``batch`` at ``draws`` samples of z from each task's
    belief, each sample held for all of its task's transitions.

    Args:
        batch: ``num_tasks * batch_size`` transitions, task-major.
        z_mean, z_var: ``(num_tasks, latent_dim)``, the beliefs.
    Returns:
        ``q1``, ``q2``, ``target`` of shape ``(draws * len(batch),)``, draw-major (the whole
        batch at the first draw, then at the second, ...), and the draws ``z_bar`` without
        their gradient, one row per entry (the target sees them so).
    """
    z = torch.cat([sample_z(z_mean, z_var) for _ in range(draws)])
    z = z.repeat_interleave(batch.obs.shape[0] // z_mean.shape[0], dim=0)
    z_bar = z.detach()
    # With several draws, each sees the whole batch; one draw uses it as it is.
    batch = batch if draws == 1 else TransitionBatch(*(x.repeat(draws, *[1] * (x.dim() - 1)) for x in batch))
    q1, q2 = agent.q1(batch.obs, batch.action, z), agent.q2(batch.obs, batch.action, z)
    target = sac.q_target(batch.reward, batch.terminal, next_state_value(agent, batch.next_obs, z_bar, config),
                          config.reward_scale, config.discount)
    return q1, q2, target, z_bar


def update_step(agent: PearlAgent, optimizers: Optimizers, batch: TransitionBatch, context: Tensor,
                config: PearlConfig, context_sizes: Tensor | None = None) -> dict[str, Tensor]:
    r"""One gradient step on all networks, batched over the tasks of the meta-batch.

    The critic and the encoder step on

    .. math:: \mathcal L_\text{critic} = L_Q(z) + \beta \sum_\text{tasks}
              D_{KL}\big(q_\phi(z|c)\,\|\,\mathcal N(0, I)\big), \qquad z \sim q_\phi(z|c),

    (plus :func:`pearlkit.inference.log_var_excess` with ``factor_log_var_limit``), then V and
    the policy on :math:`L_V + L_\pi` with :math:`\bar z`, then :math:`\bar V` moves.
    (:math:`\beta` is ``kl_lambda``. With ``critic_target="q-bar"`` there is no V: the policy
    steps on :math:`L_\pi` alone, and :math:`\bar Q_1, \bar Q_2` move.)

    Args:
        batch: ``num_tasks * batch_size`` transitions, task-major (see ``sample_batch``).
        context: ``(num_tasks, embedding_batch_size, context_dim)``, same task order.
        context_sizes: optional ``(num_tasks,)``: the encoder sees only each task's first
            ``context_sizes[i]`` context transitions (``vary_context_size``).
    Returns:
        The detached losses: ``q_loss``, ``kl``, ``v_loss`` (where there is a V), ``policy_loss``, and the mean
        belief variance ``z_var`` (not with ``latent_dim=0``, which has no belief). Book label: ``eq-critic-loss``.
    """
    draws = config.critic_z_samples
    limit = config.factor_log_var_limit
    if limit is None:
        z_mean, z_var = agent.encoder(context, context_sizes)
    else:  # one pass gives the belief and the pre-variances, log-variances with "exp" as the limit needs
        z_mean, z_var, log_vars = agent.encoder.belief_and_pre_variances(context, context_sizes)
    # Critic and encoder: the Bellman error of Q1, Q2 (through z) plus the KL to the prior.
    q1, q2, target, z_bar = critic_over_draws(agent, batch, z_mean, z_var, draws, config)
    q_loss = sac.q_loss(q1, q2, target) if draws == 1 else sac.q_loss_over_draws(q1, q2, target, draws)
    z_bar = z_bar[: batch.obs.shape[0]]  # the actor and V train on the first draw
    # paper-vs-code: like the reference, the KL is summed over the tasks of the meta-batch.
    no_kl = torch.zeros((), device=z_mean.device)  # the deterministic variant has no KL term
    kl = kl_to_prior(z_mean, z_var).sum() if config.probabilistic_encoder else no_kl
    critic_loss = q_loss + config.kl_lambda * kl
    if limit is not None:  # pull stray log-variances back within the clamp
        critic_loss = critic_loss + log_var_excess(log_vars, limit)
    optimizers.critic.zero_grad(set_to_none=True)
    critic_loss.backward(retain_graph=config.critic_spread_weight > 0)
    if config.critic_spread_weight > 0:  # charged to Q's weights; the encoder keeps the unbiased gradient
        q_weights = [*agent.q1.parameters(), *agent.q2.parameters()]
        spread = config.critic_spread_weight * sac.residual_spread_over_draws(q1, q2, target, draws)
        for weight, grad in zip(q_weights, torch.autograd.grad(spread, q_weights)):
            weight.grad += grad
    optimizers.critic.step()

    # Actor and V: z is detached, so neither trains the encoder. Q is the updated one.
    pi = agent.policy(batch.obs, z_bar)
    with frozen(agent.q1, agent.q2):  # the gradient reaches the action, not Q's weights
        q_pi = torch.min(agent.q1(batch.obs, pi.action, z_bar), agent.q2(batch.obs, pi.action, z_bar))
    alpha = agent.temperature(config)  # the step's alpha: a learned one moves after this step
    policy_loss = sac.policy_loss(pi.log_pi, q_pi, pi.mean, pi.log_std, config.policy_mean_reg,
                                  config.policy_std_reg, alpha)
    losses = {"policy_loss": policy_loss}
    if config.critic_target == "v-bar":
        losses["v_loss"] = sac.v_loss(agent.v(batch.obs, z_bar), sac.v_target(q_pi, pi.log_pi, alpha))
    actor_loss = sum(losses.values())
    if config.learn_temperature:  # paper-vs-code: the reference fixes alpha
        actor_loss = actor_loss + sac.temperature_loss(agent.log_temperature, pi.log_pi, -float(agent.action_dim))
    optimizers.actor.zero_grad(set_to_none=True)
    actor_loss.backward()
    optimizers.actor.step()
    if config.critic_target == "v-bar":
        sac.polyak_update(agent.v_bar, agent.v, config.tau)
    else:
        sac.polyak_update(agent.q1_bar, agent.q1, config.tau)
        sac.polyak_update(agent.q2_bar, agent.q2, config.tau)
    return {"q_loss": q_loss.detach(), "kl": kl.detach(), **{k: v.detach() for k, v in losses.items()},
            **({"z_var": z_var.detach().mean()} if config.latent_dim else {}),
            **({"temperature": alpha} if config.learn_temperature else {})}


@torch.no_grad()
def collect_data(agent: PearlAgent, pool: EnvPool, tasks: list[Task], task_ids: list[int],
                 replay: MultiTaskReplayBuffer, context_buffer: MultiTaskReplayBuffer, num_steps: int,
                 config: PearlConfig, update_posterior: bool, add_to_context: bool = True) -> int:
    """Collect whole trajectories in each of ``task_ids`` (in lockstep) until each has ``num_steps``.

    Starts from the prior; z is resampled after every trajectory. With ``update_posterior``,
    every ``update_post_train`` trajectories the belief is inferred from
    ``embedding_batch_size`` transitions of each task's context buffer.

    Returns:
        Transitions collected, over all tasks.
    """
    if num_steps <= 0:
        return 0
    envs = pool.take([tasks[i] for i in task_ids])
    ids = torch.as_tensor(task_ids)
    z_mean, z_var = agent.encoder.belief_without_context(len(task_ids), agent.device)
    act = lambda obs, z: agent.policy(obs, z).action
    collected = np.zeros(len(task_ids), dtype=int)
    trajectories_done = 0
    while (collected < num_steps).any():
        traj, valid, _ = rollout(pool, envs, act, sample_z(z_mean, z_var), config.max_path_length)
        for slot, task_id in enumerate(task_ids):
            if collected[slot] >= num_steps:
                continue  # this task has its share; its extra trajectory is dropped
            steps = valid_steps(traj, valid, slot)
            replay.add(task_id, steps)
            if add_to_context:
                context_buffer.add(task_id, steps)
            collected[slot] += steps.obs.shape[0]
        trajectories_done += 1
        if update_posterior and trajectories_done % config.update_post_train == 0:
            if (context_buffer.size[ids] > 0).all():
                context = encoder_context(context_buffer, ids, config)
                z_mean, z_var = agent.encoder(context)
    return int(collected.sum())


def encoder_context(context_buffer: MultiTaskReplayBuffer, task_ids: Tensor, config: PearlConfig,
                    reward_change: RewardChange | None = None) -> Tensor:
    """The encoder's context in each of ``task_ids`` while training: ``embedding_batch_size``
    transitions of its context buffer, drawn as ``context_sampling`` says (rewards relabelled by
    ``reward_change`` where given)."""
    return context_buffer.sample_context(task_ids, config.embedding_batch_size, config.use_next_obs_in_context,
                                         config.context_sampling, reward_change=reward_change)


def relabelled_goals(trainer: MetaTrainer, task_ids: Tensor) -> RewardChange | None:
    """Goal relabelling for one gradient step: each of ``task_ids``, with probability
    ``relabel_goals``, is given a goal drawn afresh from its family, and the returned function
    recomputes its rewards for that goal (``relabelled_reward_change``; zero change for the
    others). None when no task was drawn; at ``relabel_goals=0`` nothing is drawn, so the
    trainer's random stream is the one a run without relabelling draws."""
    config = trainer.config
    if not config.relabel_goals:
        return None
    relabelled = trainer.rng.random(len(task_ids)) < config.relabel_goals
    if not relabelled.any():
        return None
    family = env_class(config.env_id)
    goals = np.stack([trainer.tasks[i]["goal"] for i in task_ids.tolist()])
    new_goals = goals.copy()
    new_goals[relabelled] = [task["goal"] for task in family.draw_tasks(int(relabelled.sum()), trainer.rng)]
    device, dtype = trainer.replay.device, trainer.replay.data["next_obs"].dtype
    goal, new_goal = (torch.as_tensor(g, dtype=dtype, device=device)[:, None, :] for g in (goals, new_goals))
    return lambda next_obs: family.relabelled_reward_change(next_obs, goal, new_goal)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the loss and the gradient step."""


def first_bad_loss(losses: dict[str, Tensor]) -> str | None:
    """Name of the first non-finite loss, or None."""
    values = torch.stack(list(losses.values()))
    if torch.isfinite(values).all():
        return None
    return next(name for name, value in losses.items() if not math.isfinite(value.item()))


@dataclass
class MetaTrainer:
    """What meta-training acts on and updates, iteration after iteration."""

    config: PearlConfig
    agent: PearlAgent
    optimizers: Optimizers
    replay: MultiTaskReplayBuffer  #: every transition of each training task (for SAC batches)
    context_buffer: MultiTaskReplayBuffer  #: each task's prior/posterior data (for context; ``context_buffer_keeps``)
    tasks: list[Task]  #: the training tasks
    pool: EnvPool  #: their environments
    rng: np.random.Generator  #: picks the tasks to collect in and to train on


def new_trainer(config: PearlConfig, device: torch.device) -> MetaTrainer:
    """A fresh start: everything seeded from ``config.seed``, networks initialised, buffers empty."""
    rng = seed_everything(config.seed)
    tasks, _ = config.split_tasks()
    agent = build_agent(config, device)
    buffer = lambda: MultiTaskReplayBuffer(config.num_train_tasks, agent.obs_dim, agent.action_dim,
                                           config.replay_buffer_size, device)
    return MetaTrainer(config, agent, make_optimizers(agent, config), buffer(), buffer(), tasks,
                       EnvPool(config.env_id, config.seed), rng)


def collection_rounds(config: PearlConfig, rng: np.random.Generator) -> list[list[int]]:
    """The training tasks one iteration collects in, as rounds of distinct tasks; each round is
    collected in one batched rollout.

    ``task_picks="distinct"``: one round, ``num_tasks_sample`` tasks drawn without replacement
    (at most all of them). ``"with-replacement"``: ``num_tasks_sample`` independent draws, as the
    reference makes them; a task's k-th pick goes in round k. The reference collects its picks
    one after another, and no weights change while it collects, so rounds that keep each task's
    picks in order collect what it collects.

    Args:
        config: the run's config (``num_train_tasks``, ``num_tasks_sample``, ``task_picks``).
        rng: the trainer's generator; the distinct draw is the one every earlier run made.
    Returns:
        Rounds of task ids, each sorted and without repeats; together they hold every pick.
    """
    if config.task_picks == "distinct":  # all picks in one batched rollout (PearlConfig.task_picks)
        size = picks_per_iteration(config)
        return [sorted(rng.choice(config.num_train_tasks, size=size, replace=False).tolist())]
    rounds: list[list[int]] = []
    picks_so_far: dict[int, int] = {}
    for task_id in rng.integers(config.num_train_tasks, size=config.num_tasks_sample).tolist():
        k = picks_so_far.get(task_id, 0)
        picks_so_far[task_id] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(task_id)
    return [sorted(round_) for round_ in rounds]


class IterationResult(NamedTuple):
    """What one meta-training iteration did."""

    env_steps: int  #: transitions collected
    losses: dict[str, float]  #: the mean of each logged loss over its gradient steps, ``train/...``


def meta_train_iteration(trainer: MetaTrainer, iteration: int, refill: bool = False) -> IterationResult:
    """One iteration of Algorithm 1: collect data in some training tasks, then take gradient steps.

    Args:
        trainer: the agent, optimizers, buffers, tasks and random stream (updated in place).
        iteration: 0 for the first iteration, which first fills every task's buffers.
        refill: fill every task's buffers first at a later iteration too (a run resumed from
            its weights alone, whose buffers are empty).
    Raises:
        TrainingDiverged: a loss is NaN or infinite (named, with its gradient step).
    """
    config, rng = trainer.config, trainer.rng
    collect = lambda task_ids, steps, **how: collect_data(trainer.agent, trainer.pool, trainer.tasks, task_ids,
                                                        trainer.replay, trainer.context_buffer, steps, config, **how)
    # 1. Collect: the prior's data in every task at the start, then a few tasks each iteration.
    env_steps = 0
    if iteration == 0 or refill:  # before anything else, some data from the prior in every task
        env_steps += collect(list(range(config.num_train_tasks)), config.num_initial_steps, update_posterior=False)

    for picked in collection_rounds(config, rng):
        if config.context_buffer_keeps == "latest-pick":  # the context: this pick's prior and posterior data
            for task_id in picked:
                trainer.context_buffer.clear(task_id)
        env_steps += collect(picked, config.num_steps_prior, update_posterior=False)
        env_steps += collect(picked, config.num_steps_posterior, update_posterior=True)
        env_steps += collect(picked, config.num_extra_rl_steps_posterior, update_posterior=True, add_to_context=False)

    # 2. Train: each gradient step sees a meta-batch of tasks, a SAC batch and a context from each.
    set_learning_rates(trainer.optimizers, learning_rate_factor(config.lr_schedule, iteration, config.num_iterations))
    anchored = iteration >= config.critic_spread_after  # the spread weight waits its iterations
    step_config = config if anchored else config.replace(critic_spread_weight=0.0, critic_spread_after=0)
    sums: dict[str, float] = {}
    for step in range(1, config.num_train_steps_per_itr + 1):
        task_ids = torch.as_tensor(rng.integers(config.num_train_tasks, size=config.meta_batch))
        relabel = relabelled_goals(trainer, task_ids)
        batch = trainer.replay.sample_batch(task_ids, config.batch_size, config.critic_reward, reward_change=relabel)
        context = encoder_context(trainer.context_buffer, task_ids, config, relabel)
        sizes = None
        if config.vary_context_size:  # contexts of every size, as meta-test's grows from empty
            sizes = torch.as_tensor(rng.integers(1, config.embedding_batch_size + 1, size=config.meta_batch))
        losses = update_step(trainer.agent, trainer.optimizers, batch, context, step_config, sizes)
        bad = first_bad_loss(losses)
        if bad is not None:
            raise TrainingDiverged(f"{bad} became {losses[bad].item()} at gradient step {step} of "
                                   f"iteration {iteration + 1}")
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item()
    means = {f"train/{k}": round(v / config.num_train_steps_per_itr, 6) for k, v in sums.items()}
    return IterationResult(env_steps, means)
