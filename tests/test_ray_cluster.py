"""Which cluster a driver joins: RAY_ADDRESS attaches, RAY_ADDRESS=local starts a cluster of its own."""

from __future__ import annotations

from omni_r1_verl.ray_cluster import attach_address


def test_ray_address_is_attached_to(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6390")
    address = attach_address()
    assert address is not None and address.endswith(":6390")  # Ray resolves localhost to the node's address


def test_ray_address_local_starts_a_cluster_of_its_own(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "local")
    assert attach_address() is None
