"""Moving in without a rebuild: Terraform state and live resources -> a spec and a ledger.

    python -m mlops_infra import terraform STATE... [--env E]... -o spec.yaml
    python -m mlops_infra import live --project P [--kinds ...] -o spec.yaml
    python -m mlops_infra import labels spec.yaml [--env E]     # the one step that labels them

This package is generic: it knows no kind's name and no provider attribute. Each kind
declares its Terraform types and mappings, its references and how its live resources read
back (``engine.kind.Kind``: ``terraform_types``, ``from_terraform``, ``terraform_refs``,
``from_live``, ``live_resources``, ``google_managed``, ``adjust_imports``, ``region_field``).
The package reads state (``tfstate``), names addresses (``addresses``), collects entries
through the kinds (``collect``), rebuilds references (``references``), moves sensitive values
to ``secrets:`` (``secrets``), composes and folds environments (``compose``), writes the YAML
(``render``), checks the first plan and writes ledgers (``ledgers``), and prints the summary
(``summary``); ``run`` ties them together. It sits above ``api`` (it uses ``Stack`` like any
program would) and below the CLI.
"""

from mlops_infra.importers.run import ImportResult, Options, default_stack, import_live, import_terraform

__all__ = ["ImportResult", "Options", "default_stack", "import_live", "import_terraform"]
