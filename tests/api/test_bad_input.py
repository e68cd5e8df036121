"""Bad input over HTTP: each refusal a precise 4xx problem, never a 5xx."""

from __future__ import annotations

import gzip
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.harness.app import headers_for, loaded
from tests.images import HTML, SVG, jpeg_photo, png_header_declaring, truncated

ACME = headers_for("acme")
JPEG = {**ACME, "Content-Type": "image/jpeg"}


def assert_problem(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:imgpipe:problem:{code}"
    assert problem["title"] and problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    return problem


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 422, "empty"),
        (truncated(jpeg_photo(800, 600)), 422, "undecodable"),
        (png_header_declaring(100_000, 100_000), 422, "too_many_pixels"),
        (SVG, 415, "unsupported_format"),
        (HTML, 415, "unsupported_format"),
    ],
    ids=["zero-bytes", "truncated-jpeg", "100000x100000-png", "svg", "html"],
)
def test_bad_images_are_refused_with_a_precise_problem(
    client: TestClient, body: bytes, status: int, code: str
) -> None:
    raw = client.post("/v1/images", content=body, headers=JPEG)
    assert_problem(raw, status, code)
    multipart = client.post(
        "/v1/images", files={"file": ("x.jpg", body, "image/jpeg")}, headers=ACME
    )
    assert_problem(multipart, status, code)


