"""pearlkit's task families as Gymnasium environments."""
from pearlkit.envs.point_nav import PointNavEnv, SparsePointNavEnv
from pearlkit.envs.tasks import ENV_IDS, Task, is_navigation, make_env, register_envs

__all__ = ["ENV_IDS", "PointNavEnv", "SparsePointNavEnv", "Task", "is_navigation", "make_env", "register_envs"]
