"""Cloud KMS kinds: ``kms.KeyRing``, ``kms.CryptoKey`` and ``kms.CryptoKeyGrant``.

``kms.KeyRing``

| field      | notes                                                   |
|------------|---------------------------------------------------------|
| ``location`` | defaults to the spec's region; lowercase (``us-central1``, ``us``, ``global``) |

Identity ``projects/P/locations/L/keyRings/NAME``; outputs ``id`` (the full name), ``name``.
No labels. Key rings **cannot be deleted** in KMS: removing one from the spec abandons it
(forgets it, keeps it live) and a ring that already exists is adopted.

``kms.CryptoKey``

| field               | notes                                                         |
|---------------------|---------------------------------------------------------------|
| ``keyRing``         | required: the ring's full name, usually ``${ring.id}``        |
| ``purpose``         | ``ENCRYPT_DECRYPT`` (default), ``ASYMMETRIC_SIGN``, ... ; immutable |
| (the resource name) | the key id: 1-63 letters, digits, ``_`` or ``-`` (so is a key ring's) |
| ``rotationPeriod``  | ``"7776000s"`` or int seconds (at least a day); the first ``nextRotationTime`` is now + period unless written |
| ``nextRotationTime``| RFC 3339; compared only when written                          |
| ``protectionLevel`` | ``SOFTWARE``/``HSM`` -> ``versionTemplate.protectionLevel``; immutable |
| ``algorithm``       | -> ``versionTemplate.algorithm`` (``GOOGLE_SYMMETRIC_ENCRYPTION``, ``EC_SIGN_P256_SHA256`` ...) |
| ``labels``          | map; ``managed-by``/stack labels are added                    |

Identity ``KEYRING/cryptoKeys/NAME``, listed per key ring; outputs ``id`` (full name), ``name``.
Key names can never be reused in KMS, so a change of an immutable field cannot really replace
the key: rename it instead. Removing a key from the spec abandons it, unless
``--allow-data-loss`` is given: then every enabled version is destroyed (scheduled).

``kms.CryptoKeyGrant`` - one member in one role of a key's IAM policy (additive: other
members and roles are left alone).

| field          | notes                                                            |
|----------------|------------------------------------------------------------------|
| ``cryptoKey``  | required: the key's full name (``${key.id}``)                    |
| ``role``       | default ``roles/cloudkms.cryptoKeyEncrypterDecrypter``            |
| ``member``     | e.g. ``serviceAccount:x@p.iam.gserviceaccount.com``, or instead:  |
| ``serviceAgent`` | a service agent a kind declares (``storage``, ``bigquery``, ...): that service's agent in the resource's project, asked of the API at apply time |

A resource whose kind declares a ``service_agent`` and ``cmek_fields`` (buckets, datasets)
and whose key is a reference to a ``kms.CryptoKey`` (``${key.id}``) implies such a grant
(``CryptoKey.encryption_grant``), so the service can use the key before the resource is
created with it. ``serviceAgent`` names any agent a registered kind declares.

Moving in: ``google_kms_key_ring``, ``google_kms_crypto_key`` (``purpose``
``ENCRYPT_DECRYPT``, protection level ``SOFTWARE`` and the symmetric algorithm are Google's
defaults, magic-modules CryptoKey.yaml, and are left out) and
``google_kms_crypto_key_iam_member``/``_binding``/``_policy`` (one grant per member: the
grants are additive; conditional bindings are not grants here). A member that is a service
agent a kind declares becomes ``serviceAgent: NAME``, and is dropped when a bucket or dataset of
the same import is encrypted with that key (the plan implies that grant). Live imports look
for key rings in the given regions and in ``global``, ``us``, ``europe`` and ``asia``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator, model_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    Removal,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import find, register, service_agents
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels, translate_errors
from mlops_infra.kinds._clients import KMS
from mlops_infra.kinds._iam_policy import member_key, terraform_bindings
from mlops_infra.kinds._imports import block, leftovers, put, terraform_labels, user_labels
from mlops_infra.kinds._names import (
    CryptoKeyName,
    KeyRingName,
    KmsLocation,
    is_template,
    kms_id_problem,
)
from mlops_infra.spec import find_refs
from mlops_infra.spec.hints import did_you_mean

API = "cloudkms.googleapis.com"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
_RING = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+$")
_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
_DURATION = re.compile(r"^(\d+)s$")
_POLICY_ATTEMPTS = 5
_SEP = "/iamMembers/"
Names = list[str]   # module-level: inside a Kind class body ``list`` is the ``list()`` method


def _as_dict(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = type(message).to_dict(message, use_integers_for_enums=False,
                                                 preserving_proto_field_name=False)
    return data


def _check_id(ctx: ResourceContext, what: str) -> str:
    problem = kms_id_problem(ctx.name, what)
    if problem:
        raise errors.SpecError(problem, field=f"{ctx.address}.name")
    return ctx.name


# --- kms.KeyRing ---------------------------------------------------------------------------

class KeyRingSpec(SpecModel):
    """A KMS key ring (it cannot be deleted once created)."""

    location: KmsLocation | None = None


@register
class KeyRing(Kind):
    """A Cloud KMS key ring."""

    name = "kms.KeyRing"
    name_pattern = "projects/*/locations/*/keyRings/*"
    layer = "Security"
    model = KeyRingSpec
    outputs = frozenset({"id", "name"})
    labels_path = None
    api = API
    uses = (KMS,)
    terraform_types = ("google_kms_key_ring",)
    region_field = "location"

    def removal(self, applied: dict[str, Any], *, allow_data_loss: bool) -> Removal:
        return "abandon"

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        location = str(attributes["location"])
        return [Imported(name=str(attributes["name"]), project=attributes.get("project"),
                         region=location, fields={"location": location})]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        parts = key_parts(name)
        return [Imported(name=parts["keyRings"], project=parts["projects"],
                         region=parts["locations"], fields={"location": parts["locations"]})]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for location in live_locations(regions):
            found.update(self.list(f"projects/{project}/locations/{location}"))
        return found

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return kms_id_problem(ctx.name, "key ring")

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        location = fields.get("location") or ctx.region
        if not location:
            raise errors.SpecError("a key ring needs a location (or a spec region)",
                                   field=f"{ctx.address}.location")
        scope = f"projects/{ctx.project}/locations/{location}"
        return ResourceId(kind=self.name, name=f"{scope}/keyRings/{_check_id(ctx, 'key ring')}",
                          scope=scope, parts={"projects": ctx.project, "locations": location,
                                              "keyRings": ctx.name})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return {"name": self.identify(ctx, fields).name}

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"id": rid.name, "name": rid.parts["keyRings"]}

    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"key rings in {scope}"):
            rings = self.clients.get(KMS).list_key_rings(request={"parent": scope}, **CALL)
            return {r.name: _as_dict(r) for r in rings}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"key ring {rid.name}"):
            try:
                return _as_dict(self.clients.get(KMS).get_key_ring(request={"name": rid.name}, **CALL))
            except NotFound:
                return None

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        with translate_errors(f"key ring {rid.name}"):
            ring = self.clients.get(KMS).create_key_ring(request={
                "parent": rid.scope, "key_ring_id": rid.parts["keyRings"], "key_ring": {}}, **CALL)
            return _as_dict(ring)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        return live      # a key ring has nothing to update

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        raise errors.PermanentError(f"{rid.name}: KMS key rings cannot be deleted")


# --- kms.CryptoKey -------------------------------------------------------------------------

# Purposes, protection levels and algorithms: the CryptoKeyPurpose, ProtectionLevel and
# CryptoKeyVersionAlgorithm enums of https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys
# (algorithms: https://cloud.google.com/kms/docs/algorithms), as the installed client library
# knows them (a test keeps these lists equal to its enums). Case matters to the API.
Purpose = Literal["ENCRYPT_DECRYPT", "ASYMMETRIC_SIGN", "ASYMMETRIC_DECRYPT",
                  "RAW_ENCRYPT_DECRYPT", "MAC", "KEY_ENCAPSULATION", "AES_WRAPPING"]
ProtectionLevel = Literal["SOFTWARE", "HSM", "EXTERNAL", "EXTERNAL_VPC", "HSM_SINGLE_TENANT"]
ALGORITHMS = (
    "GOOGLE_SYMMETRIC_ENCRYPTION", "AES_128_GCM", "AES_256_GCM", "AES_128_CBC", "AES_256_CBC",
    "AES_128_CTR", "AES_256_CTR", "RSA_SIGN_PSS_2048_SHA256", "RSA_SIGN_PSS_3072_SHA256",
    "RSA_SIGN_PSS_4096_SHA256", "RSA_SIGN_PSS_4096_SHA512", "RSA_SIGN_PKCS1_2048_SHA256",
    "RSA_SIGN_PKCS1_3072_SHA256", "RSA_SIGN_PKCS1_4096_SHA256", "RSA_SIGN_PKCS1_4096_SHA512",
    "RSA_SIGN_RAW_PKCS1_2048", "RSA_SIGN_RAW_PKCS1_3072", "RSA_SIGN_RAW_PKCS1_4096",
    "RSA_DECRYPT_OAEP_2048_SHA256", "RSA_DECRYPT_OAEP_3072_SHA256", "RSA_DECRYPT_OAEP_4096_SHA256",
    "RSA_DECRYPT_OAEP_4096_SHA512", "RSA_DECRYPT_OAEP_2048_SHA1", "RSA_DECRYPT_OAEP_3072_SHA1",
    "RSA_DECRYPT_OAEP_4096_SHA1", "EC_SIGN_P256_SHA256", "EC_SIGN_P384_SHA384",
    "EC_SIGN_SECP256K1_SHA256", "EC_SIGN_ED25519", "HMAC_SHA256", "HMAC_SHA1", "HMAC_SHA384",
    "HMAC_SHA512", "HMAC_SHA224", "EXTERNAL_SYMMETRIC_ENCRYPTION", "ML_KEM_768", "ML_KEM_1024",
    "KEM_XWING", "PQ_SIGN_ML_DSA_44", "PQ_SIGN_ML_DSA_65", "PQ_SIGN_ML_DSA_87",
    "PQ_SIGN_SLH_DSA_SHA2_128S", "PQ_SIGN_HASH_SLH_DSA_SHA2_128S_SHA256",
    "PQ_SIGN_ML_DSA_44_EXTERNAL_MU", "PQ_SIGN_ML_DSA_65_EXTERNAL_MU",
    "PQ_SIGN_ML_DSA_87_EXTERNAL_MU", "AES_256_KWP")


class CryptoKeySpec(SpecModel):
    """A KMS crypto key (REST names, plus ``protectionLevel``/``algorithm`` shorthands)."""

    keyRing: KeyRingName
    purpose: Purpose | None = None
    rotationPeriod: int | str | None = None
    nextRotationTime: str | None = None
    protectionLevel: ProtectionLevel | None = None
    algorithm: str | None = None
    labels: dict[str, str] | None = None

    @field_validator("algorithm")
    @classmethod
    def _known_algorithm(cls, value: str | None) -> str | None:
        # A closed set, but too long to list in one line: named by the hint and the doc.
        if value is None or is_template(value) or value in ALGORITHMS:
            return value
        raise ValueError(f"unknown algorithm {value!r}{did_you_mean(value, ALGORITHMS)} "
                         "(see https://cloud.google.com/kms/docs/algorithms)")

    @field_validator("rotationPeriod")
    @classmethod
    def _period(cls, value: int | str | None) -> int | str | None:
        if value is None or (isinstance(value, str) and "${" in value):
            return value
        seconds = duration_seconds(value)
        if seconds < 86400:
            raise ValueError("rotationPeriod must be at least one day (86400s)")
        return f"{seconds}s"

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @field_validator("nextRotationTime")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return timestamp(value) if value and "${" not in value else value


def duration_seconds(value: int | str) -> int:
    """``7776000``/``"7776000"``/``"7776000s"`` -> 7776000."""
    if isinstance(value, bool):
        raise ValueError("a duration is seconds: 7776000 or '7776000s'")  # noqa: TRY004 (pydantic)
    if isinstance(value, int):
        return value
    text = value.strip()
    match = _DURATION.match(text) or re.match(r"^(\d+)$", text)
    if not match:
        raise ValueError(f"{value!r} is not a duration: write seconds, e.g. '7776000s'")
    return int(match.group(1))


def timestamp(value: str) -> str:
    """RFC 3339 in one canonical form (UTC, seconds, ``Z``) so equal times compare equal."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_parts(name: str) -> dict[str, str]:
    segments = name.split("/")
    return dict(zip(segments[0::2], segments[1::2]))


