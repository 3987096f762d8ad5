"""The JSON copies of the specs (spec.py): shipped current, read only while they match their YAML."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from fakeserver.app import API_SPEC, CONTROL_SPEC
from fakeserver.spec import compile_spec, compiled_spec_path, read_spec_document, spec_path

YAML_SPEC = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"


@pytest.mark.parametrize("name", [API_SPEC, CONTROL_SPEC])
def test_the_package_ships_each_spec_with_its_current_json_copy(name: str) -> None:
    source = spec_path(name)
    compiled = compiled_spec_path(source)
    assert compiled.is_file(), f"{compiled} is missing: run `python scripts/compile_spec.py`"
    assert compiled.read_bytes() == compile_spec(source) + b"\n", (
        f"{compiled} was made from another version of {source.name}: run `python scripts/compile_spec.py`"
    )
    assert read_spec_document(source) == yaml.safe_load(source.read_text(encoding="utf-8"))


def test_a_current_copy_is_read_in_place_of_the_yaml(tmp_path: Path) -> None:
    source = tmp_path / "spec.yaml"
    source.write_text(YAML_SPEC, encoding="utf-8")
    copy = orjson.loads(compile_spec(source))
    copy["document"]["info"]["title"] = "from the copy"  # a copy that says where it was read from
    compiled_spec_path(source).write_bytes(orjson.dumps(copy))
    assert read_spec_document(source)["info"]["title"] == "from the copy"


@pytest.mark.parametrize(
    "copy",
    [
        None,  # no copy
        b"{not json",
        b"[]",
        orjson.dumps({"source_sha256": "0" * 64, "document": {"info": {"title": "stale"}}}),
    ],
)
def test_a_missing_broken_or_stale_copy_leaves_the_yaml_to_be_read(tmp_path: Path, copy: bytes | None) -> None:
    source = tmp_path / "spec.yaml"
    source.write_text(YAML_SPEC, encoding="utf-8")
    if copy is not None:
        compiled_spec_path(source).write_bytes(copy)
    assert read_spec_document(source) == yaml.safe_load(YAML_SPEC)


def test_a_copy_goes_stale_when_its_yaml_changes(tmp_path: Path) -> None:
    source = tmp_path / "spec.yaml"
    source.write_text(YAML_SPEC, encoding="utf-8")
    compiled_spec_path(source).write_bytes(compile_spec(source))
    source.write_text(YAML_SPEC.replace("title: t", "title: changed"), encoding="utf-8")
    assert read_spec_document(source)["info"]["title"] == "changed"


def test_a_copy_with_the_right_digest_but_no_document_leaves_the_yaml_to_be_read(tmp_path: Path) -> None:
    source = tmp_path / "spec.yaml"
    source.write_text(YAML_SPEC, encoding="utf-8")
    digest = orjson.loads(compile_spec(source))["source_sha256"]
    compiled_spec_path(source).write_bytes(orjson.dumps({"source_sha256": digest, "document": []}))
    assert read_spec_document(source) == yaml.safe_load(YAML_SPEC)
