"""The names and values Google's APIs accept, checked in the spec before any call.

Each rule names the Google document it follows. The checks come in two forms:

* ``*_problem(value) -> str | None``: why the API would reject ``value``, as one line naming
  the rule (with a "did you mean" when an obvious fix fits), or ``None``. ``Kind.check_name``
  returns these for a resource's name; the engine locates them at ``name`` (a name holding
  ``${...}`` is checked only once resolved).
* ``Annotated`` string types for spec-model fields (``BucketName``, ``BucketLocation``,
  ``Ipv4Network`` ...): the same checks as pydantic validators. A value holding ``${...}``
  passes; the engine validates the fields again once their references are resolved.

Closed sets of values (storage classes, column types, directions ...) are ``Literal``s in
the kinds' models, so the spec loader's "did you mean" works on them; ``UPPER`` goes before
those the API accepts in any case. Regions and locations are checked by their shape only,
never against a list of today's locations: such a list goes stale whenever Google opens one.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from mlops_infra.spec.hints import clipped_repr, did_you_mean
from mlops_infra.spec.identifiers import (
    REGION,
    bucket_name_problem,
    project_id_problem,
    region_fix,
    region_problem,
)

_SHOWN = 80
Problem = Callable[[str], str | None]


def is_template(value: str) -> bool:
    """Whether ``value`` still holds a ``${...}`` reference (checked once resolved)."""
    return "${" in value


def checked(problem: Problem) -> AfterValidator:
    """A pydantic validator raising ``problem(value)`` (templates pass)."""
    def check(value: str) -> str:
        reason = None if is_template(value) else problem(value)
        if reason:
            raise ValueError(reason)
        return value
    return AfterValidator(check)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


UPPER = BeforeValidator(_upper)
"""Before a ``Literal`` whose values the API accepts in any case (``standard`` = ``STANDARD``)."""


def _shown(value: str) -> str:
    return clipped_repr(value, _SHOWN)


def _fix_hint(fix: str | None, value: str, problem: Problem) -> str:
    """`` (did you mean 'fix'?)`` when ``fix`` differs from ``value`` and passes ``problem``."""
    if fix is None or fix == value or is_template(fix) or problem(fix) is not None:
        return ""
    return f" (did you mean '{fix}'?)"


# --- Cloud Storage ---------------------------------------------------------------------------
# Bucket names: ``spec.identifiers.bucket_name_problem`` (the spec's ledger bucket is one too).


def bucket_location_problem(value: str) -> str | None:
    """Why ``value`` is not shaped like a bucket location (any case), or ``None``."""
    # https://cloud.google.com/storage/docs/locations: a region (us-central1), a predefined
    # dual-region (NAM4, EUR4, ASIA1 ...: letters then a number) or a multi-region (US, EU,
    # ASIA; a configurable dual-region is a multi-region plus customPlacementConfig).
    folded = value.lower()
    if folded.upper() in _STORAGE_MULTI_REGIONS or _DUAL_REGION.fullmatch(folded) \
            or REGION.fullmatch(folded):
        return None
    hint = did_you_mean(value.upper(), _STORAGE_MULTI_REGIONS) or \
        _fix_hint(region_fix(folded), folded, region_problem)
    return (f"{_shown(value)} is not a Cloud Storage location: use a region ('us-central1'), "
            f"a dual-region ('NAM4') or a multi-region ('US', 'EU', 'ASIA'){hint}")


_STORAGE_MULTI_REGIONS = ("US", "EU", "ASIA")
_DUAL_REGION = re.compile(r"[a-z]{3,4}[0-9]+")


# --- BigQuery ----------------------------------------------------------------------------------
# Dataset ids: https://cloud.google.com/bigquery/docs/datasets#dataset-naming -- letters
# (upper or lower case), digits and underscores, at most 1,024 characters.
_DATASET_ID = re.compile(r"[A-Za-z0-9_]{1,1024}")


def dataset_id_problem(name: str) -> str | None:
    """Why BigQuery would refuse ``name`` as a dataset id, or ``None``."""
    if _DATASET_ID.fullmatch(name):
        return None
    hint = _fix_hint(name.replace("-", "_").replace(" ", "_"), name, dataset_id_problem)
    return (f"{_shown(name)} is not a valid BigQuery dataset id: use only letters, digits and "
            f"underscores, at most 1024{hint}")


# Table ids: https://cloud.google.com/bigquery/docs/tables#table_naming -- at most 1,024
# UTF-8 bytes of Unicode letters (L), marks (M), numbers (N), connectors such as '_' (Pc),
# dashes (Pd) and spaces (Zs).
_TABLE_CATEGORIES = ("L", "M", "N", "Pc", "Pd", "Zs")
_TABLE_BYTES = 1024


def table_id_problem(name: str) -> str | None:
    """Why BigQuery would refuse ``name`` as a table id, or ``None``."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if not 0 < size <= _TABLE_BYTES:
        return (f"{_shown(name)} is not a valid BigQuery table id: use 1-{_TABLE_BYTES} "
                f"UTF-8 bytes (not {size})")
    bad = next((ch for ch in name if not unicodedata.category(ch).startswith(_TABLE_CATEGORIES)),
               None)
    if bad is None:
        return None
    return (f"{_shown(name)} is not a valid BigQuery table id: {bad!r} is not allowed (use "
            "letters, marks, numbers, connectors such as '_', dashes and spaces)")