def live_locations(regions: tuple[str, ...]) -> list[str]:
    """Where a live import looks for key rings: the regions asked for and the global and
    multi-regional KMS locations (https://cloud.google.com/kms/docs/locations)."""
    return list(dict.fromkeys([*regions, "global", "us", "europe", "asia"]))


# Google's defaults (magic-modules CryptoKey.yaml: purpose ENCRYPT_DECRYPT, protection level
# SOFTWARE; the symmetric algorithm of ENCRYPT_DECRYPT keys: kms docs "algorithms").
_DEFAULT_ALGORITHM = {"ENCRYPT_DECRYPT": "GOOGLE_SYMMETRIC_ENCRYPTION"}
_KEY_TF_KNOWN = ("name", "key_ring", "purpose", "rotation_period", "version_template", "labels",
                 "destroy_scheduled_duration", "primary", "import_only", "crypto_key_backend",
                 "skip_initial_version_creation")


def _key_fields(ring: str, purpose: str, rotation: Any, template: Mapping[str, Any],
                labels: dict[str, str], algorithm_key: str, level_key: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"keyRing": ring}
    put(fields, "purpose", purpose, default="ENCRYPT_DECRYPT")
    put(fields, "rotationPeriod", rotation)
    put(fields, "protectionLevel", template.get(level_key), default="SOFTWARE")
    put(fields, "algorithm", template.get(algorithm_key), default=_DEFAULT_ALGORITHM.get(purpose))
    put(fields, "labels", labels)
    return fields


