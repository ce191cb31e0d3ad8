"""Public images and image families: a family resolves to its newest non-deprecated image.

compute v1 discovery ``images.getFromFamily``: "Returns the latest image that is part of an
image family and is not deprecated"; ``AttachedDiskInitializeParams.sourceImage``: a boot disk
names an image (``projects/debian-cloud/global/images/debian-12-bookworm-vYYYYMMDD``) or a
family (``projects/debian-cloud/global/images/family/debian-12``), full or partial URL. The
catalogue below holds one image per family of the public image projects the platform uses
(names shaped like those https://cloud.google.com/compute/docs/images/os-details and
https://cloud.google.com/deep-learning-vm/docs/images list); ``add_image`` (the
``ComputeService.add_image`` knob) publishes a newer one, as Google does every few weeks -
the case where a boot disk written as a family must not start to differ.
"""

from __future__ import annotations

import re
from typing import Any

from mlops_infra.emulator.compute.common import global_url, invalid, timestamp

PUBLIC_PROJECTS = frozenset({"debian-cloud", "ubuntu-os-cloud", "cos-cloud",
                             "deeplearning-platform-release"})
CATALOGUE = (
    ("debian-cloud", "debian-12-bookworm-v20261110", "debian-12", 10),
    ("ubuntu-os-cloud", "ubuntu-2204-jammy-v20261105", "ubuntu-2204-lts", 10),
    ("cos-cloud", "cos-stable-121-18867-199-28", "cos-stable", 10),
    ("deeplearning-platform-release", "common-cu124-v20261101-ubuntu-2204-py310",
     "common-cu124-ubuntu-2204-py310", 50),
)
_REF = re.compile(r"^(?:https?://[^/]+/compute/v1/)?(?:projects/([^/]+)/)?global/images/"
                  r"(family/)?([a-z0-9-]+)$")


def initial_images() -> dict[str, dict[str, Any]]:
    """project -> name -> image, the public catalogue."""
    found: dict[str, dict[str, Any]] = {}
    for number, (project, name, family, size) in enumerate(CATALOGUE, start=1):
        found.setdefault(project, {})[name] = new_image(project, name, family, size, number)
    return found


def new_image(project: str, name: str, family: str | None, size: int, number: int) -> dict[str, Any]:
    image = {"kind": "compute#image", "id": str(4_000_000_000_000 + number), "name": name,
             "selfLink": global_url(project, "images", name), "status": "READY",
             "diskSizeGb": str(size), "sourceType": "RAW", "architecture": "X86_64",
             "creationTimestamp": timestamp(), "archiveSizeBytes": str(size * 2**28)}
    if family:
        image["family"] = family
    return image


def resolve(ref: Any, *, project: str, images: dict[str, dict[str, Any]],
            field: str) -> dict[str, Any]:
    """The image ``ref`` names (a family: its newest image); 400 when there is none."""
    match = _REF.match(ref) if isinstance(ref, str) else None
    if match is None:
        raise invalid(f"Invalid value for field '{field}': '{ref}'. The URL is malformed.")
    owner, family, name = match.group(1) or project, match.group(2), match.group(3)
    candidates = images.get(owner, {})
    if family:
        members = [i for i in candidates.values() if i.get("family") == name
                   and not i.get("deprecated")]
        found = max(members, key=lambda i: (i["creationTimestamp"], i["name"]), default=None)
    else:
        found = candidates.get(name)
    if found is None:
        raise invalid(f"Invalid value for field '{field}': '{ref}'. The referenced image "
                      "resource cannot be found.")
    return found