def dataset_location_problem(value: str) -> str | None:
    """Why ``value`` is not shaped like a BigQuery location (any case), or ``None``."""
    # https://cloud.google.com/bigquery/docs/locations: the multi-regions US and EU, regions
    # (us-central1), and BigQuery Omni regions (aws-us-east-1, azure-eastus2).
    folded = value.lower()
    if folded.upper() in _BQ_MULTI_REGIONS or REGION.fullmatch(folded) \
            or _OMNI_REGION.fullmatch(folded):
        return None
    hint = did_you_mean(value.upper(), _BQ_MULTI_REGIONS) or \
        _fix_hint(region_fix(folded), folded, region_problem)
    return (f"{_shown(value)} is not a BigQuery location: use a region ('us-central1') or a "
            f"multi-region ('US', 'EU'){hint}")


_BQ_MULTI_REGIONS = ("US", "EU")
_OMNI_REGION = re.compile(r"(?:aws|azure)-[a-z]+(?:-[a-z]+)*-?[0-9]+")


# --- Compute Engine ------------------------------------------------------------------------------
# Resource names (networks, subnetworks, firewalls, secondary ranges):
# https://cloud.google.com/compute/docs/naming-resources#resource-name-format -- RFC 1035:
# 1-63 characters, [a-z]([-a-z0-9]*[a-z0-9])?
_RFC1035 = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
RFC1035_RULE = ("1-63 lowercase letters, digits or '-', starting with a letter and not ending "
                "with '-' (RFC 1035)")


def rfc1035_problem(name: str, what: str = "resource") -> str | None:
    """Why Compute Engine would refuse ``name`` for a ``what`` (``network`` ...), or ``None``."""
    if _RFC1035.fullmatch(name):
        return None
    hint = _fix_hint(name.lower().replace("_", "-"), name, rfc1035_problem)
    return f"{what} name {_shown(name)}: {RFC1035_RULE}{hint}"


# A network a subnetwork or firewall names: its name, ``projects/P/global/networks/N`` or
# its selfLink (https://cloud.google.com/compute/docs/reference/rest/v1/subnetworks,
# field ``network``).
NETWORK_URL = re.compile(r"(?:(?:https?://[^/]+)?/?compute/v1/)?(?:projects/([^/]+)/)?"
                         r"global/networks/([^/]+)")


def network_ref_problem(value: str) -> str | None:
    """Why ``value`` names no network, or ``None``."""
    if "/" not in value:
        return rfc1035_problem(value, "network")
    match = NETWORK_URL.fullmatch(value)
    if not match:
        return (f"network {_shown(value)}: use a network name, 'projects/P/global/networks/N' "
                "or its selfLink")
    project, network = match.groups()
    return (project_ref_problem(project) if project else None) or \
        rfc1035_problem(network, "network")


def ipv4_network(value: str) -> str:
    """``value`` as an IPv4 network in CIDR notation, host bits zero; ``ValueError`` otherwise."""
    # Subnetwork ranges: ipCidrRange and secondaryIpRanges[].ipCidrRange are IPv4 ranges
    # (https://cloud.google.com/compute/docs/reference/rest/v1/subnetworks, "can only be IPv4",
    # e.g. 10.0.0.0/8), given by their network address.
    net = _network(value)
    if net.version != 4:
        raise ValueError(f"{_shown(value)} must be an IPv4 range (subnetwork ranges are IPv4)")
    return str(net)


