"""Completing direct uploads: too early, several times at once, and the URL once completed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from core.config import Settings
from tests.api.test_uploads import send
from tests.harness.app import headers_for, loaded
from tests.images import jpeg_photo

ACME = headers_for("acme")


def _totals(client: TestClient) -> dict[str, int]:
    response = loaded(client).get("/v1/stats", headers=ACME)
    assert response.status_code == 200, response.text
    totals: dict[str, int] = response.json()["totals"]
    return totals


def test_completing_before_the_image_arrives_records_nothing_and_completes_once_it_has(
    client: TestClient,
) -> None:
    upload = client.post("/v1/uploads", json={"content_type": "image/jpeg"}, headers=ACME).json()
    retried = {**ACME, "Idempotency-Key": "complete-once-sent"}

    early = client.post(upload["complete_url"], headers=retried)
    assert early.status_code == 404
    assert early.json()["code"] == "source_not_found"
    assert _totals(client)["events"] == 0  # no rejected event counts in the statistics
    assert "send the image" in early.json()["detail"]

    send(client, upload, jpeg_photo(640, 480), "image/jpeg")
    # The same Idempotency-Key: the early refusal was not kept, so it is not replayed.
    completed = client.post(upload["complete_url"], headers=retried)
    assert completed.status_code == 201, completed.text
    assert completed.headers.get("idempotent-replayed") is None
    again = client.post(upload["complete_url"], headers=ACME)
    assert again.status_code == 200
    assert again.json()["id"] == completed.json()["id"]
    totals = _totals(client)
    assert (totals["processed"], totals["rejected"]) == (1, 0)


def test_eight_concurrent_completes_answer_one_201_and_seven_duplicates_of_the_same_image(
    client: TestClient,
) -> None:
    upload = client.post("/v1/uploads", json={"content_type": "image/jpeg"}, headers=ACME).json()
    send(client, upload, jpeg_photo(800, 600), "image/jpeg")

    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: client.post(upload["complete_url"], headers=ACME), range(8))
        )

    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 7
    assert _totals(client)["processed"] == 1


def test_a_completed_uploads_url_takes_no_new_object(
    client: TestClient, settings: Settings
) -> None:
    upload = client.post("/v1/uploads", json={"content_type": "image/jpeg"}, headers=ACME).json()
    send(client, upload, jpeg_photo(320, 240), "image/jpeg")
    first = client.post(upload["complete_url"], headers=ACME)
    assert first.status_code == 201, first.text

    other = jpeg_photo(320, 240, quality=60)
    resent = send(client, upload, other, "image/jpeg")
    if settings.storage_url.startswith("file://"):
        assert resent.status_code == 409
        assert resent.json()["code"] == "upload_completed"
    else:  # S3 keeps honouring its POST policy until it expires; the object is never read
        assert resent.status_code in {200, 204}, resent.text

    again = client.post(upload["complete_url"], headers=ACME)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["sha256"] == first.json()["sha256"]
    assert _totals(client)["processed"] == 1


def test_a_signed_url_of_an_upload_still_open_takes_its_object(
    embedded_client: TestClient,
) -> None:
    upload = embedded_client.post("/v1/uploads", headers=ACME).json()
    put = embedded_client.put(upload["url"], content=jpeg_photo(90, 60))
    assert put.status_code == 200
    replaced = embedded_client.put(upload["url"], content=jpeg_photo(120, 80))
    assert replaced.status_code == 200  # until completion the client may send it again
    completed = embedded_client.post(upload["complete_url"], headers=ACME)
    assert (completed.json()["width"], completed.json()["height"]) == (120, 80)
