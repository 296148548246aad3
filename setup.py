"""Package discovery that pyproject.toml alone cannot express: the top-level `conf/` folder ships as
the package `omni_r1_verl.conf` (mapped in pyproject's `package-dir`), next to the discovered packages."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["omni_r1_verl", "omni_r1_verl.*", "hydra_plugins", "hydra_plugins.*"]),
        "omni_r1_verl.conf",
    ]
)
