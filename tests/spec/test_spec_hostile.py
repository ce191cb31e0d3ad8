"""Hostile or odd spec files: each fails with one located line, fast and in bounded memory.

Memory is measured with tracemalloc; the bounds asserted are tens of megabytes, where an
implementation without budgets would need gigabytes to terabytes (or never finish).
"""

from __future__ import annotations

import codecs
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_infra.engine.errors import SpecError
from mlops_infra.spec import load_spec, load_spec_text
from mlops_infra.spec.limits import (
    MAX_ALIAS_NODES,
    MAX_FILE_BYTES,
    MAX_STRING,
    MAX_VAR_CHAIN,
    MAX_VAR_NODES,
    MAX_YAML_NODES,
)
from mlops_infra.spec.yaml_source import parse_yaml

HEAD = "apiVersion: mlops-infra/v1\nstack: demo\nproject: p\n"
GOOD = HEAD + "resources:\n  a:\n    kind: test.Bucket\n    location: EU\n"
MB = 1024 * 1024


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_bytes(data)
    return path


def _file_error(tmp_path: Path, data: bytes, kinds) -> SpecError:
    path = _write(tmp_path, data)
    with pytest.raises(SpecError) as info:
        load_spec(path, kinds=kinds)
    err = info.value
    assert "\n" not in str(err) and len(str(err)) < 600, str(err)[:1000]
    assert err.location is not None and err.location.file == str(path)
    assert str(err).startswith(str(path))
    return err


def _text_error(text: str, kinds) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, filename="s.yaml", kinds=kinds)
    err = info.value
    assert "\n" not in str(err) and len(str(err)) < 600, str(err)[:1000]
    assert str(err).startswith("s.yaml")
    return err


def _peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- encodings and binary files -----------------------------------------------------------

def test_utf8_bom_is_accepted_and_lines_are_unchanged(tmp_path, kinds):
    spec = load_spec(_write(tmp_path, codecs.BOM_UTF8 + GOOD.encode()), kinds=kinds)
    assert spec.stack == "demo" and spec.resources["a"].location.line == 5
    assert load_spec_text("\ufeff" + GOOD, filename="s.yaml", kinds=kinds).stack == "demo"


def test_invalid_utf8_names_line_column_and_byte(tmp_path, kinds):
    data = GOOD.replace("location: EU", "location: Z\xfcrich").encode("latin-1")
    err = _file_error(tmp_path, data, kinds)
    assert err.location.line == 7
    assert "not valid UTF-8: byte 0xfc at column 16" in str(err)
    assert "save the file as UTF-8" in str(err)


@pytest.mark.parametrize("encoding,bom,name", [
    ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16"), ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16"),
    ("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32"), ("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32"),
])
def test_wide_encodings_with_bom_are_refused(tmp_path, kinds, encoding, bom, name):
    err = _file_error(tmp_path, bom + GOOD.encode(encoding), kinds)
    assert f"{name} encoded" in str(err) and "save the file as UTF-8" in str(err)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised(tmp_path, kinds, encoding):
    err = _file_error(tmp_path, GOOD.encode(encoding), kinds)
    assert f"looks {encoding.upper()} encoded" in str(err)


def test_binary_file_is_refused_at_its_first_nul(tmp_path, kinds):
    data = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64)
    err = _file_error(tmp_path, data, kinds)
    assert "NUL byte" in str(err) and "binary file" in str(err)
    assert err.location.line == 3            # after the PNG signature's two line breaks


def test_control_character_is_located(kinds):
    err = _text_error(GOOD.replace("EU", "E\x07U"), kinds)
    assert err.location.line == 7 and "unacceptable character U+0007 at column 16" in str(err)


def test_nul_in_text_is_located(kinds):
    err = _text_error(GOOD.replace("EU", "E\x00U"), kinds)
    assert err.location.line == 7 and "U+0000" in str(err)


def test_lone_surrogate_in_text_is_located(kinds):
    err = _text_error(GOOD.replace("EU", "E\ud800U"), kinds)
    assert err.location.line == 7 and "U+D800 at column 16" in str(err)


def test_directory_is_a_spec_error(tmp_path, kinds):
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path, kinds=kinds)


# --- size -----------------------------------------------------------------------------------

def test_file_over_the_size_limit_is_refused_unread(tmp_path, kinds):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(GOOD.encode())
        handle.truncate(MAX_FILE_BYTES + 1)           # sparse: cheap to make
    with pytest.raises(SpecError) as info:
        load_spec(path, kinds=kinds)
    err = info.value
    assert str(err) == (f"{path}: the file is too large for a spec "
                        f"({MAX_FILE_BYTES + 1:,} bytes; the limit is 10 MB)")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_is_refused_after_the_limit(kinds):
    assert _peak_bytes(lambda: pytest.raises(SpecError, load_spec, "/dev/zero",
                                             kinds=kinds)) < 3 * MAX_FILE_BYTES


