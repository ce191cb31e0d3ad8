"""Compute Engine networking kinds: ``compute.Network``, ``compute.Subnetwork``,
``compute.Firewall`` (importing this package registers them).

None of them has labels in Compute v1: ownership is recorded in the ledger only, so a live
resource of the same name that the ledger does not know is adopted, not refused.
"""

from mlops_infra.kinds.compute import firewall, network, subnetwork  # registers the kinds

__all__ = ["firewall", "network", "subnetwork"]
