"""DELETE /v1/images/{id}: the image and every stored trace of it go, with a receipt; the
warehouse follows at the next load; other images stay; the same bytes upload again as new. On
the embedded defaults (SQLite, a folder) and on PostgreSQL + moto S3."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from core.bootstrap import Context, build_context
from core.config import Settings
from core.erasure_seal import SealReport, seal_erasures
from core.errors import ErrorCode, TransientError
from core.events.publisher import Publisher
from core.loader import load_once
from core.models import utcnow
from services.stream_worker.deadletter import BucketDeadLetters, DeadLetter
from services.stream_worker.records import KafkaRecord
from services.upload_api.app import create_app
from tests.api.test_uploads import send
from tests.harness.app import headers_for, loaded
from tests.integration.test_event_log import Collecting

ACME = headers_for("acme")
GLOBEX = headers_for("globex")
OPS = headers_for("ops")
DATA = Path(__file__).resolve().parents[1] / "data" / "images"
CAMERA = (DATA / "camera-metadata.jpg").read_bytes()
CAMERA_EDITED = (DATA / "camera-metadata-edited.jpg").read_bytes()  # same picture, other EXIF
PLAIN_PNG = (DATA / "plain.png").read_bytes()


def post(
    client: TestClient, data: bytes, headers: dict[str, str] = ACME, key: str | None = None
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        "/v1/images", files={"file": ("photo", data, "image/jpeg")}, headers={**headers, **extra}
    )


def ctx_of(client: TestClient) -> Any:
    return client.app.state.ctx  # type: ignore[attr-defined]


def rows(client: TestClient, sql: str, **params: Any) -> list[dict[str, Any]]:
    engine = loaded(client).app.state.ctx.warehouse.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


# --- what storage holds, read as raw as each store allows ---------------------------------


def stored_objects(client: TestClient) -> Iterator[tuple[str, bytes]]:
    """Every object's name and bytes: on a folder every file, hidden ones (the store's own
    metadata, temporary files) included; on S3 every version of every key, and the bucket
    must keep no noncurrent versions."""
    objects = ctx_of(client).objects
    if hasattr(objects, "root"):
        for dirpath, _dirs, files in os.walk(objects.root):
            for name in files:
                path = Path(dirpath) / name
                yield str(path.relative_to(objects.root)), path.read_bytes()
        return
    s3, bucket = objects.client, objects.bucket
    versions = s3.list_object_versions(Bucket=bucket)
    assert not versions.get("DeleteMarkers")
    for version in versions.get("Versions", []):
        body = s3.get_object(Bucket=bucket, Key=version["Key"])["Body"].read()
        yield version["Key"], body


def texts_of(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """The bytes, opened: gzip unpacked, base64 strings of JSON decoded (records keep bodies
    and Kafka values so)."""
    yield data
    if depth > 3:
        return
    if data[:2] == b"\x1f\x8b":
        yield from texts_of(gzip.decompress(data), depth + 1)
        return
    try:
        doc = json.loads(data)
    except ValueError:
        return
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) >= 8:
            try:
                decoded = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                continue
            yield from texts_of(decoded, depth + 1)


def traces_of(client: TestClient, image: dict[str, Any], source: bytes) -> list[str]:
    """Objects that name the image (id or sha256) in their key or content, or hold its bytes;
    the erasure fact, which names the id alone, is told apart as `erasure-fact:KEY`."""
    import hashlib

    needles = [image["id"].encode(), image["sha256"].encode()]
    found = []
    for key, data in stored_objects(client):
        opened = list(texts_of(data))
        named = any(n in key.encode() for n in needles) or any(
            n in text for n in needles for text in opened
        )
        if any(hashlib.sha256(text).hexdigest() == image["sha256"] for text in opened):
            named = True
        assert source not in data or named
        if not named:
            continue
        lines = [json.loads(line) for line in opened[-1].splitlines()] if key.endswith("gz") else []
        if lines and all(line["kind"] == "erasure" for line in lines):
            assert image["sha256"].encode() not in opened[-1]
            found.append(f"erasure-fact:{key}")
        else:
            found.append(key)
    return found


@pytest.fixture
def admin_client(backend_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    ctx = build_context(backend_settings(admin_customers=["ops"]))
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as test_client:
        yield test_client
    ctx.close()


def test_erasing_an_image_leaves_no_trace_of_it_and_the_same_bytes_upload_again_as_new(
    client: TestClient,
) -> None:
    image = post(client, CAMERA, key="first-try").json()
    other = post(client, PLAIN_PNG).json()
    assert post(client, CAMERA).json()["duplicate"] is True  # a second event naming it
    assert post(client, CAMERA_EDITED).json()["duplicate_of"] == image["id"]  # content match
    ctx = ctx_of(client)
    # A refused stream record carrying the same bytes, in the bucket's dead letters.
    record = KafkaRecord("images", 0, 7, value=CAMERA, headers=(("customer-id", b"acme"),))
    BucketDeadLetters(ctx.objects).send(
        [DeadLetter(record, ErrorCode.TOO_LARGE, "too large", "images:0:7", "acme")]
    )
    assert rows(client, "SELECT image_id FROM images WHERE image_id = :i", i=image["id"])
    before = traces_of(client, image, CAMERA)  # the scan finds what there is to find
    for prefix in ("manifests/", "renditions/", "facts/", "idempotency/", "dead-letter/"):
        assert any(prefix in key for key in before), (prefix, before)

    erased = client.delete(f"/v1/images/{image['id']}", headers=ACME)

    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt["image_id"] == image["id"] and receipt["customer_id"] == "acme"
    removed = receipt["removed"]
    assert removed["objects"]["manifest"] == [f"manifests/{image['id']}.json"]
    assert len(removed["objects"]["renditions"]) == len(image["renditions"])
    assert len(removed["objects"]["content_index"]) == 1
    assert len(removed["objects"]["idempotency"]) == 1
    assert removed["objects"]["dead_letters"] == ["dead-letter/images/0/7.json"]
    # Each accepted event's fact describes the image again (facts are at least once).
    assert removed["fact_rows_removed"] == 3 * (1 + len(image["renditions"]))
    assert removed["fact_events_unlinked"] == 3  # the upload, the duplicate, the content match
    assert {s["what"] for s in receipt["scheduled"]} >= {"warehouse", "event"}
    assert "180" in receipt["note"]
    assert traces_of(client, image, CAMERA) == [f"erasure-fact:{receipt['erasure_fact']}"]

    assert rows(client, "SELECT * FROM images WHERE image_id = :i", i=image["id"]) == []
    assert rows(client, "SELECT * FROM renditions WHERE image_id = :i", i=image["id"]) == []
    events = rows(client, "SELECT * FROM ingest_events WHERE customer_id = 'acme'")
    assert len(events) == 4  # statistics kept
    assert not any(image["id"] in (e["image_id"], e["duplicate_of"]) for e in events)
    assert {e["status"] for e in events} == {"processed", "duplicate"}
    assert client.get(f"/v1/images/{image['id']}", headers=ACME).status_code == 404
    assert client.get(f"/v1/images/{other['id']}", headers=ACME).status_code == 200
    assert rows(client, "SELECT image_id FROM images WHERE image_id = :i", i=other["id"])
    assert len(rows(client, "SELECT * FROM renditions WHERE image_id = :i", i=other["id"])) == 2

    again = client.delete(f"/v1/images/{image['id']}", headers=ACME)
    assert again.status_code == 404, again.text
    assert again.headers["content-type"] == "application/problem+json"

    back = post(client, CAMERA, key="first-try")  # the key's record went with the image
    assert back.status_code == 201, back.text
    assert back.json()["id"] == image["id"] and back.json()["duplicate"] is False
    assert post(client, CAMERA_EDITED).status_code == 200  # the picture's first is the new one
    assert rows(client, "SELECT image_id FROM images WHERE image_id = :i", i=image["id"])
    assert len(rows(client, "SELECT * FROM renditions WHERE image_id = :i", i=image["id"])) == 2


def test_once_loaded_and_announced_the_erasure_fact_goes_and_nothing_names_the_image(
    client: TestClient,
) -> None:
    image = post(client, CAMERA).json()
    ctx = ctx_of(client)
    sink = Collecting()
    publisher = Publisher(ctx.objects, [sink], settle_seconds=ctx.settings.events_settle_seconds)
    publisher.publish_once()  # the sink has a cursor from before the erasure
    receipt = client.delete(f"/v1/images/{image['id']}", headers=ACME).json()
    scheduled = {s["what"]: s for s in receipt["scheduled"]}
    assert "deleted" in scheduled["erasure_fact"]["detail"]
    settled = utcnow() + timedelta(seconds=ctx.settings.load_settle_seconds + 1)

    assert seal_erasures(ctx, now=settled) == SealReport(sealed=0, waiting=1)  # not loaded
    assert seal_erasures(ctx) == SealReport(sealed=0, waiting=1)  # not settled
    loaded(client)
    assert seal_erasures(ctx, now=settled) == SealReport(sealed=0, waiting=1)  # not announced
    assert traces_of(client, image, CAMERA) == [f"erasure-fact:{receipt['erasure_fact']}"]
    publisher.publish_once()
    assert [e.type for e in sink.events][-1] == "com.imgpipe.image.deleted"

    assert seal_erasures(ctx, now=settled) == SealReport(sealed=1, waiting=0)

    assert traces_of(client, image, CAMERA) == []
    assert not ctx.objects.keys("erasing/")
    assert seal_erasures(ctx, now=settled) == SealReport()
    replayed = load_once(ctx, replay_after="facts/")
    assert replayed.files == 0
    assert rows(client, "SELECT * FROM images WHERE image_id = :i", i=image["id"]) == []
    assert client.get(f"/v1/images/{image['id']}", headers=ACME).status_code == 404
    assert post(client, CAMERA).status_code == 201


def test_a_picture_indexed_by_an_erased_image_is_claimed_anew(client: TestClient) -> None:
    first = post(client, CAMERA).json()
    assert client.delete(f"/v1/images/{first['id']}", headers=ACME).status_code == 200
    edited = post(client, CAMERA_EDITED)
    assert edited.status_code == 201, edited.text
    assert edited.json()["duplicate"] is False


def test_another_customers_image_is_404_and_stays(client: TestClient) -> None:
    image = post(client, CAMERA).json()
    refused = client.delete(f"/v1/images/{image['id']}", headers=GLOBEX)
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"
    assert client.get(f"/v1/images/{image['id']}", headers=ACME).status_code == 200
    assert client.delete(f"/v1/images/{image['id']}", headers={}).status_code == 401
    assert client.delete("/v1/images/not-a-uuid", headers=ACME).status_code == 422


def test_an_admin_customer_may_erase_any_customers_image(admin_client: TestClient) -> None:
    image = post(admin_client, CAMERA).json()
    erased = admin_client.delete(f"/v1/images/{image['id']}", headers=OPS)
    assert erased.status_code == 200, erased.text
    assert erased.json()["customer_id"] == "acme"
    assert admin_client.get(f"/v1/images/{image['id']}", headers=ACME).status_code == 404


def test_a_direct_upload_and_its_record_go_with_the_image(client: TestClient) -> None:
    started = client.post(
        "/v1/uploads", json={"content_type": "image/jpeg", "bytes": len(CAMERA)}, headers=ACME
    ).json()
    assert send(client, started, CAMERA, "image/jpeg").status_code in {200, 204}
    image = client.post(started["complete_url"], headers=ACME).json()
    record = f"uploads/{started['upload_id']}.json"
    assert ctx_of(client).objects.exists(record)

    receipt = client.delete(f"/v1/images/{image['id']}", headers=ACME).json()

    assert record in receipt["removed"]["objects"]["uploads"]
    assert traces_of(client, image, CAMERA) == [f"erasure-fact:{receipt['erasure_fact']}"]
    completed_again = client.post(started["complete_url"], headers=ACME)
    assert completed_again.status_code == 404


def test_another_customers_image_of_the_same_bytes_and_its_records_stay(
    client: TestClient,
) -> None:
    mine = post(client, CAMERA).json()
    theirs = post(client, CAMERA, headers=GLOBEX).json()
    assert theirs["id"] != mine["id"] and theirs["sha256"] == mine["sha256"]
    ctx = ctx_of(client)
    record = KafkaRecord("images", 0, 9, value=CAMERA, headers=(("customer-id", b"globex"),))
    BucketDeadLetters(ctx.objects).send(
        [DeadLetter(record, ErrorCode.TOO_LARGE, "too large", "images:0:9", "globex")]
    )

    receipt = client.delete(f"/v1/images/{mine['id']}", headers=ACME).json()

    assert receipt["removed"]["objects"]["dead_letters"] == []
    assert ctx.objects.exists("dead-letter/images/0/9.json")
    assert client.get(f"/v1/images/{theirs['id']}", headers=GLOBEX).status_code == 200
    image_ids = {
        row["image_id"]
        for row in rows(client, "SELECT image_id FROM images WHERE sha256 = :s", s=mine["sha256"])
    }
    assert image_ids == {theirs["id"]}
    assert len(rows(client, "SELECT * FROM renditions WHERE image_id = :i", i=theirs["id"])) == 2


class _RenditionDeleteFailsOnce:
    """The real store, but the first delete of a rendition fails, as when storage goes away
    in the middle of an erasure."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.failed = False

    def delete(self, key: str) -> None:
        if key.startswith("renditions/") and not self.failed:
            self.failed = True
            raise TransientError("storage went away")
        self._store.delete(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_an_erasure_cut_short_is_finished_by_deleting_again_and_holds_uploads_off_meanwhile(
    settings: Settings,
) -> None:
    base = build_context(settings)
    objects = _RenditionDeleteFailsOnce(base.objects)
    ctx = Context(settings, objects, base.warehouse)  # type: ignore[arg-type]
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        image = post(client, CAMERA).json()
        cut = client.delete(f"/v1/images/{image['id']}", headers=ACME)
        assert cut.status_code == 503, cut.text
        assert cut.headers["Retry-After"]
        assert client.get(f"/v1/images/{image['id']}", headers=ACME).status_code == 404
        held = post(client, CAMERA)  # the same bytes, while the erasure is unfinished
        assert held.status_code == 503, held.text
        assert client.delete(f"/v1/images/{image['id']}", headers=GLOBEX).status_code == 404

        finished = client.delete(f"/v1/images/{image['id']}", headers=ACME)
        assert finished.status_code == 200, finished.text
        receipt = finished.json()
        assert len(receipt["removed"]["objects"]["renditions"]) == len(image["renditions"])
        assert traces_of(client, image, CAMERA) == [f"erasure-fact:{receipt['erasure_fact']}"]
        assert post(client, CAMERA).status_code == 201
    base.close()
