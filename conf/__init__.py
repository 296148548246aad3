"""Hydra configs of omni-r1-verl, installed as the package ``omni_r1_verl.conf``.

The Hydra search-path plugin in ``hydra_plugins/omni_r1_verl_searchpath`` appends ``pkg://omni_r1_verl.conf``
so that ``+recipe=omni_r1`` resolves from any working directory.
"""