def ip_range_problem(value: str) -> str | None:
    """Why ``value`` is not an IPv4/IPv6 network in CIDR notation (host bits zero), or ``None``."""
    # Firewall sourceRanges/destinationRanges: "expressed in CIDR format. Both IPv4 and IPv6
    # are supported" (https://cloud.google.com/compute/docs/reference/rest/v1/firewalls); the
    # API refuses host bits past the prefix (12.12.12.12/24), so they are refused here too.
    try:
        _network(value)
    except ValueError as exc:
        return str(exc)
    return None


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{_shown(value)} is not an IP range in CIDR notation "
                         "(e.g. 10.0.0.0/20)") from None
    raise ValueError(f"{_shown(value)} has host bits set: a range is written with its network "
                     f"address (did you mean '{loose}'?)")


# Firewall allowed[]/denied[]: https://cloud.google.com/compute/docs/reference/rest/v1/firewalls
# -- IPProtocol is a well-known protocol (tcp, udp, icmp, esp, ah, ipip, sctp; "all" as gcloud
# writes it) or an IP protocol number; ports are integers or ranges ("22", "12345-12349") and
# only apply to tcp, udp and sctp.
PROTOCOLS = ("tcp", "udp", "icmp", "esp", "ah", "ipip", "sctp", "all")
PORT_PROTOCOLS = ("tcp", "udp", "sctp")
_PORTS = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
_MAX_PORT = 65535


def protocol_problem(value: str) -> str | None:
    """Why ``value`` is not a firewall protocol, or ``None``."""
    if value in PROTOCOLS or (value.isdigit() and int(value) <= 255):
        return None
    return (f"unknown protocol {_shown(value)}: use {', '.join(PROTOCOLS)} or an IP protocol "
            f"number (0-255){did_you_mean(value, PROTOCOLS)}")


def port_problem(value: str) -> str | None:
    """Why ``value`` is not a port or a port range, or ``None``."""
    match = _PORTS.fullmatch(value)
    if not match:
        return f"{_shown(value)} is not a port: use a number (22) or a range (8000-8080)"
    low, high = int(match[1]), int(match[2] or match[1])
    if high > _MAX_PORT or low > high:
        return f"{_shown(value)}: ports are 0-{_MAX_PORT}, a range from low to high"
    return None


# --- IAM ----------------------------------------------------------------------------------------
# Service account ids: https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create
# (accountId: 6-30 characters matching [a-z]([-a-z0-9]*[a-z0-9]), RFC 1035).
_ACCOUNT_ID = re.compile(r"[a-z](?:[-a-z0-9]{4,28}[a-z0-9])")
# Custom role ids: https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create
# (roleId: letters, digits, '_' and '.', 3-64 characters).
_ROLE_ID = re.compile(r"[a-zA-Z0-9_.]{3,64}")


def account_id_problem(account_id: str) -> str | None:
    """Why IAM would refuse ``account_id`` for a service account, or ``None``."""
    if _ACCOUNT_ID.fullmatch(account_id):
        return None
    hint = _fix_hint(account_id.lower().replace("_", "-"), account_id, account_id_problem)
    return (f"service account id {_shown(account_id)}: 6-30 lowercase letters, digits or '-', "
            f"starting with a letter and not ending with '-'{hint}")


def role_id_problem(role_id: str) -> str | None:
    """Why IAM would refuse ``role_id`` for a custom role, or ``None``."""
    if _ROLE_ID.fullmatch(role_id):
        return None
    hint = _fix_hint(role_id.replace("-", "_"), role_id, role_id_problem)
    return f"role id {_shown(role_id)}: 3-64 letters, digits, '_' or '.'{hint}"


# --- Cloud KMS --------------------------------------------------------------------------------
# keyRingId and cryptoKeyId match [a-zA-Z0-9_-]{1,63}:
# https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings/create
# https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/create
_KMS_ID = re.compile(r"[a-zA-Z0-9_-]{1,63}")
# Locations: https://cloud.google.com/kms/docs/locations -- regions, "global" and
# multi-regions ("us", "europe", "nam4", "nam-eur-asia1" ...), all lowercase.
_KMS_LOCATION = re.compile(r"[a-z]+(?:-[a-z]+)*[0-9]*")


