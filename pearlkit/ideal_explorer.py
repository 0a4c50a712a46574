r"""The ceiling of posterior-sampling exploration on sparse navigation: an ideal PEARL.

PEARL explores by posterior sampling: before each trajectory it draws one
:math:`z \sim q(z \mid c)` and acts as if :math:`z` were the task. Its critic learns from
the dense reward :math:`-\lVert s' - g\rVert`, so for a :math:`z` that stands for a goal the
best policy flies straight to that goal and stays there. This module simulates PEARL with
a perfect encoder and a perfect policy, generous to it wherever there is a choice:

* a :math:`z` drawn from the prior stands for a goal drawn uniformly from the family's 100
  goals (the KL term pulls the codes of the tasks onto the prior; drawing from all 100
  rather than the 80 training goals tells the agent where held-out goals can lie);
* the policy flies :func:`~pearlkit.envs.point_nav.oracle_path` to that hypothesised goal
  (:func:`hypothesis_paths`);
* the belief is exact: a reward seen anywhere pins the goal (the next trajectory
  succeeds), and no reward rules out every goal whose disc the path crossed.

After the exploration trajectories, a belief with no reward in it is scored two ways:
sampling a hypothesis from it (what PEARL does) and the best single guess (of the paths to
the 100 goals, the one that enters the most surviving goal discs). A trained PEARL policy
reaches more than this only by doing what posterior sampling does not ask of it, such as
sweeping along the arc within one trajectory.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pearlkit.envs.point_nav import (
    GOAL_RADIUS,
    goal_positions,
    oracle_path,
    sparse_reward,
)


def hypothesis_paths() -> np.ndarray:
    """``(100, horizon, 2)``: the ideal policy's path for each goal hypothesis, the oracle's
    path to each of the family's goals."""
    return np.array([oracle_path(g) for g in goal_positions()])


