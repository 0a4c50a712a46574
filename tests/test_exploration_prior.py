"""``exploration_prior="training-beliefs"``: meta-test draws z from the mixture of the agent's
beliefs in its training tasks wherever its belief is still the prior, and nowhere else."""
import json

import numpy as np
import pytest
import torch

import pearlkit
from pearlkit.checkpoint import load_agent
from pearlkit.cli import main as cli_main
from pearlkit.config import PearlConfig
from pearlkit.envs.point_nav import goals_passed
from pearlkit.evaluate import TrainingBeliefs, meta_test, summarize, training_beliefs
from pearlkit.inference import pick_from_mixture
from pearlkit.pearl import build_agent
from pearlkit.sampler import EnvPool
from tests.conftest import tiny_config

#: Two far-apart, all but certain beliefs: a z drawn from them is recognisable.
BANK_MEAN = 5.0


def bank(latent_dim: int, goals=((1.0, 0.0), (-1.0, 0.0))) -> TrainingBeliefs:
    means = torch.stack([torch.full((latent_dim,), BANK_MEAN), torch.full((latent_dim,), -BANK_MEAN)])
    return TrainingBeliefs(means, torch.full_like(means, 1e-8), [{"goal": np.array(goal)} for goal in goals])


def from_bank(z_means: torch.Tensor) -> torch.Tensor:
    return ((z_means.abs() - BANK_MEAN).abs() < 1e-6).all(-1)


class EvenRunsRewarded(EnvPool):
    """A pool whose even slots reward from the first step (a goal disc of radius 2 holds the
    start) and whose odd slots never do (radius 0.001): which runs see a reward is known."""

    rewarded_parity = 0

    def take(self, tasks):
        envs = super().take(tasks)
        for slot, env in enumerate(envs):
            env.unwrapped.goal_radius = 2.0 if slot % 2 == self.rewarded_parity else 1e-3
        return envs


class OddRunsRewarded(EvenRunsRewarded):
    rewarded_parity = 1


class NeverRewarded(EnvPool):
    """A pool whose goal discs are too small to enter: no run ever meets a reward."""

    def take(self, tasks):
        envs = super().take(tasks)
        for env in envs:
            env.unwrapped.goal_radius = 1e-3
        return envs


def test_mixture_components_are_the_given_beliefs_picked_uniformly():
    means, variances = torch.arange(6.0).view(3, 2), torch.arange(1.0, 7.0).view(3, 2)
    torch.manual_seed(0)
    mean, var = pick_from_mixture(means, variances, 3000)
    picked = mean[:, 0].long() // 2
    assert torch.equal(mean, means[picked]) and torch.equal(var, variances[picked])
    counts = torch.bincount(picked, minlength=3)
    assert ((counts - 1000).abs() < 100).all(), counts  # about 3 standard deviations (sd 26)


@pytest.mark.parametrize("ignore_misses", ["never", "meta-test"])
def test_meta_test_draws_from_the_beliefs_exactly_while_the_belief_is_the_prior(ignore_misses):
    config = tiny_config(ignore_misses=ignore_misses, num_steps_per_eval=200)  # 10 trajectories, 5 exploring
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    result = meta_test(agent, tasks, config, seed=0, runs_per_task=2, pool=EvenRunsRewarded(config.env_id, 0),
                       exploration_beliefs=bank(config.latent_dim))
    drawn = from_bank(result.z_means)
    assert drawn[:, : config.num_exp_traj_eval].all()  # every exploration trajectory
    assert torch.allclose(result.z[drawn].abs(), torch.full_like(result.z[drawn], BANK_MEAN), atol=1e-3)
    later = drawn[:, config.num_exp_traj_eval:]
    even = torch.arange(len(later)) % 2 == 0
    assert result.returns[even, 0].ne(0).all() and result.returns[~even].eq(0).all()
    if ignore_misses == "never":
        assert not later.any()  # once inferred, the belief is the encoder's, misses and all
    else:
        assert not later[even].any() and later[~even].all()  # the prior until a reward arrives


