"""The soak's pure parts: its percentiles and growth, and that its hostile inputs are refused."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench import soak_inputs
from core.bootstrap import Context, build_context
from core.config import load_settings
from core.errors import PermanentError
from core.ingest import ingest
from core.models import image_id_for
from services.stream_worker.records import KafkaRecord, decode
from services.upload_api.app import create_app


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    context = build_context(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/warehouse.db",
            storage_url=f"file://{tmp_path}/objects",
            api_keys=[soak_inputs.key_pair()],
        )
    )
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as test_client:
        yield test_client


def test_percentiles_pick_the_nearest_rank() -> None:
    summary = soak_inputs.latency_summary([float(v) for v in range(1, 101)])
    assert summary == {"count": 100, "p50_ms": 51.0, "p99_ms": 99.0, "max_ms": 100.0}
    assert soak_inputs.latency_summary([])["p50_ms"] is None


def test_growth_is_a_percentage_of_the_start() -> None:
    assert soak_inputs.growth_percent(200.0, 210.0) == 5.0
    assert soak_inputs.growth_percent(200.0, 180.0) == -10.0
    with pytest.raises(ValueError, match="no growth"):
        soak_inputs.growth_percent(0.0, 10.0)


def test_paced_rate_is_the_share_of_capacity_with_a_floor() -> None:
    assert soak_inputs.paced_rate(10.0, 0.8) == 8.0
    assert soak_inputs.paced_rate(0.0, 0.8) == 0.2


def test_distinct_images_are_pictures_of_their_own_of_the_same_size() -> None:
    from PIL import Image

    from core.processing import process

    settings = load_settings()
    for content_type, data in soak_inputs.base_images():
        one = soak_inputs.distinct(content_type, data, "1")
        two = soak_inputs.distinct(content_type, data, "2")
        assert len({data, one, two}) == 3
        # A comment alone would make a metadata duplicate: the content hashes must differ.
        hashes = {process(i, settings.processing).metadata.content_sha256 for i in (data, one, two)}
        assert len(hashes) == 3
        with Image.open(io.BytesIO(data)) as a, Image.open(io.BytesIO(two)) as b:
            assert (a.size, a.format) == (b.size, b.format)
            b.load()


def test_the_png_bomb_is_small_but_declares_more_pixels_than_allowed() -> None:
    from PIL import Image

    bomb = soak_inputs.png_bomb()
    assert len(bomb) < 200_000
    with Image.open(io.BytesIO(bomb)) as image:
        assert image.size[0] * image.size[1] > load_settings().max_pixels


@pytest.mark.parametrize("kind", ["good", *soak_inputs.UPLOAD_HOSTILE])
def test_each_upload_kind_gets_its_expected_status(client: TestClient, kind: str) -> None:
    sent = soak_inputs.upload(kind, random.Random(7), f"test-{kind}")
    response = client.post("/v1/images", content=sent.body, headers=sent.headers)
    assert response.status_code in sent.expected, response.text
    if sent.hostile:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", ["good", "good_json", *soak_inputs.RECORD_HOSTILE])
def test_each_record_kind_is_stored_or_refused_as_expected(ctx: Context, kind: str) -> None:
    made = soak_inputs.record(kind, random.Random(7), f"test-{kind}")
    record = KafkaRecord("soak", 0, 1, value=made.value, headers=tuple(made.headers))
    try:
        result = ingest(decode(record, ctx.settings), ctx)
    except PermanentError:
        assert made.hostile
        return
    if made.hostile:
        assert result.status == "rejected"
    else:
        assert result.status == "processed"
        assert made.sha256 is not None
        assert result.image_id == image_id_for(soak_inputs.CUSTOMER, made.sha256)
