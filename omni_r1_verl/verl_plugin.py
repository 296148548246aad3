"""verl plugin entry point (``[project.entry-points."verl.plugins"]``).

``import verl`` imports this module in every process of every verl run on the machine, Omni-R1 or not, so it only
registers names and post-import hooks: nothing behind a name (models, the hf server, the System-2 pool, reward
scoring, transformers processors) and none of the verl modules we bind is imported here, and no verl default
changes in a run that does not use our names (the ``cpu`` platform needs ``VERL_PLATFORM=cpu``).
``benchmarks/plugin_import.py`` measures what it costs. verl swallows exceptions raised here (at debug log level);
:func:`omni_r1_verl.plugin_check.assert_plugin_loaded` turns a silent failure into a loud one.

This module runs inside ``import verl``, which may itself have been started by one of our modules: the modules
imported below import no verl module at their top, so none of them can be caught half-initialised here
(``tests/test_verl_plugin.py`` imports each of them first in a fresh interpreter).
"""

from omni_r1_verl import registration
from omni_r1_verl.models.qwen2_5_omni import verl_binding
from omni_r1_verl.platform import register as platform_register

registration.register()  # reward manager "omni_r1", agent loop "omni_r1_agent"
platform_register.register()  # platform "cpu" (opt-in), rollout "hf"
verl_binding.apply()  # Qwen2.5-Omni processor, model class, vLLM prompt collapse, epoch-aware sampler

#: Set once every registration above succeeded; read by :mod:`omni_r1_verl.plugin_check`.
LOADED = True