def _ring_name(value: str) -> str:
    """A key ring as its full name (older provider versions stored ``P/L/R``)."""
    parts = value.split("/")
    if len(parts) == 3:
        return f"projects/{parts[0]}/locations/{parts[1]}/keyRings/{parts[2]}"
    return value


@register
class CryptoKey(Kind):
    """A Cloud KMS crypto key."""

    name = "kms.CryptoKey"
    name_pattern = "projects/*/locations/*/keyRings/*/cryptoKeys/*"
    layer = "Security"
    model = CryptoKeySpec
    outputs = frozenset({"id", "name"})
    immutable = frozenset({"purpose", "versionTemplate.protectionLevel"})
    data_bearing = True
    loss = "destroying its versions makes everything encrypted with them unreadable"
    deletion_keeps = True       # KMS keeps every key: a delete destroys its versions
    api = API
    uses = (KMS,)
    terraform_types = ("google_kms_crypto_key",)
    terraform_refs = {"keyRing": "id"}

    def removal(self, applied: dict[str, Any], *, allow_data_loss: bool) -> Removal:
        return "delete" if allow_data_loss else "abandon"

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        ring = _ring_name(str(a["key_ring"]))
        fields = _key_fields(ring, str(a.get("purpose") or "ENCRYPT_DECRYPT"),
                             a.get("rotation_period"), block(a, "version_template"),
                             terraform_labels(a), "algorithm", "protection_level")
        notes = leftovers(a, _KEY_TF_KNOWN)
        if a.get("destroy_scheduled_duration") not in (None, "", "2592000s"):
            notes += (f"destroy_scheduled_duration {a['destroy_scheduled_duration']} is not "
                      "carried over (left as it is live)",)
        return [Imported(name=str(a["name"]), project=key_parts(ring).get("projects"),
                         fields=fields, notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        parts = key_parts(name)
        ring = name.rsplit("/cryptoKeys/", 1)[0]
        fields = _key_fields(ring, str(live.get("purpose") or "ENCRYPT_DECRYPT"),
                             live.get("rotationPeriod"), live.get("versionTemplate") or {},
                             user_labels(live.get("labels")), "algorithm", "protectionLevel")
        return [Imported(name=parts["cryptoKeys"], project=parts["projects"], fields=fields)]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for location in live_locations(regions):
            with translate_errors(f"key rings in {location}"):
                rings = [r.name for r in self.clients.get(KMS).list_key_rings(
                    request={"parent": f"projects/{project}/locations/{location}"}, **CALL)]
            for ring in rings:
                found.update(self.list(ring))
        return found

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return kms_id_problem(ctx.name, "crypto key")

    def encryption_grant(self, *, key: str, consumer: Any, agent: str) -> list[Any]:
        """Service agent ``agent`` of ``consumer``'s project may encrypt with this key.

        One grant per (key, agent, project): every bucket of a project encrypted with the
        same key shares it, so the implied grants of several buckets are one plan entry.
        """
        key_address = sorted(find_refs(key))[0][0]
        address = f"{key_address}-{agent}-grant-{consumer.project}"
        return [dataclasses.replace(
            consumer, address=address, kind=CryptoKeyGrant.name, name=address,
            fields={"cryptoKey": key, "serviceAgent": agent}, adopt=False,
            depends_on=frozenset(a for a, _ in find_refs(key)), allow_data_loss=False,
            waivers={}, field_lines={})]

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        ring = str(fields.get("keyRing", ""))
        if not _RING.match(ring):
            raise errors.SpecError(f"keyRing {ring!r}: expected projects/P/locations/L/keyRings/R "
                                   "(usually ${ring.id})", field=f"{ctx.address}.keyRing")
        name = f"{ring}/cryptoKeys/{_check_id(ctx, 'crypto key')}"
        return ResourceId(kind=self.name, name=name, scope=ring, parts=key_parts(name))

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"purpose": fields.get("purpose") or "ENCRYPT_DECRYPT"}
        for key in ("rotationPeriod", "nextRotationTime", "labels"):
            if key in fields:
                body[key] = fields[key]
        template = {k: fields[s] for k, s in (("protectionLevel", "protectionLevel"),
                                              ("algorithm", "algorithm")) if s in fields}
        if template:
            body["versionTemplate"] = template
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        out = dict(live)
        if out.get("nextRotationTime"):
            out["nextRotationTime"] = timestamp(out["nextRotationTime"])
        return out

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"id": rid.name, "name": rid.parts["cryptoKeys"]}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"crypto keys in {scope}"):
            keys = self.clients.get(KMS).list_crypto_keys(request={"parent": scope}, **CALL)
            return {k.name: _as_dict(k) for k in keys}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"crypto key {rid.name}"):
            try:
                return _as_dict(self.clients.get(KMS).get_crypto_key(request={"name": rid.name},
                                                                  **CALL))
            except NotFound:
                return None

    def holds_data(self, rid: ResourceId) -> bool:
        """Destroying a key's versions makes everything encrypted with them unreadable."""
        return bool(self._live_versions(rid))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import kms_v1

        body = dict(desired)
        if "rotationPeriod" in body and "nextRotationTime" not in body:
            body["nextRotationTime"] = _after(body["rotationPeriod"])
        with translate_errors(f"crypto key {rid.name}"):
            key = kms_v1.CryptoKey.from_json(json.dumps(body))
            created = self.clients.get(KMS).create_crypto_key(request={
                "parent": rid.scope, "crypto_key_id": rid.parts["cryptoKeys"],
                "crypto_key": key}, **CALL)
            return _as_dict(created)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import kms_v1

        body, mask = _patch(desired, changes, live)
        with translate_errors(f"crypto key {rid.name}"):
            key = kms_v1.CryptoKey.from_json(json.dumps({**body, "name": rid.name}))
            updated = self.clients.get(KMS).update_crypto_key(request={
                "crypto_key": key, "update_mask": {"paths": [_snake(p) for p in mask]}}, **CALL)
            return _as_dict(updated)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        """Schedule the destruction of every enabled or disabled version (KMS keeps the key)."""
        if not force:
            raise errors.PermanentError(f"{rid.name}: destroying a key's versions needs "
                                        "allowDataLoss")
        for version in self._live_versions(rid):
            with translate_errors(f"key version {version}"):
                self.clients.get(KMS).destroy_crypto_key_version(request={"name": version}, **CALL)

    def _live_versions(self, rid: ResourceId) -> Names:
        from google.api_core.exceptions import NotFound
        from google.cloud import kms_v1

        usable = (kms_v1.CryptoKeyVersion.CryptoKeyVersionState.ENABLED,
                  kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DISABLED)
        with translate_errors(f"versions of {rid.name}"):
            try:
                versions = self.clients.get(KMS).list_crypto_key_versions(
                    request={"parent": rid.name}, **CALL)
                return [v.name for v in versions if v.state in usable]
            except NotFound:
                return []


