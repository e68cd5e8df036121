"""The typed client in clients/python: in step with the API's schema, and working against it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from infra.client import CLIENT, compare, generate
from services.upload_api.app import create_app
from tests.harness.app import KEYS, key_pairs
from tests.images import jpeg_photo


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client as `make client` would write it now, from the app's own schema."""
    into = tmp_path_factory.mktemp("client") / "python"
    generate(into)
    return into


def test_the_committed_client_is_in_step_with_the_apis_schema(fresh: Path) -> None:
    assert compare(CLIENT, fresh) == [], "run `make client` and commit clients/python"


def test_the_check_names_what_a_stale_client_lacks_or_changed(fresh: Path, tmp_path: Path) -> None:
    stale = tmp_path / "python"
    shutil.copytree(CLIENT, stale)
    (stale / "imgpipe_client" / "api" / "images" / "get_image.py").write_text("# old\n")
    (stale / "imgpipe_client" / "api" / "uploads" / "create_upload.py").unlink()
    assert sorted(compare(stale, fresh)) == [
        "imgpipe_client/api/images/get_image.py: differs",
        "imgpipe_client/api/uploads/create_upload.py: missing from the committed client",
    ]


@pytest.fixture
def api(
    embedded_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The generated client, on the app in this process, with acme's key."""
    monkeypatch.syspath_prepend(str(CLIENT))
    from imgpipe_client import AuthenticatedClient

    client = AuthenticatedClient(
        base_url="http://testserver", token=KEYS["acme"], prefix="", auth_header_name="X-API-Key"
    )
    with TestClient(create_app(embedded_settings(api_keys=key_pairs()))) as transport:
        transport.headers["X-API-Key"] = KEYS["acme"]
        client.set_httpx_client(transport)
        yield client


def test_the_client_uploads_an_image_and_reads_it_back_typed(api: Any) -> None:
    from imgpipe_client.api.images import get_image, post_image
    from imgpipe_client.models import ImageOut, PostImageFilesBody, Problem
    from imgpipe_client.types import File

    photo = jpeg_photo(640, 480)
    body = PostImageFilesBody(file=File(payload=photo, file_name="a.jpg", mime_type="image/jpeg"))
    created = post_image.sync_detailed(client=api, body=body, idempotency_key="client-test-1")
    assert created.status_code == 201
    assert isinstance(created.parsed, ImageOut)
    image = get_image.sync(client=api, image_id=created.parsed.id)
    assert isinstance(image, ImageOut)
    assert (image.id, image.width, image.format_) == (created.parsed.id, 640, "jpeg")
    assert [r.name for r in image.renditions] == ["display", "thumb"]
    refused = post_image.sync(client=api, body=File(payload=b"%PDF-1.7 not an image"))
    assert isinstance(refused, Problem) and refused.code == "unsupported_format"