def kms_id_problem(name: str, what: str = "key ring") -> str | None:
    """Why KMS would refuse ``name`` for a ``what`` (``key ring``, ``crypto key``), or ``None``."""
    if _KMS_ID.fullmatch(name):
        return None
    return f"{what} name {_shown(name)}: use 1-63 letters, digits, '_' or '-'"


def kms_location_problem(value: str) -> str | None:
    """Why ``value`` is not shaped like a KMS location, or ``None``."""
    if _KMS_LOCATION.fullmatch(value):
        return None
    hint = _fix_hint(value.lower(), value, kms_location_problem) or \
        _fix_hint(region_fix(value), value, region_problem)
    return (f"{_shown(value)} is not a Cloud KMS location: use a region ('us-central1'), "
            f"'global' or a multi-region ('us', 'europe'), in lowercase{hint}")


_RING_COLLECTIONS = ["projects", "locations", "keyRings"]
_KEY_COLLECTIONS = [*_RING_COLLECTIONS, "cryptoKeys"]


def key_ring_name_problem(value: str) -> str | None:
    """Why ``value`` is not ``projects/P/locations/L/keyRings/R``, or ``None``."""
    parts = value.split("/")
    if parts[0::2] != _RING_COLLECTIONS or len(parts) != 6:
        return (f"{_shown(value)} is not a key ring: expected "
                "projects/P/locations/L/keyRings/R (usually ${ring.id})")
    return _kms_parts_problem(parts)


def crypto_key_name_problem(value: str) -> str | None:
    """Why ``value`` is not ``projects/P/locations/L/keyRings/R/cryptoKeys/K``, or ``None``."""
    parts = value.split("/")
    if parts[0::2] != _KEY_COLLECTIONS or len(parts) != 8:
        return (f"{_shown(value)} is not a crypto key: expected "
                "projects/P/locations/L/keyRings/R/cryptoKeys/K (usually ${key.id})")
    return _kms_parts_problem(parts)


def _kms_parts_problem(parts: list[str]) -> str | None:
    key = kms_id_problem(parts[7], "crypto key") if len(parts) == 8 else None
    problem = (project_ref_problem(parts[1]) or kms_location_problem(parts[3])
               or kms_id_problem(parts[5], "key ring") or key)
    return f"in {_shown('/'.join(parts))}: {problem}" if problem else None


def project_ref_problem(value: str) -> str | None:
    """A project inside a resource name: its id, or its number (which APIs accept there)."""
    return None if value.isdigit() else project_id_problem(value)


# --- Service Usage ------------------------------------------------------------------------------
# Service (API) names are DNS names such as "serviceusage.googleapis.com":
# https://cloud.google.com/service-usage/docs/reference/rest/v1/services
_API = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
                  r"\.[a-z]{2,}")
_GOOGLEAPIS = "googleapis.com"


def api_name_problem(name: str) -> str | None:
    """Why ``name`` names no API (e.g. ``compute``, ``compute.googleapi.com``), or ``None``."""
    suffix = ".".join(name.split(".")[-2:])
    if _API.fullmatch(name) and (suffix == _GOOGLEAPIS or not _near_googleapis(suffix)):
        return None
    return (f"{_shown(name)} is not an API name (e.g. 'compute.googleapis.com'); set "
            f"'name:'{_fix_hint(_api_fix(name), name, api_name_problem)}")


def _near_googleapis(suffix: str) -> bool:
    return bool(did_you_mean(suffix, [_GOOGLEAPIS]))


def _api_fix(name: str) -> str | None:
    """``compute`` / ``Compute.googleapi.com`` -> ``compute.googleapis.com`` (a name such as
    ``storage-api``, the address used when ``name:`` is missing, gets no guess)."""
    service = name.lower().split(".")[0]
    return f"{service}.{_GOOGLEAPIS}" if "." in name or service.isalnum() else None


# --- shared types for spec models ------------------------------------------------------------------
def _problem_of(check: Callable[[str, str], str | None], what: str) -> Problem:
    return lambda value: check(value, what)