def test_without_beliefs_meta_test_is_the_unit_priors():
    config = tiny_config()
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    plain = meta_test(agent, tasks, config, seed=3, runs_per_task=2)
    assert torch.equal(plain.z_means[:, 0], torch.zeros_like(plain.z_means[:, 0]))
    assert not from_bank(plain.z_means).any()


@pytest.mark.parametrize("pool, kept", [(EvenRunsRewarded, 0), (OddRunsRewarded, 1)])
def test_training_beliefs_are_each_tasks_first_rewarded_run(monkeypatch, pool, kept):
    config = tiny_config(ignore_misses="meta-test", num_steps_per_eval=200, num_evals=2)
    agent = build_agent(config, torch.device("cpu"))
    monkeypatch.setattr(pearlkit.evaluate, "EnvPool", pool)
    means, variances, tasks = training_beliefs(agent, config, seed=1)
    train_tasks, _ = config.split_tasks()
    assert [task["goal"].tolist() for task in tasks] == [task["goal"].tolist() for task in train_tasks]  # all met one
    result = meta_test(agent, train_tasks, config, seed=1, runs_per_task=2, pool=pool(config.env_id, 1))
    assert means.shape == (config.num_train_tasks, config.latent_dim)  # one component per task
    assert torch.equal(means, result.z_means[kept::2, -1]) and torch.equal(variances, result.z_vars[kept::2, -1])
    assert (variances < 1).all()  # inferred from a rewarded context, not the prior


def test_training_beliefs_refuse_when_there_is_nothing_to_draw_from(monkeypatch):
    config = tiny_config(num_steps_per_eval=200)
    agent = build_agent(config, torch.device("cpu"))

    monkeypatch.setattr(pearlkit.evaluate, "EnvPool", NeverRewarded)
    with pytest.raises(ValueError, match="no meta-test run in the 6 training tasks gathered a reward"):
        training_beliefs(agent, config, seed=0)
    # Meta-test (a training run's evaluations too) goes on, with the unit prior, and says so.
    mixture_config = config.replace(exploration_prior="training-beliefs")
    with pytest.warns(UserWarning, match="gathered a reward.*; exploring with the unit prior instead"):
        assert pearlkit.evaluate.exploration_beliefs(agent, mixture_config, seed=0) is None


def test_exploration_prior_is_validated():
    assert PearlConfig().exploration_prior == "unit"
    with pytest.raises(ValueError, match=r"exploration_prior must be one of \['unit', 'training-beliefs'\], "
                                         r"got 'gaussian'"):
        PearlConfig(exploration_prior="gaussian")
    with pytest.raises(ValueError, match="exploration_prior='training-beliefs' needs latent_dim > 0"):
        PearlConfig(exploration_prior="training-beliefs", latent_dim=0)


