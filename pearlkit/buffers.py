"""Per-task replay storage: every transition (for SAC batches) and the recent ones (for context).

PEARL keeps two buffers per training task. The *replay* buffer holds everything collected
in that task and feeds the actor-critic. The *context* buffer holds only what was collected
the last time the task was picked (cleared first), so the encoder is trained on context
from the current policy, like the context it will see at meta-test time.

Storage is one tensor per field, shaped ``(num_tasks, capacity, dim)``, so a batch for many
tasks is one gather, not a loop over tasks.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from pearlkit.sac import TransitionBatch

#: What the critic learns from where a family's reward is sparse (``PearlConfig.critic_reward``).
CRITIC_REWARDS = ("dense", "sparse", "dense+sparse")
#: Where a task's encoder context comes from (``PearlConfig.context_sampling``): transitions drawn
#: from all of its context buffer, or from one of the trajectories stored there.
CONTEXT_SAMPLINGS = ("transitions", "trajectory")

#: Maps the next observations of sampled transitions, ``(num_tasks, n, obs_dim)``, to what is
#: added to their rewards, ``(num_tasks, n)`` (goal relabelling: ``pearlkit.pearl.relabelled_goals``).
RewardChange = Callable[[Tensor], Tensor]

# Storage grows by doubling up to `capacity`, so a large capacity costs nothing until used.
INITIAL_ALLOCATION = 1024


class Transitions(NamedTuple):
    """Transitions of one task (or a flat set), shapes ``(n, ·)``."""

    obs: Tensor
    action: Tensor
    reward: Tensor  #: the task's reward: sparse for sparse tasks; what the context holds
    dense_reward: Tensor  #: what the critic learns from; equals ``reward`` for dense tasks
    next_obs: Tensor
    terminal: Tensor


class MultiTaskReplayBuffer:
    """A ring buffer per task, all tasks in one set of tensors. Each :meth:`add` is one trajectory
    (collection adds them whole); the buffer remembers where each one lies, for contexts drawn
    from a single trajectory.

    Args:
        num_tasks: number of training tasks.
        obs_dim, action_dim: sizes of one observation and one action.
        capacity: transitions kept per task; the oldest are overwritten beyond it.
        device: where batches are built (the training device).
    """

    def __init__(self, num_tasks: int, obs_dim: int, action_dim: int, capacity: int,
                 device: torch.device | str = "cpu") -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.num_tasks, self.capacity, self.device = num_tasks, capacity, torch.device(device)
        self.dims = {"obs": obs_dim, "action": action_dim, "reward": 1, "dense_reward": 1,
                     "next_obs": obs_dim, "terminal": 1}
        self.size = torch.zeros(num_tasks, dtype=torch.long)  # filled slots per task
        self.top = torch.zeros(num_tasks, dtype=torch.long)  # next slot to write per task
        # (first slot, length) of each trajectory per task, oldest first; overwritten ones are dropped
        self.trajectories: list[list[tuple[int, int]]] = [[] for _ in range(num_tasks)]
        self._recorded = [0] * num_tasks  # slots those trajectories cover, per task
        self._allocate(min(capacity, INITIAL_ALLOCATION))

    def _allocate(self, slots: int) -> None:
        old = getattr(self, "data", None)
        self.data = {k: torch.zeros(self.num_tasks, slots, d, device=self.device) for k, d in self.dims.items()}
        if old is not None:
            n = next(iter(old.values())).shape[1]
            for k in self.data:
                self.data[k][:, :n] = old[k]

    @property
    def allocated(self) -> int:
        return self.data["obs"].shape[1]

    def add(self, task_id: int, transitions: Transitions) -> None:
        """Append one trajectory of ``n`` transitions of task ``task_id`` (wrapping around at capacity)."""
        n = transitions.obs.shape[0]
        if n > 0:
            kept = min(n, self.capacity)  # of a trajectory longer than the buffer, its last slots
            stored = self.trajectories[task_id]
            stored.append((int(self.top[task_id] + n - kept) % self.capacity, kept))
            self._recorded[task_id] += kept
            while self._recorded[task_id] > self.capacity:
                self._recorded[task_id] -= stored.pop(0)[1]  # the oldest, overwritten at least in part
        needed = min(self.capacity, int(self.top[task_id]) + n)
        if needed > self.allocated:
            self._allocate(min(self.capacity, max(needed, 2 * self.allocated)))
        slots = (self.top[task_id] + torch.arange(n)) % self.capacity
        for key, value in transitions._asdict().items():
            self.data[key][task_id, slots.to(self.device)] = value.reshape(n, -1).to(self.device, torch.float32)
        self.top[task_id] = (self.top[task_id] + n) % self.capacity
        self.size[task_id] = min(self.capacity, int(self.size[task_id]) + n)

    def clear(self, task_id: int) -> None:
        """Forget everything stored for task ``task_id`` (the context buffer, when the task is collected again)."""
        self.size[task_id] = 0
        self.top[task_id] = 0
        self.trajectories[task_id] = []
        self._recorded[task_id] = 0

    def _rows_and_slots(self, task_ids: Tensor, slots: Tensor) -> tuple[Tensor, Tensor]:
        # Index pairs (task row, slot) for ``self.data``, on the buffer's device.
        rows = task_ids.cpu()[:, None].expand(-1, slots.shape[1])
        return rows.to(self.device), slots.to(self.device)

    def _sample_slots(self, task_ids: Tensor, n: int) -> tuple[Tensor, Tensor]:
        sizes = self.size[task_ids.cpu()]
        if (sizes == 0).any():
            empty = task_ids.cpu()[sizes == 0].tolist()
            raise RuntimeError(f"cannot sample from empty buffers of tasks {empty}")
        # Uniform with replacement within each task's filled slots, all tasks at once.
        return self._rows_and_slots(task_ids, (torch.rand(len(task_ids), n) * sizes[:, None]).long())

    def sample_batch(self, task_ids: Tensor, batch_size: int, critic_reward: str = "dense",
                     reward_change: RewardChange | None = None) -> TransitionBatch:
        """SAC batch: ``batch_size`` transitions from each of the tasks ``task_ids``, flattened to
        ``(len(task_ids) * batch_size, ·)`` in task-major order. The reward is the one
        ``critic_reward`` names (:attr:`pearlkit.config.PearlConfig.critic_reward`): the dense
        one, the task's own (sparse) one, or their sum, plus ``reward_change`` where given."""
        rows, slots = self._sample_slots(task_ids, batch_size)
        if critic_reward not in CRITIC_REWARDS:
            raise ValueError(f"critic_reward must be one of {list(CRITIC_REWARDS)}, got {critic_reward!r}")
        reward = self.data["reward" if critic_reward == "sparse" else "dense_reward"][rows, slots].squeeze(-1)
        if critic_reward == "dense+sparse":
            reward = reward + self.data["reward"][rows, slots].squeeze(-1)
        next_obs = self.data["next_obs"][rows, slots]
        if reward_change is not None:
            reward = reward + reward_change(next_obs)
        get = lambda key: self.data[key][rows, slots].reshape(len(task_ids) * batch_size, -1)
        return TransitionBatch(get("obs"), get("action"), reward.reshape(-1),
                               next_obs.reshape(len(task_ids) * batch_size, -1), get("terminal").squeeze(-1))

    def _sample_trajectory_slots(self, task_ids: Tensor, n: int) -> tuple[Tensor, Tensor]:
        # One stored trajectory per task, uniformly, then slots uniformly with replacement within it.
        picks = []
        for task_id in task_ids.tolist():
            stored = self.trajectories[task_id]
            if not stored:
                raise RuntimeError(f"cannot sample a trajectory from the empty buffer of task {task_id}")
            picks.append(stored[int(torch.randint(len(stored), ()))])
        starts, lengths = torch.tensor(picks).T
        slots = (starts[:, None] + (torch.rand(len(task_ids), n) * lengths[:, None]).long()) % self.capacity
        return self._rows_and_slots(task_ids, slots)

    def sample_context(self, task_ids: Tensor, n: int, use_next_obs: bool, sampling: str = "transitions",
                       reward_change: RewardChange | None = None) -> Tensor:
        """Context: ``n`` transitions per task as ``(len(task_ids), n, context_dim)``, each row
        :math:`(s, a, r)` or :math:`(s, a, r, s')` with the task's own (sparse) reward (plus
        ``reward_change`` where given), drawn uniformly from all the task's transitions, or from
        one of its trajectories (``sampling``, one of :data:`CONTEXT_SAMPLINGS`)."""
        if sampling not in CONTEXT_SAMPLINGS:
            raise ValueError(f"sampling must be one of {list(CONTEXT_SAMPLINGS)}, got {sampling!r}")
        draw = self._sample_slots if sampling == "transitions" else self._sample_trajectory_slots
        rows, slots = draw(task_ids, n)
        fields = {k: self.data[k][rows, slots] for k in context_fields(use_next_obs)}
        if reward_change is not None:
            next_obs = fields["next_obs"] if use_next_obs else self.data["next_obs"][rows, slots]
            fields["reward"] = fields["reward"] + reward_change(next_obs)[..., None]
        return torch.cat(list(fields.values()), dim=-1)

    def state_dict(self) -> dict:
        used = int(self.size.max()) if self.num_tasks else 0
        return {"size": self.size.clone(), "top": self.top.clone(), "capacity": self.capacity,
                "data": {k: v[:, :used].cpu().clone() for k, v in self.data.items()},
                "trajectories": [list(stored) for stored in self.trajectories]}

    def load_state_dict(self, state: dict, max_path_length: int | None = None) -> None:
        """Restore :meth:`state_dict`. A state saved before trajectories were recorded gets them
        back from its ``terminal`` flags and ``max_path_length`` (a trajectory ends at a fall or
        after that many steps; exact where the buffer has not wrapped around, as a context
        buffer, cleared at each collection, never does), or, without ``max_path_length``, holds
        each task's transitions as one trajectory."""
        if state["capacity"] != self.capacity:
            raise ValueError(f"buffer capacity {state['capacity']} in the checkpoint, {self.capacity} configured")
        used = next(iter(state["data"].values())).shape[1]
        self._allocate(max(INITIAL_ALLOCATION, used) if used < self.capacity else self.capacity)
        for k, v in state["data"].items():
            self.data[k][:, :used] = v.to(self.device)
        self.size, self.top = state["size"].clone(), state["top"].clone()
        if "trajectories" in state:
            self.trajectories = [[tuple(t) for t in stored] for stored in state["trajectories"]]
        else:
            sizes, oldest = self.size.tolist(), torch.where(self.size == self.capacity, self.top, 0).tolist()
            self.trajectories = [self._trajectories_in(task, start, size, max_path_length)
                                 for task, (start, size) in enumerate(zip(oldest, sizes))]
        self._recorded = [sum(length for _, length in stored) for stored in self.trajectories]

    def _trajectories_in(self, task_id: int, start: int, size: int,
                         max_path_length: int | None) -> list[tuple[int, int]]:
        """``size`` slots of task ``task_id`` from slot ``start`` on, cut into trajectories after each
        fall and every ``max_path_length`` steps (all one trajectory without ``max_path_length``)."""
        if max_path_length is None:
            return [(start, size)] if size > 0 else []
        slots = (start + torch.arange(size)) % self.capacity
        fell = self.data["terminal"][task_id, slots.to(self.device), 0].tolist()
        trajectories, first = [], 0
        for step, terminal in enumerate(fell):
            if terminal or step + 1 - first == max_path_length or step + 1 == size:
                trajectories.append((int(slots[first]), step + 1 - first))
                first = step + 1
        return trajectories


def context_fields(use_next_obs: bool) -> tuple[str, ...]:
    """The layout of one context row, used everywhere a context is built: (s, a, r[, s'])."""
    return ("obs", "action", "reward", "next_obs") if use_next_obs else ("obs", "action", "reward")


def context_dim(obs_dim: int, action_dim: int, use_next_obs: bool) -> int:
    """Width of one context row of :func:`context_fields`."""
    widths = {"obs": obs_dim, "action": action_dim, "reward": 1, "next_obs": obs_dim}
    return sum(widths[field] for field in context_fields(use_next_obs))


def context_from_transitions(transitions: Transitions, use_next_obs: bool) -> Tensor:
    """Context rows of transitions shaped ``(..., ·)`` (rewards ``(...,)``), in order."""
    lead = transitions.obs.shape[:-1]
    return torch.cat([getattr(transitions, k).reshape(*lead, -1) for k in context_fields(use_next_obs)], dim=-1)
