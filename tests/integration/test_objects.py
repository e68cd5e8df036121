"""The object store contract, run against both adapters (a local folder and S3 on a moto server),
then what only S3 does: archive classes, restores, presigned POST (bucket set-up:
test_provisioning.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from core.config import Settings, load_settings
from core.errors import Archived, ErrorCode, NotFound, PermanentError, TransientError
from core.layout import IMMUTABLE_CACHE_CONTROL
from core.repository.objects import (
    LOCAL_OBJECTS_PATH,
    FolderStore,
    ObjectStore,
    PresignedUpload,
    S3Store,
    open_object_store,
)
from tests.harness.proxy import FaultProxy, free_port
from tests.harness.s3 import hold_restores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.harness.s3 import MakeSettings

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return open_object_store(settings)


def upload_with_presigned(store: ObjectStore, upload: PresignedUpload, data: bytes) -> None:
    """What a client does with a presigned upload. The folder store's URLs are served by the
    upload API; at this layer, check the signature as the API does and write through the store."""
    if isinstance(store, FolderStore):
        key, query = _local_request(upload.url)
        assert store.verify_signature(
            key, upload.method, query["expires"], query["signature"], query.get("max_bytes")
        )
        assert len(data) <= int(query["max_bytes"])
        store.put(key, data, upload.headers["Content-Type"])
        return
    if upload.method == "POST":
        content_type = upload.fields["Content-Type"]
        response = httpx.post(
            upload.url, data=upload.fields, files={"file": ("f", data, content_type)}
        )
        assert response.status_code in (200, 204), response.text
        return
    response = httpx.request(upload.method, upload.url, content=data, headers=upload.headers)
    assert response.status_code == 200, response.text


def download_with_presigned(store: ObjectStore, url: str) -> bytes:
    if isinstance(store, FolderStore):
        key, query = _local_request(url)
        assert query["method"] == "GET"
        assert store.verify_signature(key, "GET", query["expires"], query["signature"])
        return store.get(key)
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    return response.content


def _local_request(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    assert parts.path.startswith(LOCAL_OBJECTS_PATH)
    key = unquote(parts.path.removeprefix(LOCAL_OBJECTS_PATH))
    return key, {name: values[0] for name, values in parse_qs(parts.query).items()}


# --- the contract, both adapters -----------------------------------------------------------


def test_put_then_get_returns_the_bytes_and_head_describes_them(store: ObjectStore) -> None:
    store.put("manifests/abc.json", b'{"a": 1}', "application/json", cache_control="no-cache")

    assert store.get("manifests/abc.json") == b'{"a": 1}'
    info = store.head("manifests/abc.json")
    assert info.size == 8
    assert info.content_type == "application/json"
    assert info.cache_control == "no-cache"
    assert info.etag == hashlib.md5(b'{"a": 1}').hexdigest()
    assert info.storage_class == "STANDARD"
    assert info.restore is None
    assert info.readable
    assert info.last_modified is not None
    assert store.exists("manifests/abc.json")


def test_renditions_are_cached_as_immutable_unless_told_otherwise(store: ObjectStore) -> None:
    store.put("renditions/thumb/a.jpg", JPEG, "image/jpeg")

    assert store.head("renditions/thumb/a.jpg").cache_control == IMMUTABLE_CACHE_CONTROL


def test_a_second_put_replaces_the_object(store: ObjectStore) -> None:
    store.put("renditions/display/x.jpg", b"old bytes", "image/jpeg")
    store.put("renditions/display/x.jpg", JPEG, "image/jpeg")

    assert store.get("renditions/display/x.jpg") == JPEG
    assert store.head("renditions/display/x.jpg").size == len(JPEG)


def test_missing_key_is_not_found_for_get_head_and_restore(store: ObjectStore) -> None:
    with pytest.raises(NotFound):
        store.get("manifests/missing.json")
    with pytest.raises(NotFound):
        store.head("manifests/missing.json")
    with pytest.raises(NotFound):
        store.restore("manifests/missing.json", days=1)
    assert not store.exists("manifests/missing.json")


def test_a_folder_like_prefix_is_not_an_object(store: ObjectStore) -> None:
    store.put("renditions/thumb/a.jpg", JPEG, "image/jpeg")

    assert not store.exists("renditions/thumb")
    with pytest.raises(NotFound):
        store.get("renditions/thumb")


def test_delete_removes_the_object_and_deleting_again_is_no_error(store: ObjectStore) -> None:
    store.put("uploads/u1", JPEG, "image/jpeg")

    store.delete("uploads/u1")
    store.delete("uploads/u1")

    assert not store.exists("uploads/u1")


def test_keys_lists_what_was_put_under_a_prefix(store: ObjectStore) -> None:
    for key in ("renditions/thumb/b.jpg", "renditions/display/a.jpg", "manifests/a.json"):
        store.put(key, b"x", "application/octet-stream")

    assert store.keys("renditions/") == ["renditions/display/a.jpg", "renditions/thumb/b.jpg"]
    assert store.keys() == [
        "manifests/a.json",
        "renditions/display/a.jpg",
        "renditions/thumb/b.jpg",
    ]
    assert store.keys(limit=1) == ["manifests/a.json"]


def test_presigned_put_then_presigned_get_round_trip_the_bytes(store: ObjectStore) -> None:
    upload = store.presign_put("uploads/direct-1", "image/jpeg", max_bytes=1_000_000)
    assert upload.method == "PUT"
    assert upload.fields == {}

    upload_with_presigned(store, upload, JPEG)

    assert download_with_presigned(store, store.presign_get("uploads/direct-1")) == JPEG
    assert store.head("uploads/direct-1").content_type == "image/jpeg"


def test_presigned_upload_is_the_form_whose_size_bound_the_store_enforces(
    store: ObjectStore,
) -> None:
    upload = store.presign_upload("uploads/direct-2", "image/jpeg", max_bytes=len(JPEG))

    if isinstance(store, S3Store):
        assert (upload.method, upload.headers) == ("POST", {})
        policy = json.loads(base64.b64decode(upload.fields["policy"]))
        assert ["content-length-range", 1, len(JPEG)] in policy["conditions"]
    else:
        assert (upload.method, upload.fields) == ("PUT", {})
        assert _local_request(upload.url)[1]["max_bytes"] == str(len(JPEG))
    assert upload.expires_in == 900
    upload_with_presigned(store, upload, JPEG)
    assert store.get("uploads/direct-2") == JPEG
    assert store.presign_upload("uploads/direct-2", "image/jpeg", 1, expires_in=60).expires_in == 60


def test_presigned_urls_live_no_longer_than_the_configured_limit(store: ObjectStore) -> None:
    upload = store.presign_put("uploads/u2", "image/png", max_bytes=10, expires_in=3600)
    short = store.presign_put("uploads/u2", "image/png", max_bytes=10, expires_in=60)

    assert upload.expires_in == 900
    assert short.expires_in == 60
    query = parse_qs(urlsplit(store.presign_get("uploads/u2", expires_in=10_000)).query)
    if isinstance(store, S3Store):
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == ["900"]
    else:
        assert int(query["expires"][0]) <= time.time() + 900


def test_restore_of_an_object_that_is_not_archived_is_harmless(store: ObjectStore) -> None:
    store.put("renditions/thumb/c.jpg", JPEG, "image/jpeg")

    store.restore("renditions/thumb/c.jpg", days=1, tier="Standard")

    assert store.get("renditions/thumb/c.jpg") == JPEG


@pytest.mark.parametrize(
    "key",
    [
        "../outside.jpg",
        "renditions/../../outside.jpg",
        "renditions/..",
        "/etc/passwd",
        "C:/windows/win.ini",
        "renditions\\..\\outside.jpg",
        "renditions/a\x00.jpg",
        "renditions//a.jpg",
        "./a.jpg",
        "",
        "k" * 1025,
    ],
)
def test_keys_that_could_leave_the_store_are_refused_as_invalid_requests(
    store: ObjectStore, key: str
) -> None:
    for attempt in (
        lambda: store.put(key, b"x", "image/jpeg"),
        lambda: store.get(key),
        lambda: store.head(key),
        lambda: store.presign_get(key),
        lambda: store.presign_put(key, "image/jpeg", 10),
        lambda: store.presign_upload(key, "image/jpeg", 10),
        lambda: store.delete(key),
    ):
        with pytest.raises(PermanentError) as refused:
            attempt()
        assert refused.value.code is ErrorCode.INVALID_REQUEST


def test_ping_answers_on_a_working_store(store: ObjectStore) -> None:
    store.ping()


# --- the folder store ----------------------------------------------------------------------


def test_folder_signatures_expire_and_cannot_be_altered(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = FolderStore(tmp_path / "objects", signing_key=b"k" * 32, clock=lambda: now[0])
    key, query = _local_request(store.presign_put("uploads/u", "image/png", 100).url)
    expires, signature = query["expires"], query["signature"]

    assert store.verify_signature(key, "PUT", expires, signature, "100")
    assert not store.verify_signature(key, "PUT", expires, signature, "100000")
    assert not store.verify_signature(key, "GET", expires, signature, "100")
    assert not store.verify_signature("uploads/other", "PUT", expires, signature, "100")
    assert not store.verify_signature(key, "PUT", int(expires) + 60, signature, "100")
    assert not store.verify_signature(key, "PUT", expires, "0" * 64, "100")
    assert not store.verify_signature(key, "PUT", "soon", signature, "100")
    now[0] += 901
    assert not store.verify_signature(key, "PUT", expires, signature, "100")


def test_folder_stores_of_one_folder_share_a_private_signing_key(
    folder_settings: Settings,
) -> None:
    api_worker = open_object_store(folder_settings)
    cli = open_object_store(folder_settings)
    assert isinstance(api_worker, FolderStore) and isinstance(cli, FolderStore)
    api_worker.put("manifests/m.json", b"{}", "application/json")

    key, query = _local_request(cli.presign_get("manifests/m.json"))

    assert api_worker.verify_signature(key, "GET", query["expires"], query["signature"])
    assert stat.S_IMODE(api_worker.key_file.stat().st_mode) == 0o600
    assert not api_worker.key_file.is_relative_to(api_worker.root)


def test_folder_signing_key_from_settings_is_used_when_set(tmp_path: Path) -> None:
    settings = load_settings(storage_url=f"file://{tmp_path / 'o'}", signing_key="s" * 40)
    one, other = open_object_store(settings), FolderStore(tmp_path / "o", signing_key=b"t" * 40)
    assert isinstance(one, FolderStore)
    key, query = _local_request(one.presign_get("manifests/m.json"))

    assert one.verify_signature(key, "GET", query["expires"], query["signature"])
    assert not other.verify_signature(key, "GET", query["expires"], query["signature"])
    assert not one.key_file.exists()


def test_folder_readers_see_whole_objects_while_writers_replace_them(
    folder_settings: Settings,
) -> None:
    store = open_object_store(folder_settings)
    versions = [bytes([n]) * 200_000 for n in range(4)]
    store.put("renditions/display/hot.jpg", versions[0], "image/jpeg")
    seen: set[bytes] = set()
    done = threading.Event()

    def write(data: bytes) -> None:
        for _ in range(15):
            store.put("renditions/display/hot.jpg", data, "image/jpeg")

    def read() -> None:
        while not done.is_set():
            seen.add(store.get("renditions/display/hot.jpg"))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(v,)) for v in versions]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()

    assert seen <= set(versions)
    assert isinstance(store, FolderStore)
    leftovers = [p for p in store.root.rglob("*") if p.is_file()]
    assert {p.name for p in leftovers} == {"hot.jpg", "hot.jpg.json"}


def test_folder_store_refuses_a_symlink_that_leads_outside(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key.pem").write_bytes(b"private")
    store = FolderStore(tmp_path / "objects", signing_key=b"k" * 32)
    store.root.mkdir()
    (store.root / "renditions").symlink_to(outside)

    with pytest.raises(PermanentError) as refused:
        store.get("renditions/key.pem")
    assert refused.value.code is ErrorCode.INVALID_REQUEST


def test_folder_store_refuses_keys_naming_its_own_hidden_files(folder_settings: Settings) -> None:
    store = open_object_store(folder_settings)
    store.put("manifests/a.json", b"{}", "application/json")

    with pytest.raises(PermanentError):
        store.get(".meta/manifests/a.json.json")
    assert store.keys() == ["manifests/a.json"]


def test_relative_folder_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_object_store(load_settings(storage_url="file://.imgpipe/objects"))

    store.put("manifests/a.json", b"{}", "application/json")

    assert (tmp_path / ".imgpipe" / "objects" / "manifests" / "a.json").read_bytes() == b"{}"
    store.presign_get("manifests/a.json")
    assert (tmp_path / ".imgpipe" / "signing.key").exists()


def test_folder_that_cannot_be_written_is_a_transient_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_bytes(b"")
    store = FolderStore(tmp_path / "not-a-dir" / "objects", signing_key=b"k" * 32)

    with pytest.raises(TransientError):
        store.ping()
    with pytest.raises(TransientError):
        store.put("manifests/a.json", b"{}", "application/json")


# --- S3 only: archive classes and restores -------------------------------------------------


def _archive(s3_client: S3Client, bucket: str, key: str, data: bytes) -> None:
    s3_client.put_object(Bucket=bucket, Key=key, Body=data, StorageClass="DEEP_ARCHIVE")


def test_head_of_a_deep_archive_object_reports_its_class_and_no_restore(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    _archive(s3_client, s3_bucket, "renditions/display/old.jpg", JPEG)
    store = open_object_store(s3_settings)

    info = store.head("renditions/display/old.jpg")

    assert info.storage_class == "DEEP_ARCHIVE"
    assert info.archived and not info.readable
    assert info.restore is not None
    assert info.restore.ongoing is None
    assert info.size == len(JPEG)


def test_get_of_an_archived_object_raises_archived_with_its_restore_state(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    _archive(s3_client, s3_bucket, "renditions/display/old.jpg", JPEG)
    store = open_object_store(s3_settings)

    with pytest.raises(Archived) as archived:
        store.get("renditions/display/old.jpg")

    assert archived.value.key == "renditions/display/old.jpg"
    assert archived.value.state.storage_class == "DEEP_ARCHIVE"
    assert not archived.value.state.readable


def test_restored_archive_object_can_be_read_until_its_expiry(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    # moto completes restores at once; S3 takes hours (Bulk) and keeps ongoing-request="true".
    _archive(s3_client, s3_bucket, "renditions/display/old.jpg", JPEG)
    store = open_object_store(s3_settings)

    store.restore("renditions/display/old.jpg", days=2, tier="Bulk")
    store.restore("renditions/display/old.jpg", days=2, tier="Bulk")

    info = store.head("renditions/display/old.jpg")
    assert info.storage_class == "DEEP_ARCHIVE"
    assert info.restore is not None and info.restore.ongoing is False
    assert info.restore.expiry and info.restore.expiry.endswith("GMT")
    assert info.readable
    assert store.get("renditions/display/old.jpg") == JPEG


def test_restore_still_running_keeps_the_object_archived(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str, s3_endpoint: str
) -> None:
    _archive(s3_client, s3_bucket, "renditions/display/old.jpg", JPEG)
    hold_restores(s3_endpoint)
    store = open_object_store(s3_settings)

    store.restore("renditions/display/old.jpg", days=1, tier="Standard")
    store.restore("renditions/display/old.jpg", days=1, tier="Standard")

    info = store.head("renditions/display/old.jpg")
    assert info.restore is not None and info.restore.ongoing is True
    assert not info.readable
    with pytest.raises(Archived) as archived:
        store.get("renditions/display/old.jpg")
    assert archived.value.state.ongoing is True


def test_s3_put_requests_server_side_encryption(s3_settings: Settings) -> None:
    store = open_object_store(s3_settings)
    store.put("renditions/thumb/a.jpg", JPEG, "image/jpeg")

    assert store.head("renditions/thumb/a.jpg").encryption == "AES256"


def test_s3_prefix_keeps_keys_under_it(
    make_settings: MakeSettings, s3_client: S3Client, s3_bucket: str
) -> None:
    store = open_object_store(make_settings(prefix="/tenant-a/"))
    store.put("manifests/a.json", b"{}", "application/json")

    listed = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["tenant-a/manifests/a.json"]
    assert store.keys() == ["manifests/a.json"]


def test_presigned_post_states_size_and_type_bounds_and_uploads(s3_settings: Settings) -> None:
    store = open_object_store(s3_settings)
    assert isinstance(store, S3Store)

    upload = store.presign_post("uploads/form-1", "image/jpeg", max_bytes=5_000_000)
    response = httpx.post(
        upload.url, data=upload.fields, files={"file": ("a.jpg", JPEG, "image/jpeg")}
    )

    assert response.status_code in (200, 204), response.text
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    assert ["content-length-range", 1, 5_000_000] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert store.get("uploads/form-1") == JPEG


# --- S3 only: faults -----------------------------------------------------------------------


def test_a_bucket_that_does_not_exist_is_a_transient_error(make_settings: MakeSettings) -> None:
    store = open_object_store(make_settings(storage_url="s3://imgpipe-no-such-bucket"))

    with pytest.raises(TransientError):
        store.ping()
    with pytest.raises(TransientError):
        store.put("manifests/a.json", b"{}", "application/json")


@pytest.mark.timeout(60)
def test_nothing_listening_is_a_transient_error(make_settings: MakeSettings) -> None:
    store = open_object_store(make_settings(s3_endpoint_url=f"http://127.0.0.1:{free_port()}"))

    with pytest.raises(TransientError):
        store.get("manifests/a.json")


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_storage_cut_mid_run_is_a_transient_error_and_recovers(
    make_settings: MakeSettings, s3_proxy: FaultProxy
) -> None:
    store = open_object_store(make_settings(s3_endpoint_url=f"http://{s3_proxy.address}"))
    store.put("manifests/a.json", b"{}", "application/json")

    with s3_proxy.down():
        for attempt in (
            lambda: store.get("manifests/a.json"),
            lambda: store.put("manifests/b.json", b"{}", "application/json"),
            lambda: store.head("manifests/a.json"),
            store.ping,
        ):
            with pytest.raises(TransientError):
                attempt()

    assert store.get("manifests/a.json") == b"{}"


def test_no_boto3_import_until_a_store_is_used() -> None:
    code = "import sys, core.repository.objects as o;o.S3Store('b');print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert result.stdout.strip() == "False"


def test_as_many_threads_as_ingest_workers_reuse_their_s3_connections(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    workers = 16  # over botocore's default pool of 10 connections
    store = open_object_store(make_settings(ingest_workers=workers))
    barrier = threading.Barrier(workers)

    def put_twice(i: int) -> None:
        for round_ in range(2):
            barrier.wait()
            store.put(f"renditions/thumb/{i}-{round_}.jpg", JPEG, "image/jpeg")

    caplog.set_level("WARNING", logger="urllib3.connectionpool")
    threads = [threading.Thread(target=put_twice, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(store.keys("renditions/")) == 2 * workers
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
