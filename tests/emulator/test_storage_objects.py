"""Cloud Storage objects through the real client: generations, preconditions, listing."""

from __future__ import annotations

import base64

import pytest
from google.api_core import exceptions as gexc
from google.cloud import storage

from mlops_infra.emulator import Emulator
from tests.emulator.support import gcs, raw


@pytest.fixture
def bucket(emulator: Emulator) -> storage.Bucket:
    return gcs(emulator).create_bucket("objects-bucket", retry=None)


def test_create_only_if_absent_then_compare_and_swap(bucket: storage.Bucket) -> None:
    blob = bucket.blob("stacks/dev.json")
    blob.upload_from_string(b'{"v": 1}', if_generation_match=0, retry=None)
    first = blob.generation
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob("stacks/dev.json").upload_from_string(b"lost", if_generation_match=0,
                                                         retry=None)
    blob.upload_from_string(b'{"v": 2}', if_generation_match=first, retry=None)
    assert blob.generation > first
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob("stacks/dev.json").upload_from_string(b"stale", if_generation_match=first,
                                                         retry=None)
    assert bucket.blob("stacks/dev.json").download_as_bytes(retry=None) == b'{"v": 2}'


def test_generations_increase_across_objects(bucket: storage.Bucket) -> None:
    generations = []
    for i in range(5):
        blob = bucket.blob(f"o{i}")
        blob.upload_from_string(b"x", retry=None)
        generations.append(blob.generation)
    assert generations == sorted(generations) and len(set(generations)) == 5


def test_download_honours_generation_preconditions(bucket: storage.Bucket) -> None:
    blob = bucket.blob("data.bin")
    blob.upload_from_string(b"\x00\x01payload\r\n", retry=None)
    fresh = bucket.blob("data.bin")
    assert fresh.download_as_bytes(if_generation_match=blob.generation, retry=None) == \
        b"\x00\x01payload\r\n"
    assert fresh.generation == blob.generation    # read from x-goog-generation
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob("data.bin").download_as_bytes(if_generation_match=blob.generation + 1,
                                                  retry=None)
    with pytest.raises(gexc.NotFound):
        bucket.blob("missing").download_as_bytes(retry=None)


def test_reload_and_metadata_fields(bucket: storage.Bucket) -> None:
    blob = bucket.blob("dir/sub/ü name.json")
    blob.metadata = {"owner": "me"}
    blob.upload_from_string(b"{}", content_type="application/json", retry=None)
    got = bucket.get_blob("dir/sub/ü name.json", retry=None)
    assert got is not None
    assert got.content_type == "application/json" and got.size == 2
    assert got.metadata == {"owner": "me"} and got.metageneration == 1
    assert got.md5_hash == base64.b64encode(__import__("hashlib").md5(b"{}").digest()).decode()
    got.reload(retry=None)
    assert got.generation == blob.generation


def test_patch_metadata_with_preconditions(bucket: storage.Bucket) -> None:
    blob = bucket.blob("meta")
    blob.metadata = {"a": "1", "b": "2"}
    blob.upload_from_string(b"x", retry=None)
    blob.metadata = {"a": "1", "b": None, "c": "3"}
    with pytest.raises(gexc.PreconditionFailed):
        blob.patch(if_metageneration_match=5, retry=None)
    blob.patch(if_generation_match=blob.generation, if_metageneration_match=1, retry=None)
    assert blob.metadata == {"a": "1", "c": "3"} and blob.metageneration == 2


def test_delete_with_generation_match(bucket: storage.Bucket) -> None:
    blob = bucket.blob("lock")
    blob.upload_from_string(b"held", if_generation_match=0, retry=None)
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob("lock").delete(if_generation_match=blob.generation + 1, retry=None)
    bucket.blob("lock").delete(if_generation_match=blob.generation, retry=None)
    with pytest.raises(gexc.NotFound):
        bucket.blob("lock").delete(retry=None)


def test_list_pages_prefix_and_delimiter(bucket: storage.Bucket) -> None:
    names = ["a/1", "a/2", "a/b/3", "b/1", "c"]
    for name in names:
        bucket.blob(name).upload_from_string(name.encode(), retry=None)
    assert [b.name for b in bucket.list_blobs(page_size=2, retry=None)] == names
    pages = list(bucket.list_blobs(page_size=2, retry=None).pages)
    assert [len(list(p)) for p in pages] == [2, 2, 1]
    assert [b.name for b in bucket.list_blobs(prefix="a/", retry=None)] == ["a/1", "a/2", "a/b/3"]
    iterator = bucket.list_blobs(prefix="a/", delimiter="/", retry=None)
    assert [b.name for b in iterator] == ["a/1", "a/2"]
    assert iterator.prefixes == {"a/b/"}


def test_versioned_bucket_keeps_noncurrent_generations(emulator: Emulator) -> None:
    client = gcs(emulator)
    versioned = client.bucket("versioned-bucket")
    versioned.versioning_enabled = True
    versioned = client.create_bucket(versioned, retry=None)
    blob = versioned.blob("ledger.json")
    blob.upload_from_string(b"one", retry=None)
    old = blob.generation
    blob.upload_from_string(b"two", retry=None)
    assert versioned.blob("ledger.json", generation=old).download_as_bytes(retry=None) == b"one"
    versioned.blob("ledger.json").delete(retry=None)         # live -> noncurrent
    assert [b.name for b in versioned.list_blobs(retry=None)] == []
    history = [b.generation for b in versioned.list_blobs(versions=True, retry=None)]
    assert len(history) == 2 and old in history
    with pytest.raises(gexc.Conflict):
        versioned.delete(retry=None)


def test_media_upload_and_checksum_mismatch(emulator: Emulator, bucket: storage.Bucket) -> None:
    response = raw(emulator, "storage", "POST", "/upload/storage/v1/b/objects-bucket/o",
                   params={"uploadType": "media", "name": "raw.txt", "ifGenerationMatch": "0"},
                   data=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200 and response.json()["size"] == "5"
    media = raw(emulator, "storage", "GET", "/storage/v1/b/objects-bucket/o/raw.txt",
                params={"alt": "media"})
    assert media.content == b"hello"
    assert media.headers["x-goog-generation"] == response.json()["generation"]
    assert "crc32c=" in media.headers["x-goog-hash"]
    bad = bucket.blob("bad")
    bad.crc32c = "AAAAAA=="
    multipart_body = (b"--B\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n"
                      b'{"name": "bad", "crc32c": "AAAAAA=="}\r\n--B\r\n'
                      b"content-type: text/plain\r\n\r\nzzz\r\n--B--")
    response = raw(emulator, "storage", "POST", "/upload/storage/v1/b/objects-bucket/o",
                   params={"uploadType": "multipart"}, data=multipart_body,
                   headers={"Content-Type": 'multipart/related; boundary="B"'})
    assert response.status_code == 400


def test_upload_to_missing_bucket_is_404(emulator: Emulator) -> None:
    with pytest.raises(gexc.NotFound):
        gcs(emulator).bucket("nowhere").blob("x").upload_from_string(b"x", retry=None)