def test_multipart_body_with_no_file_is_400(client: TestClient) -> None:
    # httpx sends a urlencoded form when there are no files: build the multipart body by hand.
    boundary = "imgpipe-test-boundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="title"\r\n\r\n'
        f"holiday\r\n--{boundary}--\r\n"
    )
    response = client.post(
        "/v1/images",
        content=body.encode(),
        headers={**ACME, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert "`file`" in problem["detail"] and "`title`" in problem["detail"]


def test_multipart_with_a_wrong_field_name_is_400_naming_it(client: TestClient) -> None:
    response = client.post(
        "/v1/images", files={"image": ("a.jpg", jpeg_photo(100, 80), "image/jpeg")}, headers=ACME
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert "`image`" in problem["detail"]


def test_multipart_cut_short_is_400(embedded_client: TestClient) -> None:
    boundary = "cut"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + jpeg_photo(100, 80)
    response = embedded_client.post(
        "/v1/images",
        content=body,
        headers={**ACME, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_problem(response, 400, "invalid_request")


def test_multipart_without_boundary_is_400(embedded_client: TestClient) -> None:
    response = embedded_client.post(
        "/v1/images", content=b"x", headers={**ACME, "Content-Type": "multipart/form-data"}
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert problem["title"] == "Invalid request"
    assert "boundary" in problem["detail"]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_a_body_that_is_neither_multipart_nor_an_image_is_415(
    embedded_client: TestClient, content_type: str | None
) -> None:
    headers = dict(ACME)
    if content_type:
        headers["Content-Type"] = content_type
    response = embedded_client.post("/v1/images", content=b'{"a": 1}', headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


def test_a_body_over_the_limit_is_413_from_its_content_length(
    embedded_settings,  # type: ignore[no-untyped-def]
) -> None:
    from services.upload_api.app import create_app

    app = create_app(embedded_settings(max_bytes=1000, max_request_bytes=2000))
    with TestClient(app) as client:
        response = client.post("/v1/images", content=b"\xff" * 5000, headers=JPEG)
    problem = assert_problem(response, 413, "too_large")
    assert problem["max_bytes"] == 2000


def test_a_chunked_body_over_the_limit_is_413_while_reading(
    embedded_settings,  # type: ignore[no-untyped-def]
) -> None:
    from services.upload_api.app import create_app

    app = create_app(embedded_settings(max_bytes=1000, max_request_bytes=2000))
    sent = 0

    def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        for _ in range(100):
            sent += 500
            yield b"\xff" * 500

    with TestClient(app) as client:
        response = client.post("/v1/images", content=chunks(), headers=JPEG)
    assert_problem(response, 413, "too_large")
    assert "content-length" not in {k.lower() for k in response.request.headers}


def test_unknown_route_and_wrong_method_are_problems(embedded_client: TestClient) -> None:
    assert_problem(embedded_client.get("/v2/nothing", headers=ACME), 404, "not_found")
    wrong = embedded_client.delete("/v1/images", headers=ACME)
    assert_problem(wrong, 405, "method_not_allowed")
    assert "POST" in wrong.headers["allow"]


def test_invalid_parameters_are_422_problems_listing_each_error(
    embedded_client: TestClient,
) -> None:
    response = embedded_client.get(
        "/v1/images", params={"limit": "lots", "since": "yesterday"}, headers=ACME
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert {tuple(error["loc"]) for error in problem["errors"]} == {
        ("query", "limit"),
        ("query", "since"),
    }
    bad_id = embedded_client.get("/v1/images/not-a-uuid", headers=ACME)
    assert_problem(bad_id, 422, "validation_failed")


def test_invalid_json_body_is_a_422_problem(embedded_client: TestClient) -> None:
    response = embedded_client.post(
        "/v1/uploads", content=b"{not json", headers={**ACME, "Content-Type": "application/json"}
    )
    assert_problem(response, 422, "validation_failed")


def test_multipart_with_a_boundary_over_256_bytes_is_400(embedded_client: TestClient) -> None:
    boundary = "b" * 300
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        ).encode()
        + jpeg_photo(100, 80)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = embedded_client.post(
        "/v1/images",
        content=body,
        headers={**ACME, "Content-Type": f'multipart/form-data; boundary="{boundary}"'},
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert "boundary" in problem["detail"].lower()


def test_multipart_with_two_file_parts_is_400_not_half_read(client: TestClient) -> None:
    response = client.post(
        "/v1/images",
        files=[
            ("file", ("a.jpg", jpeg_photo(120, 80), "image/jpeg")),
            ("file", ("b.jpg", jpeg_photo(80, 120), "image/jpeg")),
        ],
        headers=ACME,
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert "2 parts named `file`" in problem["detail"]
    listed = loaded(client).get("/v1/images", headers=ACME).json()["items"]
    assert listed == []


def test_a_multipart_body_of_many_parts_names_only_the_first_few(
    embedded_client: TestClient,
) -> None:
    boundary = "many"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{"n" * 500}{i}"\r\n\r\nx\r\n'
        for i in range(2000)
    )
    response = embedded_client.post(
        "/v1/images",
        content=(parts + f"--{boundary}--\r\n").encode(),
        headers={**ACME, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert len(problem["detail"]) < 1500


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"], ids=["min", "max"]
)
def test_a_since_outside_the_utc_range_is_a_422_naming_it(client: TestClient, since: str) -> None:
    response = client.get("/v1/images", params={"since": since}, headers=ACME)
    problem = assert_problem(response, 422, "validation_failed")
    assert [error["loc"] for error in problem["errors"]] == [["query", "since"]]


def test_a_since_without_a_zone_is_utc(client: TestClient) -> None:
    client.post("/v1/images", content=jpeg_photo(90, 60), headers=JPEG)
    page = loaded(client).get("/v1/images", params={"since": "2000-01-01T00:00:00"}, headers=ACME)
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == 1
    later = client.get("/v1/images", params={"since": "9999-12-31T00:00:00"}, headers=ACME)
    assert later.json()["items"] == []


@pytest.mark.parametrize("path", ["/v1/uploads", f"/v1/images/{uuid.uuid4()}/restore"])
def test_a_json_body_that_is_not_utf8_is_a_400_invalid_request(
    embedded_client: TestClient, path: str
) -> None:
    response = embedded_client.post(
        path, content=b"\xff\xfe{", headers={**ACME, "Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, "invalid_request")
    assert problem["title"] == "Invalid request"
    assert "UTF-8" in problem["detail"]


def test_a_compressed_body_is_415_naming_the_content_encoding(client: TestClient) -> None:
    response = client.post(
        "/v1/images",
        content=gzip.compress(jpeg_photo(100, 80)),
        headers={**JPEG, "Content-Encoding": "gzip"},
    )
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "Content-Encoding 'gzip'" in problem["detail"]
    assert response.headers["accept-encoding"] == "identity"


def test_a_long_content_type_is_not_echoed_in_full(embedded_client: TestClient) -> None:
    response = embedded_client.post(
        "/v1/images", content=b"x", headers={**ACME, "Content-Type": "text/" + "x" * 5000}
    )
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert len(problem["detail"]) < 300


@pytest.mark.parametrize(
    "query",
    [
        {"to": "0001-01-01"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"from": "9999-12-31"},
        {"from": "9999-12-30", "to": "9999-12-31"},
    ],
    ids=["to-first-day", "first-days", "from-last-day", "last-days"],
)
def test_the_dashboard_at_the_ends_of_the_calendar_is_a_page_not_a_500(
    embedded_client: TestClient, query: dict[str, str]
) -> None:
    response = embedded_client.get("/dashboard", params=query, headers=ACME)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
