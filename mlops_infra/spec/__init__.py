"""The spec package: load a YAML spec into a validated, typed ``Spec``.

The format
==========
::

    apiVersion: mlops-infra/v1          # required, exactly this
    stack: ml-platform                  # required: [a-z][a-z0-9-]{0,39}; used in labels and the ledger name
    project: my-gcp-project             # default project of every resource
    region: us-central1                 # default region/location
    vars:                               # free-form values usable as ${vars.NAME} (${vars.a.b} into maps,
      prefix: acme-ml                   #   ${vars.a.0} into lists); vars may use other vars
    ledger:                             # where the state ledger lives (optional; defaults: bucket
      bucket: acme-ml-state             #   "<project>-mlops-infra-state", prefix "mlops-infra")
      prefix: ledgers
    policy: {}                          # guardrail settings (checked against the settings the
                                        #   caller declares with policy_settings=)
    resources:                          # address (logical name, [a-z][a-z0-9_-]*) -> resource
      raw-data:
        kind: storage.Bucket            # required; one of the registered kinds
        name: ${vars.prefix}-raw-${env} # optional; defaults to the address
        project: other-project          # optional; defaults to the top-level project
        dependsOn: [features]           # optional explicit dependencies (addresses)
        allowDataLoss: false            # optional; allows destructive replace/delete of this resource
        forEach: ${vars.teams}          # optional: one resource per item at ADDRESS-KEY (a list of
                                        #   strings, or a mapping KEY: VALUE); ${each.key} and
                                        #   ${each.value} inside (see "forEach" below)
        location: US                    # every other key is a field of the kind,
        labels: {team: ml}              #   validated by the kind's model (unknown fields are errors)
      features:
        kind: bigquery.Dataset
        location: ${region}
      events:
        kind: bigquery.Table
        dataset: ${features.name}       # another resource's output -> a dependency
    outputs:                            # name -> value, usually templates of resource outputs
      raw_bucket: ${raw-data.url}
    environments:                       # overlays of the base, selected with --env NAME
                                        #   (names: [a-z][a-z0-9-]{0,21}; the stack is STACK-ENV)
      dev:
        vars: {prefix: acme-ml-dev}
        resources:
          raw-data: {labels: {env: dev}}   # deep merge: mappings merge, lists and scalars replace
          scratch: {kind: storage.Bucket}  # an overlay may add a resource
          raw-data-old: null               # null removes a key (here: a base resource)
      prod:
        project: acme-ml-prod

References
==========
``${vars.NAME}``, ``${project}``, ``${region}``, ``${stack}`` and ``${env}`` (the selected
environment; ``""`` when the base is loaded, which ``require_env=True`` refuses for a spec
that defines environments) are resolved when the spec is loaded.
``${ADDRESS.OUTPUT}`` names an output of another resource: the loader checks that it
exists and records a dependency; the engine substitutes it at plan time with
``resolve_refs``. A string that is exactly one reference takes the referenced value's
type (a number stays a number, a mapping stays a mapping); inside a longer string the
value is interpolated as text. ``$${`` writes a literal ``${``. References may appear
anywhere in a resource (nested mappings and lists, ``name``, ``project``) and in ``outputs``;
resource outputs are not allowed in ``project``, ``region``, ``ledger`` or ``policy``.

forEach
=======
A resource with ``forEach`` stands for one resource per item, expanded when the spec is
loaded (``spec.foreach``): ``forEach: [alice, bob]`` on ``workbench`` makes ``workbench-alice``
and ``workbench-bob``; a mapping ``{alice: alice@acme.com}`` keys them by its keys, and
``${each.value}`` is the item's value (``${each.value.FIELD}`` into a mapping value). Each
expanded address is stable (adding an item never renames another); keys are lowercase
letters, digits, ``_`` and ``-``. ``dependsOn: [workbench]`` depends on all of them; an output
reference names one (``${workbench-alice.id}``). Overlays apply to the entry before it is
expanded.

Errors
======
Every problem is a ``SpecError`` with one line ``FILE:LINE: FIELD.PATH: message``, e.g.
``spec.yaml:12: resources.raw-data.storageClas: unknown field (did you mean 'storageClass'?)``.
Project ids (top-level and per resource) and the default region are checked the way Google
checks them (``spec.identifiers``); a kind's model checks its own names and values.

Files must be UTF-8 (a byte order mark is fine). Loading is bounded (``spec.limits``): files
over 10 MB, binary or UTF-16 files, nesting past 100 levels, aliases expanding to more than
100 000 values and ``${...}`` interpolation building strings over 1 MB are refused with one
line, so a hostile file fails in milliseconds and megabytes.

Contract for the engine
=======================
Strings in a loaded ``Spec`` are templates: they may hold ``${ADDRESS.OUTPUT}`` and
``$${`` escapes, so pass ``ResourceSpec.fields``, ``name``, ``project`` and
``Spec.outputs`` through ``resolve_refs`` before use (it also unescapes ``$${``).
"""

from mlops_infra.spec.loader import (
    default_ledger_bucket,
    load_every_environment,
    load_every_environment_text,
    load_spec,
    load_spec_text,
)
from mlops_infra.spec.model import KindSchema, ResourceSpec, Spec
from mlops_infra.spec.refs import find_refs, resolve_refs
from mlops_infra.spec.schema import export_json_schema

__all__ = ["KindSchema", "ResourceSpec", "Spec", "default_ledger_bucket", "export_json_schema",
           "find_refs",
           "load_every_environment", "load_every_environment_text", "load_spec",
           "load_spec_text", "resolve_refs"]
