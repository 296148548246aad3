"""verl on machines without accelerators: the ``cpu`` platform and the ``hf`` (transformers) rollout backend.

Registered by :mod:`omni_r1_verl.platform.register` from our verl plugin. The platform is opt-in: a process runs on
it only when ``VERL_PLATFORM=cpu`` (:data:`CPU_PLATFORM_ENV`; ``omni-r1 demo`` and the ``+recipe/platform=cpu_tiny``
config set it), never by verl's auto-detection. See ``docs/cpu.md``.

Nothing here imports verl: our plugin imports this package while verl is still being imported.
"""

import os

#: Name of the platform in verl's ``PlatformRegistry``.
PLATFORM_NAME = "cpu"

#: The variable verl reads to choose a process's platform (``verl.plugin.platform.get_platform``).
PLATFORM_ENV_VAR = "VERL_PLATFORM"

#: Environment that selects the CPU platform: set it for the ``main_ppo`` driver (Ray passes it to its workers).
CPU_PLATFORM_ENV: dict[str, str] = {PLATFORM_ENV_VAR: PLATFORM_NAME}


def cpu_platform_selected() -> bool:
    """Whether this process asked verl for the CPU platform (read the way verl reads ``VERL_PLATFORM``).

    Returns:
        True when ``VERL_PLATFORM=cpu``.
    """
    return os.environ.get(PLATFORM_ENV_VAR, "").strip().lower() == PLATFORM_NAME