def _snake(path: str) -> str:
    """Field-mask paths are proto names (``rotation_period``); the wire carries camelCase."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


def _after(period: str) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=duration_seconds(period))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _patch(desired: dict[str, Any], changes: FieldChanges, live: dict[str, Any]
           ) -> tuple[dict[str, Any], list[str]]:
    """The PATCH body and update mask for ``changes`` (labels merged with live ones)."""
    tops = {paths.split(c.path)[0] for c in changes}
    body: dict[str, Any] = {}
    mask: list[str] = []
    if "labels" in tops:
        removed = {paths.split(c.path)[1] for c in changes
                   if c.op == "remove" and c.path.startswith("labels") and len(paths.split(c.path)) > 1}
        labels = {**(live.get("labels") or {}), **(desired.get("labels") or {})}
        body["labels"] = {k: v for k, v in labels.items() if k not in removed}
        mask.append("labels")
    if "rotationPeriod" in tops:
        mask += ["rotationPeriod", "nextRotationTime"]
        if "rotationPeriod" in desired:
            body["rotationPeriod"] = desired["rotationPeriod"]
            body["nextRotationTime"] = desired.get("nextRotationTime") or _after(
                desired["rotationPeriod"])
    elif "nextRotationTime" in tops:
        mask.append("nextRotationTime")
        if "nextRotationTime" in desired:
            body["nextRotationTime"] = desired["nextRotationTime"]
    if any(c.path == "versionTemplate.algorithm" for c in changes):
        mask.append("versionTemplate.algorithm")
        body["versionTemplate"] = {"algorithm": (desired.get("versionTemplate") or {})
                                   .get("algorithm") or live["versionTemplate"]["algorithm"]}
    return body, mask


# --- kms.CryptoKeyGrant ----------------------------------------------------------------------

class CryptoKeyGrantSpec(SpecModel):
    """One member in one role of a crypto key's IAM policy (additive)."""

    cryptoKey: CryptoKeyName
    role: str = ENCRYPTER_DECRYPTER
    member: str | None = None
    serviceAgent: str | None = None

    @field_validator("serviceAgent")
    @classmethod
    def _known_agent(cls, value: str | None) -> str | None:
        known = service_agents()
        if value is not None and value not in known:
            raise ValueError(f"unknown service agent {value!r} (known: {', '.join(sorted(known))})")
        return value

    @model_validator(mode="after")
    def _one_member(self) -> CryptoKeyGrantSpec:
        if (self.member is None) == (self.serviceAgent is None):
            raise ValueError("write exactly one of 'member' and 'serviceAgent'")
        return self