ProjectId = Annotated[str, checked(project_id_problem)]
Region = Annotated[str, checked(region_problem)]
BucketName = Annotated[str, checked(bucket_name_problem)]
BucketLocation = Annotated[str, checked(bucket_location_problem)]
DatasetId = Annotated[str, checked(dataset_id_problem)]
TableId = Annotated[str, checked(table_id_problem)]
DatasetLocation = Annotated[str, checked(dataset_location_problem)]
RangeName = Annotated[str, checked(_problem_of(rfc1035_problem, "secondary range"))]
NetworkRef = Annotated[str, checked(network_ref_problem)]
IpRange = Annotated[str, checked(ip_range_problem)]
Port = Annotated[str, checked(port_problem)]
AccountId = Annotated[str, checked(account_id_problem)]
RoleId = Annotated[str, checked(role_id_problem)]
KmsLocation = Annotated[str, checked(kms_location_problem)]
KeyRingName = Annotated[str, checked(key_ring_name_problem)]
CryptoKeyName = Annotated[str, checked(crypto_key_name_problem)]


def _ipv4_network_or_template(value: str) -> str:
    return value if is_template(value) else ipv4_network(value)


Ipv4Network = Annotated[str, AfterValidator(_ipv4_network_or_template)]
"""A subnetwork range: IPv4, CIDR, network address (written back in canonical form)."""


# --- ML platform: Vertex AI and Workbench -------------------------------------------------------
# Endpoint ids: aiplatform v1 discovery, ``endpoints.create`` ``endpointId``: "If the first
# character is a letter, this value may be up to 63 characters, and valid characters are
# `[a-z0-9-]`. The last character must be a letter or number. If the first character is a
# number, this value may be up to 9 characters, and valid characters are `[0-9]` with no
# leading zeros."
_ENDPOINT_ID = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?|[1-9][0-9]{0,8}")
# Feature online store and feature view ids: the same document, ``featureOnlineStoreId`` /
# ``featureViewId``: "up to 60 characters, and valid characters are `[a-z0-9_]`. The first
# character cannot be a number." (no '-': research/clients.md section e)
_FEATURE_ID = re.compile(r"[a-z_][a-z0-9_]{0,59}")
# Metadata store ids: ``metadataStoreId``: "Must be 4-128 characters in length. Valid
# characters are `/a-z-/`."
_METADATA_STORE_ID = re.compile(r"[a-z-]{4,128}")
# A zone by its shape: a region and a letter (https://cloud.google.com/compute/docs/regions-zones).
ZONE = re.compile(r"([a-z]+(?:-[a-z]+)+[0-9]+)-[a-z]")


def endpoint_id_problem(value: str) -> str | None:
    if _ENDPOINT_ID.fullmatch(value):
        return None
    return (f"{_shown(value)} is not a Vertex AI endpoint id: a letter then up to 62 of a-z, "
            "0-9 or '-' ending in a letter or digit, or up to 9 digits without a leading zero")


def feature_id_problem(value: str, what: str = "feature online store") -> str | None:
    if _FEATURE_ID.fullmatch(value):
        return None
    fix = value.lower().replace("-", "_")
    return (f"{_shown(value)} is not a {what} id: up to 60 of a-z, 0-9 and '_' (no '-'), not "
            "starting with a digit" + _fix_hint(fix, value, lambda v: feature_id_problem(v, what)))


def metadata_store_id_problem(value: str) -> str | None:
    if _METADATA_STORE_ID.fullmatch(value):
        return None
    return f"{_shown(value)} is not a metadata store id: 4-128 of a-z and '-' (e.g. 'default')"


def zone_problem(value: str) -> str | None:
    if ZONE.fullmatch(value):
        return None
    if REGION.fullmatch(value):
        return f"{_shown(value)} is a region: Workbench instances live in a zone (e.g. '{value}-a')"
    return f"{_shown(value)} is not a zone: a region and a letter, e.g. 'us-central1-a'"


Zone = Annotated[str, checked(zone_problem)]


# A subnetwork a Workbench instance names: ``projects/P/regions/R/subnetworks/S`` or its
# selfLink (notebooks v2 discovery ``NetworkInterface.subnet``), or ``REGION/NAME``.
SUBNETWORK_URL = re.compile(r"(?:(?:https?://[^/]+)?/?compute/v1/)?(?:projects/([^/]+)/)?"
                            r"regions/([^/]+)/subnetworks/([^/]+)")


def subnetwork_ref_problem(value: str) -> str | None:
    match = SUBNETWORK_URL.fullmatch(value)
    if not match:
        return (f"subnetwork {_shown(value)}: use 'projects/P/regions/R/subnetworks/S' or its "
                "selfLink")
    project, region, name = match.groups()
    return (project_ref_problem(project) if project else None) or region_problem(region) \
        or rfc1035_problem(name, "subnetwork")


SubnetworkRef = Annotated[str, checked(subnetwork_ref_problem)]
