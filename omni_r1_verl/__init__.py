"""omni-r1-verl: the Omni-R1 two-system omnimodal RL recipe for verl."""

__version__ = "0.1.0"
