"""Archived renditions: 409 with the restore state, POST restore -> 202, state visible in GET."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings
from services.upload_api.app import create_app
from tests.harness.app import headers_for
from tests.images import jpeg_photo

ACME = headers_for("acme")


@pytest.fixture
def s3_client_app(aws_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    ctx = build_context(aws_settings())
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        yield client
    ctx.close()


def archive(s3_client, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """What the lifecycle rule does after 7 days."""
    s3_client.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        StorageClass="DEEP_ARCHIVE",
        MetadataDirective="COPY",
    )


def test_archived_rendition_is_409_with_its_restore_state_and_how_to_restore(
    s3_client_app: TestClient, s3_client, s3_bucket: str
) -> None:  # type: ignore[no-untyped-def]
    client = s3_client_app
    image = client.post(
        "/v1/images", files={"file": ("a.jpg", jpeg_photo(800, 600), "image/jpeg")}, headers=ACME
    ).json()
    image_id = image["id"]
    archive(s3_client, s3_bucket, f"renditions/display/{image_id}.jpg")

    refused = client.get(
        f"/v1/images/{image_id}/renditions/display", headers=ACME, follow_redirects=False
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "archived"
    assert problem["restore"] == {"storage_class": "DEEP_ARCHIVE", "ongoing": None, "expiry": None}
    assert problem["how_to_restore"]["method"] == "POST"
    assert problem["how_to_restore"]["url"].endswith(f"/v1/images/{image_id}/restore")
    # The thumbnail was not archived: it is still served.
    thumb = client.get(
        f"/v1/images/{image_id}/renditions/thumb", headers=ACME, follow_redirects=False
    )
    assert thumb.status_code == 307

    state = client.get(f"/v1/images/{image_id}", headers=ACME).json()
    display = next(r for r in state["renditions"] if r["name"] == "display")
    assert display["storage"] == {
        "storage_class": "DEEP_ARCHIVE",
        "archived": True,
        "readable": False,
        "restore": {"ongoing": None, "expiry": None},
    }


def test_restore_finished_makes_the_rendition_readable(
    s3_client_app: TestClient, s3_client, s3_bucket: str
) -> None:  # type: ignore[no-untyped-def]
    client = s3_client_app
    image_id = client.post(
        "/v1/images", files={"file": ("a.jpg", jpeg_photo(700, 500), "image/jpeg")}, headers=ACME
    ).json()["id"]
    archive(s3_client, s3_bucket, f"renditions/display/{image_id}.jpg")
    # moto without held restores completes them at once, as S3 does after some hours.
    assert client.post(f"/v1/images/{image_id}/restore", headers=ACME).status_code == 202
    state = client.get(f"/v1/images/{image_id}", headers=ACME).json()
    display = next(r for r in state["renditions"] if r["name"] == "display")
    assert display["storage"]["readable"] is True
    assert display["storage"]["restore"]["ongoing"] is False
    served = client.get(
        f"/v1/images/{image_id}/renditions/display", headers=ACME, follow_redirects=False
    )
    assert served.status_code == 307


def test_restore_of_an_unknown_rendition_is_404_and_bad_tier_is_422(
    s3_client_app: TestClient,
) -> None:
    client = s3_client_app
    image_id = client.post(
        "/v1/images", files={"file": ("a.jpg", jpeg_photo(300, 200), "image/jpeg")}, headers=ACME
    ).json()["id"]
    unknown = client.post(
        f"/v1/images/{image_id}/restore", json={"renditions": ["poster"]}, headers=ACME
    )
    assert unknown.status_code == 404
    bad = client.post(f"/v1/images/{image_id}/restore", json={"tier": "Expedited"}, headers=ACME)
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"
