"""Tests of the resource kinds (mlops_infra/kinds)."""
