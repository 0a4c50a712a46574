"""pearlkit: PEARL (Rakelly, Zhou et al., ICLR 2019), small, tested and fast enough to learn from.

Importing pearlkit registers its environments with Gymnasium
(``gymnasium.make("pearlkit/SparsePointNav-v0")``) and, on a Linux machine with no display,
picks MuJoCo's offscreen renderer (``MUJOCO_GL``; see :func:`pearlkit.runtime.default_mujoco_gl`).
"""
from pearlkit.runtime import default_mujoco_gl

default_mujoco_gl()  # before anything imports MuJoCo

import importlib.metadata  # noqa: E402

from pearlkit.envs import register_envs  # noqa: E402

__version__ = importlib.metadata.version("pearlkit")  # one source: pyproject.toml

register_envs()

from pearlkit.checkpoint import load_agent  # noqa: E402
from pearlkit.config import PRESETS, PearlConfig, get_preset  # noqa: E402
from pearlkit.training import train  # noqa: E402

__all__ = ["PRESETS", "PearlConfig", "get_preset", "load_agent", "train", "__version__"]
