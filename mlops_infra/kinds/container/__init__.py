"""Kubernetes Engine kinds: ``container.Cluster`` and ``container.NodePool`` (importing this
package registers them)."""

from mlops_infra.kinds.container import cluster, node_pool  # registers the kinds

__all__ = ["cluster", "node_pool"]