def test_cli_evaluate_draws_exploration_from_the_training_beliefs(tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    pearlkit.train(tiny_config(num_steps_per_eval=200), run_dir, progress=False)
    monkeypatch.setattr(pearlkit.evaluate, "EnvPool", EvenRunsRewarded)  # some training runs reward
    assert cli_main(["evaluate", str(run_dir), "--json", "--exploration-prior", "training-beliefs",
                     "--device", "cpu"]) == 0  # the same device as below: CUDA draws from another stream
    measured = json.loads(capsys.readouterr().out)
    agent, config, _ = load_agent(run_dir, "cpu")
    config = config.replace(exploration_prior="training-beliefs")
    expected = summarize(meta_test(agent, config.split_tasks()[1], config, seed=0, runs_per_task=config.num_evals,
                                   exploration_beliefs=training_beliefs(agent, config, seed=0)))
    assert measured["adaptation_curve"] == pytest.approx(expected.adaptation_curve)


def test_goals_passed_are_the_discs_a_real_step_ended_in():
    positions = torch.tensor([[[0.0, 0.1], [0.0, 0.5], [0.0, 0.95]],
                              [[0.5, 0.0], [0.9, 0.0], [3.0, 3.0]]])
    valid = torch.tensor([[True, True, True], [True, True, False]])
    goals = torch.tensor([[0.0, 1.0], [1.0, 0.0], [3.0, 3.0], [0.0, 0.0]])
    # run 0 ends 0.05 from (0, 1) and 0.1 from the origin; run 1 ends 0.1 from (1, 0), and its
    # step to (3, 3) is not real
    expected = torch.tensor([[True, False, False, True], [False, True, False, False]])
    assert torch.equal(goals_passed(positions, valid, goals), expected)
    assert not goals_passed(positions, valid, goals, goal_radius=0.01).any()


def test_mixture_draws_only_the_allowed_components_and_all_where_none_is():
    means, variances = torch.arange(6.0).view(3, 2), torch.ones(3, 2)
    allowed = torch.tensor([[True, False, False], [False, True, True], [False, False, False]]).repeat(500, 1)
    mean, _ = pick_from_mixture(means, variances, len(allowed), allowed)
    picked = mean[:, 0].long() // 2
    assert (picked[0::3] == 0).all()
    assert set(picked[1::3].tolist()) == {1, 2}
    assert set(picked[2::3].tolist()) == {0, 1, 2}


def never_rewarded_meta_test(goals, rule_out=True):
    """Meta-test runs that never meet a reward, exploring from a two-component bank whose
    training tasks have ``goals``; the mean of each drawn component, ``(runs, trajectories)``."""
    config = tiny_config(ignore_misses="meta-test", num_steps_per_eval=200, exploration_prior="training-beliefs",
                         rule_out_searched=rule_out)
    agent = build_agent(config, torch.device("cpu"))
    _, tasks = config.split_tasks()
    result = meta_test(agent, tasks, config, seed=0, runs_per_task=4, pool=NeverRewarded(config.env_id, 0),
                       exploration_beliefs=bank(config.latent_dim, goals=goals))
    return result.z_means[..., 0]


@pytest.mark.parametrize("rule_out", [False, True])
def test_a_miss_rules_out_the_training_goals_it_passed(rule_out):
    # Component 0's goal is the start (every trajectory passes it); component 1's is out of reach.
    start_component = never_rewarded_meta_test(((0.0, 0.0), (50.0, 50.0)), rule_out) > 0
    assert start_component[:, 0].any() and not start_component[:, 0].all()  # both drawn at first
    if rule_out:
        assert not start_component[:, 1:].any()  # never again after the first trajectory
    else:
        assert start_component[:, 1:].any()


def test_with_every_component_ruled_out_the_mixture_starts_over():
    later = never_rewarded_meta_test(((0.0, 0.0), (0.0, 0.05)))[:, 1:]  # both goals at the start
    assert (later > 0).any() and (later < 0).any()


@pytest.mark.parametrize("changes, message", [
    (dict(rule_out_searched=True), "needs exploration_prior='training-beliefs' and a sparse navigation family"),
    (dict(rule_out_searched=True, exploration_prior="training-beliefs", env_id="pearlkit/PointNav-v0"),
     r"got exploration_prior='training-beliefs', env_id='pearlkit/PointNav-v0'"),
])
def test_rule_out_searched_is_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**changes)


def test_exploring_with_the_unit_prior_leaves_ruling_out_off():
    config = tiny_config(exploration_prior="training-beliefs", rule_out_searched=True)
    assert not config.exploring_with("unit").rule_out_searched  # what `evaluate --exploration-prior unit` runs
    assert config.exploring_with("training-beliefs") == config
    assert not config.replace(rule_out_searched=False).exploring_with("training-beliefs").rule_out_searched
