"""Compute Engine kinds: networking (``compute.Network``, ``compute.Subnetwork``,
``compute.Firewall``, ``compute.Router`` with Cloud NAT) and VMs (``compute.Instance``);
importing this package registers them.

The networking kinds have no labels in Compute v1: ownership is recorded in the ledger only
(intents before creates). Instances carry labels.
"""

from mlops_infra.kinds.compute import firewall, instance, network, router, subnetwork  # registers

__all__ = ["firewall", "instance", "network", "router", "subnetwork"]