def test_text_over_the_size_limit_is_refused(kinds):
    err = _text_error(GOOD + "#" * MAX_FILE_BYTES, kinds)
    assert "too large for a spec" in str(err)


def test_too_many_values_are_refused_while_composing(kinds):
    text = HEAD + "vars:\n  v: [" + ",".join(["1"] * MAX_YAML_NODES) + "]\nresources: {}\n"
    err = _text_error(text, kinds)
    assert f"more than {MAX_YAML_NODES} values" in str(err) and err.location.line == 5


# --- long lines -----------------------------------------------------------------------------

def test_long_valid_line_loads(kinds):
    text = HEAD + f"resources:\n  a:\n    kind: test.Bucket\n    location: {'x' * 5 * MB}\n"
    assert len(load_spec_text(text, filename="s.yaml", kinds=kinds)
               .resources["a"].fields["location"]) == 5 * MB


@pytest.mark.parametrize("text,line,fragment", [
    ("apiVersion: " + "v" * MB + "\nstack: demo\nresources: {}\n", 1, "must be 'mlops-infra/v1'"),
    ("apiVersion: mlops-infra/v1\nstack: " + "s" * MB + "\nresources: {}\n", 2,
     "invalid stack name"),
    (HEAD + "resources:\n  a:\n    kind: " + "k" * MB + "\n", 6, "unknown kind"),
    (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    ? " + "f" * MB + "\n    : 1\n", 7,
     "unknown field"),
    (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    " + "f" * MB + ": 1\n", 7,
     "invalid YAML"),                                   # YAML's own limit on plain keys
    (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    location: ${vars." + "v" * MB + "}\n",
     7, "unknown variable"),
    (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    location: ${" + "v" * MB + ".url}\n",
     7, "unknown resource"),
    (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    location: ${" + "v " * MB + "}\n",
     7, "malformed reference"),
    (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    retentionDays: " + "9x" * MB + "\n",
     7, "valid integer"),
    (HEAD + "resources: {a: {kind: test.Bucket, " + "q" * MB + ": [1, 2}}\n", 4,
     "invalid YAML"),
])
def test_megabyte_values_give_short_messages(kinds, text, line, fragment):
    err = _text_error(text, kinds)
    assert err.location.line == line and fragment in str(err), str(err)


# --- alias and merge bombs ------------------------------------------------------------------

LAUGHS = (HEAD + "vars:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
          + "".join(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))
          + "resources: {}\n")


def test_billion_laughs_is_refused_in_bounded_memory(kinds):
    errors: list[SpecError] = []

    def load() -> None:
        with pytest.raises(SpecError) as info:
            load_spec_text(LAUGHS, filename="s.yaml", kinds=kinds)
        errors.append(info.value)

    peak = _peak_bytes(load)
    assert peak < 64 * MB                       # unbounded: 10**9 nodes, hundreds of GB
    err = errors[0]
    assert f"expand to more than {MAX_ALIAS_NODES} values" in str(err)
    assert err.field == "vars.l4.7" and err.location.line == 9   # the alias that tipped it


def test_merge_keys_of_merge_keys_do_not_multiply(kinds):
    levels = "".join(f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: {i}}}\n"
                     for i in range(1, 41))
    data, _ = parse_yaml("vars:\n  m0: &m0 {k0: 0}\n" + levels, filename="s.yaml")
    assert data["vars"]["m40"] == {f"k{i}": i for i in range(41)}


def test_merge_bomb_with_wide_merges_is_refused(kinds):
    keys = ", ".join(f"k{i}: {i}" for i in range(1000))
    wide = ", ".join(["*w"] * 200)
    text = f"w: &w {{{keys}}}\n" + "".join(f"x{i}: {{<<: [{wide}]}}\n" for i in range(10))
    with pytest.raises(SpecError, match="alias bomb"):
        parse_yaml(text, filename="s.yaml")


def test_aliases_nesting_too_deep_are_refused():
    levels = ["d0: &d0 " + "[" * 60 + "x" + "]" * 60]
    levels += [f"d{i}: &d{i} " + "[" * 60 + f"*d{i - 1}" + "]" * 60 for i in range(1, 4)]
    with pytest.raises(SpecError, match="nest deeper than 100 levels") as info:
        parse_yaml("\n".join(levels) + "\n", filename="s.yaml")
    assert info.value.location.line == 2


# --- variable bombs -------------------------------------------------------------------------

DOUBLING = ("vars:\n  a0: x\n" + "".join(f"  a{i}: ${{vars.a{i - 1}}}${{vars.a{i - 1}}}\n"
                                         for i in range(1, 41)))


