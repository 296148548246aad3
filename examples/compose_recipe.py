"""Compose verl's trainer config with the Omni-R1 recipe from Python, exactly as ``main_ppo`` does.

Run: python examples/compose_recipe.py actor_rollout_ref.rollout.n=4
"""

import sys

from omegaconf import OmegaConf

from omni_r1_verl.doctor import compose_config

if __name__ == "__main__":
    cfg = compose_config(["+recipe=omni_r1", *sys.argv[1:]])
    print(OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, ["algorithm", "reward"])))
    print("rollout.n =", cfg.actor_rollout_ref.rollout.n)
