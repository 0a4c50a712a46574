from __future__ import annotations

import pytest
import torch

import pearlkit
from pearlkit.buffers import MultiTaskReplayBuffer
from pearlkit.config import PearlConfig
from pearlkit.pearl import build_agent, collect_data
from pearlkit.sampler import EnvPool


#: For tests that run bfloat16 on purpose: on a CPU that emulates it, its warning is expected.
bfloat16_anywhere = pytest.mark.filterwarnings("ignore:precision='bfloat16' on .*no native bfloat16:UserWarning")


def tiny_config(**changes) -> PearlConfig:
    """A sparse-navigation config small enough for a seconds-long run."""
    base = pearlkit.get_preset("sparse-point-robot-plain").replace(
        num_train_tasks=6, num_test_tasks=3, num_iterations=2, hidden_sizes=(32, 32),
        encoder_hidden_sizes=(32,), num_initial_steps=40, num_tasks_sample=2, num_steps_prior=20,
        num_steps_posterior=40, num_train_steps_per_itr=5, meta_batch=4, batch_size=16,
        embedding_batch_size=8, num_steps_per_eval=140, eval_every=1)
    return base.replace(**changes)


def tiny_ant_goal_config(**changes) -> PearlConfig:
    """An Ant-Goal-2D config whose trainer fills its buffers in about a second."""
    return pearlkit.get_preset("ant-goal-2d").replace(
        num_train_tasks=4, num_test_tasks=2, hidden_sizes=(16, 16), encoder_hidden_sizes=(16,),
        num_initial_steps=50, num_tasks_sample=1, num_steps_prior=50, num_steps_posterior=0,
        num_extra_rl_steps_posterior=0, num_train_steps_per_itr=3, meta_batch=4, batch_size=8,
        embedding_batch_size=8).replace(**changes)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def agent_with_data(config):
    """An untrained agent and its two buffers after the initial collection in every task."""
    agent = build_agent(config, torch.device("cpu"))
    train_tasks, test_tasks = config.split_tasks()
    buffers = [MultiTaskReplayBuffer(config.num_train_tasks, 2, 2, 10_000) for _ in range(2)]
    pool = EnvPool(config.env_id, seed=0)
    collect_data(agent, pool, train_tasks, list(range(config.num_train_tasks)), *buffers,
                 config.num_initial_steps, config, update_posterior=False)
    return config, agent, train_tasks, test_tasks, buffers, pool


def tiny_cheetah_config() -> PearlConfig:
    """A Half-Cheetah-Vel config that trains one iteration in seconds (a MuJoCo run to meta-test)."""
    return pearlkit.get_preset("cheetah-vel").replace(
        hidden_sizes=(16, 16), encoder_hidden_sizes=(16,), num_train_tasks=3, num_test_tasks=2, num_iterations=1,
        num_initial_steps=200, num_tasks_sample=1, num_steps_prior=200, num_extra_rl_steps_posterior=0,
        num_train_steps_per_itr=2, meta_batch=2, batch_size=8, embedding_batch_size=8, num_evals=1)
