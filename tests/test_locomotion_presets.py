"""The MuJoCo families' presets: the reference values (DESIGN §4) and what the fast ones change."""
import pytest

import pearlkit
from pearlkit.cli import train_command, with_overrides
from pearlkit.config import (
    ENV_STEP_BUDGET,
    LOCOMOTION_FAST,
    LOCOMOTION_PAPER,
    env_steps_per_iteration,
    planned_env_steps,
)

FAMILIES = ["cheetah-vel", "cheetah-fwd-back", "ant-fwd-back", "ant-goal-2d", "humanoid-dir-2d", "walker-2d-params"]

# (train / test tasks, meta_batch, prior / posterior / extra-RL steps, gradient steps, embedding batch, kl_lambda)
REFERENCE = {
    "cheetah-vel": ((100, 30), 16, (400, 0, 600), 2000, 100, 0.1),
    "cheetah-fwd-back": ((2, 2), 4, (1000, 0, 1000), 2000, 256, 0.1),
    "ant-fwd-back": ((2, 2), 4, (400, 0, 600), 4000, 256, 0.1),
    "ant-goal-2d": ((150, 30), 10, (400, 0, 600), 4000, 256, 1.0),
    "humanoid-dir-2d": ((100, 30), 16, (400, 0, 600), 4000, 256, 0.1),
    "walker-2d-params": ((40, 10), 10, (400, 0, 600), 4000, 100, 0.1),
}


def test_every_family_has_a_paper_and_a_fast_preset():
    assert sorted(LOCOMOTION_PAPER) == sorted(LOCOMOTION_FAST) == sorted(FAMILIES)
    for family in FAMILIES:
        assert pearlkit.get_preset(family) is LOCOMOTION_FAST[family]
        assert pearlkit.get_preset(f"{family}-paper") is LOCOMOTION_PAPER[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_paper_presets_hold_the_reference_values(family):
    c = pearlkit.get_preset(f"{family}-paper")
    tasks, meta_batch, steps, grad_steps, embedding, kl = REFERENCE[family]
    assert (c.num_train_tasks, c.num_test_tasks) == tasks and c.meta_batch == meta_batch
    assert (c.num_steps_prior, c.num_steps_posterior, c.num_extra_rl_steps_posterior) == steps
    assert c.num_train_steps_per_itr == grad_steps and c.embedding_batch_size == embedding and c.kl_lambda == kl
    assert (c.hidden_sizes, c.encoder_hidden_sizes, c.latent_dim) == ((300, 300, 300), (200, 200, 200), 5)
    assert (c.max_path_length, c.discount, c.reward_scale, c.batch_size) == (200, 0.99, 5.0, 256)
    assert (c.num_initial_steps, c.num_tasks_sample, c.num_iterations) == (2000, 5, 500)
    assert (c.num_exp_traj_eval, c.num_steps_per_eval) == (2, 600)
    assert c.use_next_obs_in_context == (family == "walker-2d-params")
    assert c.policy_lr == c.qf_lr == c.vf_lr == c.context_lr == 3e-4


#: What a fast preset changes beyond the compute budget, each measured (benchmarks/RESULTS.md).
MEASURED_CHANGES = {"cheetah-vel": {"temperature"}, "cheetah-fwd-back": {"context_sampling"}}


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_presets_change_only_the_compute_budget_and_what_was_measured(family):
    paper, fast = pearlkit.get_preset(f"{family}-paper").to_dict(), pearlkit.get_preset(family).to_dict()
    changed = {k for k in paper if paper[k] != fast[k]}
    budget = {"hidden_sizes", "batch_size", "num_train_steps_per_itr", "num_iterations", "env_step_budget", "eval_every"}
    # Each iteration's picks are distinct tasks, collected in one batched rollout; the two-task
    # families spread the reference's 5 picks per iteration over their 2 tasks.
    assert paper["task_picks"] == "with-replacement" and fast["task_picks"] == "distinct"
    split = {"num_steps_prior", "num_extra_rl_steps_posterior"} if paper["num_train_tasks"] == 2 else set()
    assert changed <= budget | {"task_picks"} | split | MEASURED_CHANGES.get(family, set())
    assert fast["hidden_sizes"] == (256, 256)


def test_cheetah_vel_trains_at_the_measured_temperature():
    assert pearlkit.get_preset("cheetah-vel").temperature == 0.05  # benchmarks/RESULTS.md, "A lower temperature"
    assert pearlkit.get_preset("cheetah-vel-paper").temperature == 1.0  # the reference's


def test_cheetah_fwd_back_draws_contexts_from_one_trajectory():
    # benchmarks/RESULTS.md, "One-trajectory contexts from the start"
    assert pearlkit.get_preset("cheetah-fwd-back").context_sampling == "trajectory"
    assert pearlkit.get_preset("cheetah-fwd-back-paper").context_sampling == "transitions"  # the reference's


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_presets_collect_the_references_data_within_the_budget(family):
    paper, fast = pearlkit.get_preset(f"{family}-paper"), pearlkit.get_preset(family)
    # The reference draws num_tasks_sample picks with replacement, each collecting its steps,
    # and so does the paper preset.
    per_pick = paper.num_steps_prior + paper.num_steps_posterior + paper.num_extra_rl_steps_posterior
    assert env_steps_per_iteration(fast) == env_steps_per_iteration(paper) == paper.num_tasks_sample * per_pick
    assert planned_env_steps(fast) <= ENV_STEP_BUDGET == 2_500_000
    # As many iterations as fit (at most the reference's 500): one more would break the budget.
    assert fast.num_iterations == 500 or planned_env_steps(fast.replace(num_iterations=fast.num_iterations + 1)) \
        > ENV_STEP_BUDGET
    # Where trajectories end early or overrun a phase, the budget ends the run before that.
    assert fast.env_step_budget == ENV_STEP_BUDGET and paper.env_step_budget is None


def test_train_command_names_the_preset_and_each_change():
    config = pearlkit.get_preset("cheetah-vel").replace(seed=2, num_iterations=10, hidden_sizes=(64, 64))
    command = train_command(config, "cheetah-vel")
    assert command == ("python -m pearlkit train cheetah-vel --seed 2 --out runs/cheetah-vel-seed2 "
                       "--set num_iterations=10 hidden_sizes=64,64")
    # What the command says rebuilds the same config.
    sets = command.split("--set ")[1].split()
    assert with_overrides(pearlkit.get_preset("cheetah-vel"), sets).replace(seed=2) == config


def test_zero_action_floor_of_cheetah_vel_is_minus_horizon_times_the_mean_target_speed():
    # A cheetah that does not move loses |0 - v*| every step and pays no control cost.
    from pearlkit.evaluate import zero_action_return

    config = LOCOMOTION_FAST["cheetah-vel"]
    speeds = [task["velocity"] for task in config.split_tasks()[1]]
    expected = -config.max_path_length * sum(speeds) / len(speeds)
    assert zero_action_return(config) == pytest.approx(expected, abs=0.5)  # settling drift only
