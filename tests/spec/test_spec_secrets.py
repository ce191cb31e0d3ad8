"""The ``secrets:`` section: sources, never values; references checked, left unresolved."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from mlops_infra.spec import KindSchema, load_spec_text
from mlops_infra.spec.errors import SpecError
from mlops_infra.spec.secrets import SecretSource


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str | None = None
    labels: dict[str, str] | None = None


KINDS = {"test.Thing": KindSchema(model=_Fields, outputs=frozenset({"name"}))}
HEAD = "apiVersion: mlops-infra/v1\nstack: s\nproject: proj-1\n"


def _load(text: str, env: str | None = None):  # type: ignore[no-untyped-def]
    return load_spec_text(HEAD + text, filename="spec.yaml", kinds=KINDS, env=env)


def test_references_stay_templates_and_sources_are_parsed() -> None:
    spec = _load('secrets:\n  tok: {env: TOK}\n'
                 '  pd: {secretManager: "projects/${project}/secrets/pd-key/versions/latest"}\n'
                 'resources:\n  a:\n    kind: test.Thing\n    token: ${secrets.tok}\n'
                 '    labels: {url: "https://x/${secrets.pd}"}\n')
    assert spec.secrets == {"tok": SecretSource("tok", "env", "TOK"),
                            "pd": SecretSource("pd", "secretManager",
                                               "projects/proj-1/secrets/pd-key/versions/latest")}
    assert spec.resources["a"].fields == {"token": "${secrets.tok}",
                                          "labels": {"url": "https://x/${secrets.pd}"}}


@pytest.mark.parametrize(("text", "error"), [
    ("secrets:\n  tok: xoxb-the-value\n", r"spec.yaml:5: secrets.tok: a secret names where its "
                                          r"value comes from, never the value"),
    ("secrets:\n  tok: {vault: x}\n", r"unknown source 'vault'"),
    ("secrets:\n  tok: {env: X, secretManager: y}\n", r"one source only"),
    ("secrets:\n  tok: {env: 'bad-name'}\n", r"secrets.tok.env: expected an environment variable"),
    ("secrets:\n  tok: {secretManager: projects/p/secrets/s}\n",
     r"secrets.tok.secretManager: expected projects/PROJECT/secrets/SECRET/versions/"),
    ("resources:\n  a:\n    kind: test.Thing\n    token: ${secrets.nope}\n",
     r"spec.yaml:7: resources.a.token: unknown secret '\$\{secrets.nope\}'"),
    ("secrets:\n  tok: {env: T}\nresources:\n  a:\n    kind: test.Thing\n    token: ${secrets.tk}\n",
     r"did you mean '\$\{secrets.tok\}'"),
    ("secrets:\n  tok: {env: T}\nresources:\n  a:\n    kind: test.Thing\n    name: ${secrets.tok}\n",
     r"resources.a.name: '\$\{secrets.tok\}' is a secret, which is not allowed here"),
    ("secrets:\n  tok: {env: T}\nresources: {}\noutputs:\n  o: ${secrets.tok}\n",
     r"outputs.o: '\$\{secrets.tok\}' is a secret"),
    ("secrets:\n  tok: {env: T}\nledger: {bucket: '${secrets.tok}'}\nresources: {}\n",
     r"ledger.bucket: '\$\{secrets.tok\}' is a secret"),
    ("resources:\n  secrets:\n    kind: test.Thing\n", r"'secrets' is reserved"),
    ("resources:\n  a:\n    kind: test.Thing\n    token: ${secrets.a.b}\n",
     r"is not a secret reference: use \$\{secrets.NAME\}"),
])
def test_mistakes_are_one_line_errors_naming_file_line_and_field(text: str, error: str) -> None:
    with pytest.raises(SpecError, match=error):
        _load(text if "resources" in text else text + "resources: {}\n")


def test_an_environment_replaces_a_secret_source_whole() -> None:
    text = ('secrets:\n  tok: {secretManager: projects/p/secrets/t/versions/3}\n'
            'resources: {}\nenvironments:\n  dev:\n    secrets:\n      tok: {env: DEV_TOK}\n'
            '  prod: {}\n')
    assert _load(text, env="dev").secrets["tok"] == SecretSource("tok", "env", "DEV_TOK")
    assert _load(text, env="prod").secrets["tok"].kind == "secretManager"


def test_every_item_of_a_for_each_keeps_the_reference() -> None:
    spec = _load('secrets:\n  tok: {env: T}\nresources:\n  a:\n    kind: test.Thing\n'
                 '    forEach: {alerts: "#alerts", pd: "${secrets.tok}"}\n'
                 '    token: ${secrets.tok}\n    labels: {ch: "${each.value}"}\n')
    assert {k: r.fields for k, r in spec.resources.items()} == {
        "a-alerts": {"token": "${secrets.tok}", "labels": {"ch": "#alerts"}},
        "a-pd": {"token": "${secrets.tok}", "labels": {"ch": "${secrets.tok}"}}}


@pytest.mark.parametrize(("each", "field", "error"), [
    ("[x, y]", "${secrets.tk}", r"spec.yaml:10: resources.a-x.token: unknown secret "
                                r"'\$\{secrets.tk\}' \(did you mean '\$\{secrets.tok\}'\?\)"),
    ("${secrets.tok}", "${secrets.tok}", r"spec.yaml:9: resources.a.forEach: forEach must be a "
                                         r"list of strings or a mapping"),
    ('["${secrets.tok}"]', "${each.value}", r"resources.a.forEach: forEach key "
                                            r"'\$\{secrets.tok\}' cannot end an address"),
])
def test_a_for_each_with_secrets_is_refused_where_it_would_name_or_miss_one(
        each: str, field: str, error: str) -> None:
    with pytest.raises(SpecError, match=error):
        _load(f'secrets:\n  tok: {{env: T}}\nresources:\n  a:\n    kind: test.Thing\n'
              f'    forEach: {each}\n    token: "{field}"\n')