def enters_disc(paths: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """``[i, j]`` is True when path ``j`` (``paths``: ``(P, horizon, 2)``) enters the disc of goal ``i``."""
    distances = np.linalg.norm(paths[None] - goals[:, None, None], axis=-1)
    return distances.min(-1) <= GOAL_RADIUS


def _uniform_pick(allowed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row, uniform among the row's True entries (among all if none)."""
    allowed = np.where(allowed.any(1, keepdims=True), allowed, True)
    return np.argmax(rng.random(allowed.shape) * allowed, axis=1)


class _Runs(NamedTuple):
    """What every simulated meta-test needs, ``draws`` runs per test goal (one row per run)."""

    hit: np.ndarray  #: ``[k, j]``: the path to hypothesis ``j`` crosses goal ``k``'s disc
    test_hit: np.ndarray  #: ``[run, j]``: the path to hypothesis ``j`` crosses the run's goal's disc
    oracle_return: np.ndarray  #: per run, the sparse return of flying straight to its goal
    guess_return: np.ndarray  #: ``[run, j]``: the sparse return of flying to hypothesis ``j``


def _runs(test_goals: np.ndarray, draws: int) -> _Runs:
    goals, paths = goal_positions(), hypothesis_paths()
    run_goal = np.repeat(np.arange(len(test_goals)), draws)
    oracle_return = np.array([sparse_reward(oracle_path(g), g).sum() for g in test_goals])
    guess_return = np.array([[sparse_reward(p, g).sum() for p in paths] for g in test_goals])
    return _Runs(enters_disc(paths, goals), enters_disc(paths, test_goals)[run_goal], oracle_return[run_goal],
                 guess_return[run_goal])


def ideal_meta_test(test_goals: np.ndarray, num_exploration: int = 5, online: bool = False,
                    draws: int = 1000, seed: int = 0) -> dict[str, float]:
    """Meta-test the ideal posterior-sampling agent, ``draws`` runs per test goal.

    Args:
        test_goals: ``(G, 2)`` the goals to meta-test on (the held-out ones).
        num_exploration: exploration trajectories before the scored one.
        online: draw each exploration hypothesis from the belief so far (the paper's
            Algorithm 2) instead of from the prior (the reference code's meta-test protocol,
            :func:`pearlkit.evaluate.meta_test`).

    Returns:
        ``found`` (an exploration trajectory entered the goal disc), and for the first
        trajectory after exploration ``success_sampled`` / ``return_sampled`` (hypothesis
        sampled from the belief) and ``success_best`` / ``return_best`` (the best single
        guess); sparse returns, where a found goal earns the oracle's return.
    """
    if num_exploration < 0 or draws < 1:
        raise ValueError(f"need num_exploration >= 0 and draws >= 1, got {num_exploration} and {draws}")
    rng = np.random.default_rng(seed)
    sim = _runs(test_goals, draws)
    runs = np.arange(len(sim.oracle_return))
    alive = np.ones((len(runs), sim.hit.shape[0]), dtype=bool)  # goals the context has not ruled out
    found = np.zeros(len(runs), dtype=bool)
    for _ in range(num_exploration):
        j = _uniform_pick(alive if online else np.ones_like(alive), rng)
        found |= sim.test_hit[runs, j]
        alive &= ~sim.hit[:, j].T                              # no reward on path j: its goals are out
    picks = {"sampled": _uniform_pick(alive, rng),
             "best": np.argmax(alive.astype(float) @ sim.hit, axis=1)}  # path covering most survivors
    summary = {"found": float(found.mean())}
    for rule, j in picks.items():
        summary[f"success_{rule}"] = float((found | sim.test_hit[runs, j]).mean())
        summary[f"return_{rule}"] = float(np.where(found, sim.oracle_return, sim.guess_return[runs, j]).mean())
    return summary


def ideal_adaptation_curve(test_goals: np.ndarray, num_trajectories: int = 20, num_exploration: int = 5,
                           online: bool = False, rule_out: bool = True, draws: int = 1000,
                           seed: int = 0) -> dict[str, np.ndarray | float]:
    """The ideal agent's whole meta-test, trajectory by trajectory, as the reference runs it.

    Trajectories ``1..num_exploration`` act on hypotheses from the prior, whatever they found
    (with ``online``, on the belief so far: the paper's Algorithm 2); every later one acts on the
    belief given all the context before it. Acting on a belief, the agent flies straight to a
    goal found before, and otherwise samples a hypothesis among the goals its misses have not
    ruled out (all of them with ``rule_out=False``: a belief that only a reward moves, the prior
    until a reward). The reference's number is the last trajectory's (the 20th: 400 steps of 20).

    Returns:
        ``success`` and ``return``, each ``(num_trajectories,)``: the share of runs whose
        trajectory ``k`` enters the goal disc, and the mean sparse return of trajectory ``k``
        (a found goal flown back to earns the oracle's return); and ``found``, the share of runs
        whose exploration trajectories entered the goal disc.
    """
    if num_trajectories < 1 or num_exploration < 0 or draws < 1:
        raise ValueError(f"need num_trajectories >= 1, num_exploration >= 0 and draws >= 1, got "
                         f"{num_trajectories}, {num_exploration} and {draws}")
    rng = np.random.default_rng(seed)
    sim = _runs(test_goals, draws)
    runs = np.arange(len(sim.oracle_return))
    alive = np.ones((len(runs), sim.hit.shape[0]), dtype=bool)  # goals the context has not ruled out
    found = np.zeros(len(runs), dtype=bool)
    found_exploring = 0.0
    success, returns = [], []
    for k in range(num_trajectories):
        from_belief = online or k >= num_exploration
        j = _uniform_pick(alive if from_belief and rule_out else np.ones_like(alive), rng)
        back = found & from_belief  # only a belief remembers a found goal; the prior does not
        success.append((back | sim.test_hit[runs, j]).mean())
        returns.append(np.where(back, sim.oracle_return, sim.guess_return[runs, j]).mean())
        found = found | sim.test_hit[runs, j]
        alive &= ~sim.hit[:, j].T
        if k < num_exploration:
            found_exploring = float(found.mean())
    return {"success": np.array(success), "return": np.array(returns), "found": found_exploring}


def best_spread_find_probability(test_goals: np.ndarray, num_exploration: int = 5,
                                 iterations: int = 5000) -> float:
    r"""The highest chance of finding the goal with hypotheses drawn i.i.d. from *any* distribution.

    Maximises :math:`\frac{1}{G}\sum_i 1 - (1 - \sum_j p_j h_{ij})^k` over distributions
    :math:`p` on the 100 goals by exponentiated gradient (the objective is concave in
    :math:`p`), where :math:`h_{ij}` says the path to goal :math:`j` enters test goal
    :math:`i`'s disc. It tells whether a prior mapped onto the goals unevenly could beat the
    uniform spread that :func:`ideal_meta_test` assumes.
    """
    h = enters_disc(hypothesis_paths(), test_goals).astype(float)
    p = np.full(h.shape[1], 1.0 / h.shape[1])
    for _ in range(iterations):
        miss = 1.0 - h @ p
        p = p * np.exp(0.5 * h.T @ (num_exploration * miss ** (num_exploration - 1)) / len(h))
        p /= p.sum()
    return float(np.mean(1.0 - (1.0 - h @ p) ** num_exploration))
