"""pearlkit's task families as Gymnasium environments."""
from pearlkit.envs.point_nav import PointNavEnv, SparsePointNavEnv
from pearlkit.envs.tasks import ENV_IDS, Task, make_env, register_envs

__all__ = ["ENV_IDS", "PointNavEnv", "SparsePointNavEnv", "Task", "make_env", "register_envs"]
