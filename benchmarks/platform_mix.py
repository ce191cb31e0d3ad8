"""A spec of about N resources in the platform's mix, for the benchmarks.

Per unit (about 21 resources, plus the CMEK grants the engine implies): a KMS key, two CMEK
buckets with a bindings resource each, a CMEK dataset with two tables and dataset bindings,
two service accounts and a binding on one of them, a network with two subnetworks and two
firewalls, a custom role and project bindings. Shared by all units: the six APIs they need,
a key ring and the project's audit config. 16 kinds in all.
"""

from __future__ import annotations

APIS = ("storage", "bigquery", "cloudkms", "iam", "cloudresourcemanager", "compute")
PER_UNIT = 21
PROJECT = "bench-project"


def platform_mix(resources: int, *, stack: str = "bench") -> str:
    """The YAML of a spec with about ``resources`` resources (at least one unit)."""
    units = max(1, round((resources - len(APIS) - 2) / PER_UNIT))
    lines = ["apiVersion: mlops-infra/v1", f"stack: {stack}", f"project: {PROJECT}",
             "region: us-central1", "resources:"]
    lines += [f"  {api}-api: {{kind: serviceusage.Service, name: {api}.googleapis.com}}"
              for api in APIS]
    lines += ["  ring: {kind: kms.KeyRing, name: bench-ring, location: us}",
              "  audit:", "    kind: iam.AuditConfig",
              "    auditConfigs: [{service: storage.googleapis.com, auditLogConfigs: "
              "[{logType: DATA_READ}]}]"]
    for unit in range(units):
        lines += _unit(unit)
    return "\n".join(lines) + "\n"


def _unit(u: int) -> list[str]:
    sa = f"serviceAccount:${{sa{u}a.email}}"
    return [
        f"  key{u}: {{kind: kms.CryptoKey, name: key-{u}, keyRing: '${{ring.id}}'}}",
        *_bucket(u, "a"), *_bucket(u, "b"),
        f"  ds{u}:", "    kind: bigquery.Dataset", f"    name: bench_ds_{u}", "    location: US",
        f"    defaultKmsKeyName: '${{key{u}.id}}'", "    labels: {team: ml}",
        *_table(u, "events"), *_table(u, "features"),
        f"  ds{u}-access:", "    kind: bigquery.DatasetBindings", f"    dataset: '${{ds{u}.name}}'",
        f"    bindings: [{{role: roles/bigquery.dataViewer, members: ['{sa}']}}]",
        f"  sa{u}a: {{kind: iam.ServiceAccount, name: bench-sa-{u}-a, displayName: Trainer {u}}}",
        f"  sa{u}b: {{kind: iam.ServiceAccount, name: bench-sa-{u}-b, displayName: Pipeline {u}}}",
        f"  sa{u}b-users:", "    kind: iam.ServiceAccountBindings",
        f"    serviceAccount: '${{sa{u}b.email}}'",
        f"    bindings: [{{role: roles/iam.serviceAccountUser, members: ['{sa}']}}]",
        f"  vpc{u}: {{kind: compute.Network, name: bench-vpc-{u}, routingMode: REGIONAL}}",
        *_subnet(u, 0), *_subnet(u, 1), *_firewall(u, "internal", "10.0.0.0/8", "tcp"),
        *_firewall(u, "iap", "35.235.240.0/20", "tcp"),
        f"  role{u}:", "    kind: iam.Role", f"    name: bench-reader-{u}", f"    title: Reader {u}",
        "    includedPermissions: [bigquery.tables.get]",
        f"  access{u}:", "    kind: iam.ProjectBindings",
        f"    bindings: [{{role: roles/bigquery.jobUser, members: ['{sa}']}}]",
    ]


def _bucket(u: int, which: str) -> list[str]:
    address = f"b{u}{which}"
    return [f"  {address}:", "    kind: storage.Bucket", f"    name: bench-{u}-{which}",
            "    location: US", "    uniformBucketLevelAccess: true",
            "    publicAccessPrevention: enforced", f"    defaultKmsKeyName: '${{key{u}.id}}'",
            "    labels: {team: ml}",
            f"  {address}-access:", "    kind: storage.BucketBindings",
            f"    bucket: '${{{address}.name}}'",
            f"    bindings: [{{role: roles/storage.objectViewer, members: ['serviceAccount:${{sa{u}a.email}}']}}]"]


def _table(u: int, name: str) -> list[str]:
    return [f"  ds{u}-{name}:", "    kind: bigquery.Table", f"    name: {name}",
            f"    dataset: '${{ds{u}.name}}'",
            "    schema: [{name: id, type: STRING, mode: REQUIRED}, {name: ts, type: TIMESTAMP}]"]


def _subnet(u: int, i: int) -> list[str]:
    return [f"  subnet{u}-{i}:", "    kind: compute.Subnetwork", f"    name: bench-subnet-{u}-{i}",
            f"    network: '${{vpc{u}.selfLink}}'", f"    ipCidrRange: 10.{u % 200}.{i * 16}.0/20"]


def _firewall(u: int, name: str, source: str, protocol: str) -> list[str]:
    return [f"  fw{u}-{name}:", "    kind: compute.Firewall", f"    name: bench-fw-{u}-{name}",
            f"    network: '${{vpc{u}.selfLink}}'", f"    sourceRanges: [{source}]",
            f"    allowed: [{{IPProtocol: {protocol}, ports: ['22']}}]"]