@register
class CryptoKeyGrant(Kind):
    """A member granted a role on a crypto key (only that member is ever added or removed)."""

    name = "kms.CryptoKeyGrant"
    name_pattern = "projects/*/locations/*/keyRings/*/cryptoKeys/*/iamMembers/**"
    layer = "Security"
    model = CryptoKeyGrantSpec
    outputs = frozenset({"member"})
    labels_path = None
    listable = False
    shared = True
    api = API
    uses = (KMS,)
    terraform_types = ("google_kms_crypto_key_iam_member", "google_kms_crypto_key_iam_binding",
                       "google_kms_crypto_key_iam_policy")
    terraform_refs = {"cryptoKey": "id", "member": "member"}

    def __init__(self, clients: Any) -> None:
        super().__init__(clients)
        self._agents: dict[tuple[str, str], str] = {}

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        key = _key_name(str(attributes["crypto_key_id"]))
        bindings, notes = terraform_bindings(tf_type, attributes)
        if any(b.get("condition") for b in bindings):
            raise NotImportable("a conditional key grant is not a kms.CryptoKeyGrant (grants are "
                                "unconditional)")
        if any(b.get("authoritative") for b in bindings):
            notes += ("the role's whole member list became one additive grant per member",)
        return [_grant(key, b["role"], member, notes) for b in bindings for member in b["members"]]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        return [_grant(live["cryptoKey"], live["role"], live["member"], ())]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        keys = CryptoKey(self.clients).live_resources(project, regions)
        found = {}
        for key in keys:
            policy = self._policy(self.id_from_name(f"{key}{_SEP}{ENCRYPTER_DECRYPTER}/x"))
            for binding in (policy.bindings if policy is not None else []):
                if binding.HasField("condition"):
                    continue
                for member in binding.members:
                    found[f"{key}{_SEP}{binding.role}/{member}"] = {
                        "cryptoKey": key, "role": binding.role, "member": member}
        return found

    def adjust_imports(self, own: ImportedList, every: Mapping[str, ImportedList]) -> ImportedList:
        """A grant to a service agent that a bucket or dataset of this import implies (it is
        encrypted with the key, which is imported too) is left to the plan to imply."""
        implied = _implied_grants(every)
        return [g for g in own if (g.fields.get("cryptoKey"), g.fields.get("serviceAgent"),
                                   g.project) not in implied]

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        key = str(fields.get("cryptoKey", ""))
        if not _KEY.match(key):
            raise errors.SpecError(f"cryptoKey {key!r}: expected the key's full name "
                                   "(usually ${key.id})", field=f"{ctx.address}.cryptoKey")
        who = fields.get("member") or f"serviceAgent:{fields['serviceAgent']}:{ctx.project}"
        return self.id_from_name(f"{key}{_SEP}{fields.get('role', ENCRYPTER_DECRYPTER)}/{who}")

    def id_from_name(self, name: str) -> ResourceId:
        key, _, rest = name.partition(_SEP)
        role, _, who = rest.rpartition("/")
        return ResourceId(kind=self.name, name=name, scope=key,
                          parts={"cryptoKey": key, "role": role, "who": who})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        rid = self.identify(ctx, fields)
        return _grant_shape(rid)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"member": live["resolvedMember"]} if live else {}

    # --- reads ---
    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        policy = self._policy(rid)
        member = self._member(rid)
        if policy is None or member not in _members(policy, rid.parts["role"]):
            return None
        return {**_grant_shape(rid), "resolvedMember": member}

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        member = self._member(rid)
        self._edit(rid, lambda members: members | {member})
        return {**_grant_shape(rid), "resolvedMember": member}

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        return self.create(rid, desired)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        member = self._member(rid)
        self._edit(rid, lambda members: members - {member})

    def _edit(self, rid: ResourceId, change: Any) -> None:
        """Read-modify-write of the key policy, re-read on a concurrent change (409 ABORTED)."""
        for _ in range(_POLICY_ATTEMPTS):
            policy = self._policy(rid)
            if policy is None:
                raise errors.NotFound(f"crypto key {rid.parts['cryptoKey']} does not exist")
            role = rid.parts["role"]
            before = _members(policy, role)
            after = change(before)
            if after == before:
                return
            _set_members(policy, role, after)
            try:
                with translate_errors(f"IAM policy of {rid.parts['cryptoKey']}"):
                    self.clients.get(KMS).set_iam_policy(request={
                        "resource": rid.parts["cryptoKey"], "policy": policy}, **CALL)
                return
            except errors.Conflict:
                continue            # someone changed the policy since we read it
        raise errors.TransientError(f"IAM policy of {rid.parts['cryptoKey']} kept changing "
                                    "while we edited it")

    def _policy(self, rid: ResourceId) -> Any:
        from google.api_core.exceptions import NotFound

        def read() -> Any:
            with translate_errors(f"IAM policy of {rid.parts['cryptoKey']}"):
                try:
                    # Version 3: "Requests for policies with any conditional role bindings must
                    # specify version 3" (cloudkms v1 discovery, cryptoKeys.getIamPolicy).
                    return self.clients.get(KMS).get_iam_policy(
                        request={"resource": rid.parts["cryptoKey"],
                                 "options": {"requested_policy_version": 3}}, **CALL)
                except NotFound:
                    return None
        # Every grant on one key reads the same policy: once per plan.
        return self.clients.read_once(("kms.policy", rid.parts["cryptoKey"]), read)

    def _member(self, rid: ResourceId) -> str:
        who = rid.parts["who"]
        if not who.startswith("serviceAgent:"):
            return member_key(who)
        _, agent, project = who.split(":", 2)
        if (agent, project) not in self._agents:
            self._agents[(agent, project)] = "serviceAccount:" + self._agent_email(agent, project)
        return self._agents[(agent, project)]

    def _agent_email(self, agent: str, project: str) -> str:
        return service_agents()[agent].email(self.clients, project)