@pytest.mark.parametrize("order", ["file", "reverse"])
def test_vars_doubling_bomb_is_refused_in_bounded_memory(kinds, order):
    use = "{}" if order == "file" else "{b: {kind: test.Bucket, location: '${vars.a40}'}}"
    text = HEAD + DOUBLING + f"resources: {use}\n"
    errors: list[SpecError] = []

    def load() -> None:
        with pytest.raises(SpecError) as info:
            load_spec_text(text, filename="s.yaml", kinds=kinds)
        errors.append(info.value)

    assert _peak_bytes(load) < 16 * MB          # unbounded: 2**40 characters (a terabyte)
    err = errors[0]
    assert "\n" not in str(err)
    if order == "file":
        assert err.field == "vars.a21" and f"longer than {MAX_STRING} characters" in str(err)
    else:
        assert f"more than {MAX_VAR_CHAIN} levels" in str(err)


def test_vars_list_doubling_bomb_is_refused(kinds):
    text = HEAD + "vars:\n  m0: [x]\n" + "".join(
        f"  m{i}: ['${{vars.m{i - 1}}}', '${{vars.m{i - 1}}}']\n" for i in range(1, 41))
    text += "resources: {}\n"
    peak = _peak_bytes(lambda: pytest.raises(SpecError, load_spec_text, text,
                                             filename="s.yaml", kinds=kinds))
    assert peak < 16 * MB
    err = _text_error(text, kinds)
    assert f"insert more than {MAX_VAR_NODES} values" in str(err)


def test_total_interpolated_text_is_bounded(kinds):
    text = HEAD + DOUBLING.split("  a21")[0] + "resources:\n  b:\n    kind: test.Bucket\n"
    text += "    tags: [" + ", ".join(["'${vars.a19}y'"] * 40) + "]\n"   # 40 x 512 KB
    err = _text_error(text, kinds)
    assert "characters of text in this spec" in str(err)
    assert err.field.startswith("resources.b.tags.")


def test_long_variable_chain_is_refused_whatever_the_order(kinds):
    chain = "".join(f"  v{i}: ${{vars.v{i + 1}}}-\n" for i in range(MAX_VAR_CHAIN + 5))
    text = HEAD + "vars:\n" + chain + f"  v{MAX_VAR_CHAIN + 5}: end\nresources: {{}}\n"
    assert f"more than {MAX_VAR_CHAIN} levels" in str(_text_error(text, kinds))
    forward = "".join(f"  w{i + 1}: ${{vars.w{i}}}-\n" for i in range(MAX_VAR_CHAIN + 5))
    text = HEAD + "vars:\n  w0: start\n" + forward + "resources: {}\n"
    assert f"more than {MAX_VAR_CHAIN} levels" in str(_text_error(text, kinds))


def test_a_variable_chain_within_the_limit_loads(kinds):
    forward = "".join(f"  w{i + 1}: ${{vars.w{i}}}-\n" for i in range(MAX_VAR_CHAIN - 1))
    spec = load_spec_text(HEAD + "vars:\n  w0: s\n" + forward + "resources: {}\n",
                          filename="s.yaml", kinds=kinds)
    assert spec.vars[f"w{MAX_VAR_CHAIN - 1}"] == "s" + "-" * (MAX_VAR_CHAIN - 1)


def test_nested_mapping_variables_nest_too_deep(kinds):
    chain = "".join(f"  n{i}: {{a: {{b: {{c: {{d: '${{vars.n{i - 1}}}'}}}}}}}}\n"
                    for i in range(1, 31))
    text = HEAD + "vars:\n  n0: x\n" + chain + "resources: {}\n"
    assert "nest deeper than 100 levels" in str(_text_error(text, kinds))


# --- deep nesting ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    "a: " + "[" * 150 + "]" * 150,
    "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "x\n",
])
def test_deep_nesting_is_refused(kinds, text):
    err = _text_error(text, kinds)
    assert "nest" in str(err) and err.location.line is not None


# --- agreement with PyYAML on ordinary documents ---------------------------------------------

@pytest.mark.parametrize("text", [
    "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n",
    "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], w: 0}\nd: {<<: [*b, *a]}\n",
    "a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: *a\n  <<: *b\n",
    "s: &s hello\nl: [*s, *s, {k: *s}]\nt: !!str 12\nf: 1.5\nn: ~\nb: yes\n",
    "a: {<<: &m {<<: &n {x: 1}, y: 2}}\nb: *m\nc: *n\n",
])
def test_same_data_as_pyyaml(text):
    assert parse_yaml(text, filename="s.yaml")[0] == yaml.safe_load(text)


def test_alias_item_line_is_where_the_alias_is_written():
    _, lines = parse_yaml("a: &a {x: 1}\nb:\n  - 0\n  - *a\n", filename="s.yaml")
    assert lines.lines["b.1"] == 4 and lines.lines["b.1.x"] == 1


def test_recursive_alias_is_located_at_the_alias():
    with pytest.raises(SpecError, match="recursive alias") as info:
        parse_yaml("a: &x\n  - 1\n  - *x\n", filename="s.yaml")
    assert info.value.location.line == 3