def _key_name(value: str) -> str:
    """A key as its full name (older provider versions stored ``P/L/R/K``)."""
    parts = value.split("/")
    if len(parts) == 4:
        return f"projects/{parts[0]}/locations/{parts[1]}/keyRings/{parts[2]}/cryptoKeys/{parts[3]}"
    return value


def _agent_of(member: str) -> str | None:
    """The service agent (as kinds declare them) ``member`` is, if any."""
    email = member.removeprefix("serviceAccount:")
    for agent in service_agents().values():
        if agent.email_pattern and re.fullmatch(agent.email_pattern, email):
            return agent.name
    return None


def _grant(key: str, role: str, member: str, notes: tuple[str, ...]) -> Imported:
    fields: dict[str, Any] = {"cryptoKey": key}
    put(fields, "role", role, default=ENCRYPTER_DECRYPTER)
    agent = _agent_of(member)
    if agent:
        fields["serviceAgent"] = agent
    else:
        fields["member"] = member
    slug = re.sub(r"[^a-z0-9]+", "-", (agent or member.split(":")[-1].split("@")[0]).lower())
    role_slug = "" if role == ENCRYPTER_DECRYPTER else "-" + re.sub(
        r"[^a-z0-9]+", "-", role.rsplit("/", 1)[-1].lower())
    return Imported(name="", fields=fields, project=key_parts(key).get("projects"), notes=notes,
                    key=f"{slug.strip('-')}{role_slug}")


def _implied_grants(every: Mapping[str, ImportedList]) -> set[tuple[str, str, str | None]]:
    """(key, agent, project) of the grants the plan implies for this import's consumers."""
    keys = {f"{item.fields.get('keyRing')}/cryptoKeys/{item.name}"
            for item in every.get(CryptoKey.name, [])}
    implied = set()
    for kind_name, items in every.items():
        kind = find(kind_name)
        if kind is None or kind.service_agent is None:
            continue
        for item in items:
            for path in kind.cmek_fields:
                key = paths.get(item.fields, path, None)
                if isinstance(key, str) and key in keys:
                    implied.add((key, kind.service_agent.name, item.project))
    return implied


def _grant_shape(rid: ResourceId) -> dict[str, Any]:
    who = rid.parts["who"]
    body = {"cryptoKey": rid.parts["cryptoKey"], "role": rid.parts["role"]}
    if who.startswith("serviceAgent:"):
        body["serviceAgent"] = who.split(":")[1]
    else:
        body["member"] = who
    return body


def _members(policy: Any, role: str) -> set[str]:
    """The members of ``role``'s unconditional bindings (a conditional grant is not ours)."""
    return {member_key(m) for b in policy.bindings
            if b.role == role and not b.HasField("condition") for m in b.members}


def _set_members(policy: Any, role: str, members: set[str]) -> None:
    """Replace ``role``'s unconditional members; conditional bindings stay as they are, and
    a policy holding any is written as version 3 (a lower version is refused)."""
    kept = [b for b in policy.bindings if b.role != role or b.HasField("condition")]
    del policy.bindings[:]
    policy.bindings.extend(kept)
    if members:
        policy.bindings.add(role=role, members=sorted(members))
    policy.version = 3 if any(b.HasField("condition") for b in policy.bindings) else 1
