"""The storage layout, byte for byte: stored objects outlive any version of the code."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import layout
from core.errors import ErrorCode
from services.stream_worker.deadletter import DeadLetter
from services.stream_worker.records import KafkaRecord

IMAGE = uuid.UUID("3e49e442-a01b-5d9b-abea-998c5fcee6a6")


def test_every_key_builder_gives_the_keys_stored_objects_already_have() -> None:
    assert layout.rendition_key("thumb", IMAGE, "jpg") == (
        "renditions/thumb/3e49e442-a01b-5d9b-abea-998c5fcee6a6.jpg"
    )
    assert layout.manifest_key(IMAGE) == "manifests/3e49e442-a01b-5d9b-abea-998c5fcee6a6.json"
    assert layout.upload_key("0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d") == (
        "uploads/0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d"
    )
    assert layout.upload_record_key("0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d") == (
        "uploads/0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d.json"
    )
    assert layout.idempotency_key("acme", "key-1") == (
        "idempotency/822b33ad87c148a0a20a5ba7cd5ebcaa/"
        "be2974546978e3739e6d6da85c4be9f334ce32df2b9fd4b6ff1b55c0d57e9d44.json"
    )
    assert layout.idempotency_key("acme", "key-1").startswith(layout.idempotency_prefix("acme"))
    assert layout.dead_letter_key("images", 3, 1200) == "dead-letter/images/3/1200.json"
    fact_id = "01J5X3K6Q8ZC4V7N2B1M0PQRST"
    at = datetime(2024, 8, 1, 7, 59, tzinfo=UTC)
    assert (
        layout.fact_key(fact_id, at) == "facts/2024/08/01/07/01J5X3K6Q8ZC4V7N2B1M0PQRST.ndjson.gz"
    )
    assert layout.fact_prefix_at(at) == "facts/2024/08/01/07/"
    assert layout.rejected_fact_key("facts/2024/08/01/07/x.ndjson.gz") == (
        "facts-rejected/2024/08/01/07/x.ndjson.gz"
    )
    assert layout.load_manifest_key("01J5X3") == "loads/01J5X3.manifest.json"


# Every builder, with the keys objects already stored under it have (the dead-letter and
# idempotency keys as the stream worker and the upload API made them before core.layout).
GOLDEN: list[tuple[Callable[..., str], tuple[Any, ...], str]] = [
    (layout.rendition_key, ("display", str(IMAGE), "webp"), f"renditions/display/{IMAGE}.webp"),
    (layout.manifest_key, (str(IMAGE),), f"manifests/{IMAGE}.json"),
    (layout.upload_key, ("ffffffffffffffffffffffffffffffff",), "uploads/" + "f" * 32),
    (
        layout.upload_record_key,
        ("ffffffffffffffffffffffffffffffff",),
        "uploads/" + "f" * 32 + ".json",
    ),
    (
        layout.idempotency_key,
        ("..", "../../etc"),
        "idempotency/5ec1f7e700f37c3d0b2981d04855fc34/"
        "74ccf3c5b4c19a8167f9a3d1dd63e0e41fe451bc9616184fb273054c5743786c.json",
    ),
    (
        layout.idempotency_key,
        ("kunde-ü" * 20, "ключ"),
        "idempotency/9adb8f49bd6a01e4819fe7e9bafa50a0/"
        "1de36a32af798da0c1ac9297603a320ed8fe567cf21c9177112a4ce914ebb8be.json",
    ),
    (
        layout.content_index_key,
        ("..", "jpeg:" + "0" * 64),
        "content-index/5ec1f7e700f37c3d0b2981d04855fc34/"
        "e24ff39a25e68341dd85d7aab5d3a7a29bbcd6d67e41f7221f97715b890a1646.json",
    ),
    (
        layout.content_index_key,
        ("acme", "png:" + "1" * 64, 2),
        "content-index/822b33ad87c148a0a20a5ba7cd5ebcaa/"
        "aaed315002b9d9f484b85146076daea7bb9da58537b5f229da7281c3c923bff4.2.json",
    ),
    (layout.dead_letter_key, ("orders.v2", 0, 0), "dead-letter/orders.v2/0/0.json"),
    (
        layout.fact_key,
        ("01J5X3K6Q8ZC4V7N2B1M0PQRST",),
        "facts/2024/08/22/13/01J5X3K6Q8ZC4V7N2B1M0PQRST.ndjson.gz",
    ),
    (
        layout.fact_prefix_at,
        (datetime(2024, 12, 31, 23, 59, tzinfo=UTC),),
        "facts/2024/12/31/23/",
    ),
    (
        layout.rejected_fact_key,
        ("facts/2024/12/31/23/01J5X3K6Q8ZC4V7N2B1M0PQRST.ndjson.gz",),
        "facts-rejected/2024/12/31/23/01J5X3K6Q8ZC4V7N2B1M0PQRST.ndjson.gz",
    ),
    (
        layout.load_manifest_key,
        ("01J5X3K6Q8ZC4V7N2B1M0PQRST",),
        "loads/01J5X3K6Q8ZC4V7N2B1M0PQRST.manifest.json",
    ),
    (
        layout.event_cursor_key,
        ("eventbridge",),
        "events/cursors/b5bf0a589df56fbc72891f69c999192c.json",
    ),
    (
        layout.erasing_key,
        ("3f1e5a52-8a0c-5b8e-9d27-52c1f6d1a0b4",),
        "erasing/4d82fe644f5f50221c7b6d0ee13bdb02f9a1fb6c9e1b9510e460eb731219b371.json",
    ),
    (
        layout.erasure_fact_record_key,
        ("facts/2024/08/01/07/01J5X3K6Q8ZC4V7N2B1M0PQRST.ndjson.gz",),
        "erasing/facts/01J5X3K6Q8ZC4V7N2B1M0PQRST.json",
    ),
]


@pytest.mark.parametrize(
    ("builder", "args", "expected"),
    GOLDEN,
    ids=[f"{b.__name__}-{i}" for i, (b, _, _) in enumerate(GOLDEN)],
)
def test_each_builder_gives_the_key_objects_already_have(
    builder: Callable[..., str], args: tuple[Any, ...], expected: str
) -> None:
    assert builder(*args) == expected


def test_every_key_builder_of_the_layout_has_a_golden_key() -> None:
    builders = {
        name
        for name, value in vars(layout).items()
        if inspect.isfunction(value) and name.endswith(("_key", "_prefix_at"))
    }
    assert builders == {builder.__name__ for builder, _, _ in GOLDEN}


def test_dead_letters_are_kept_under_the_layouts_key_for_their_record() -> None:
    record = KafkaRecord("orders.v2", 7, 123456, value=b"x")
    letter = DeadLetter(record, ErrorCode.MALFORMED_RECORD, "detail", "e-1", "acme")
    assert letter.object_key == "dead-letter/orders.v2/7/123456.json"


def test_ulids_sort_in_the_order_they_were_made_even_within_one_millisecond() -> None:
    moment = datetime(2024, 8, 1, 7, 59, 59, 999_000, tzinfo=UTC)
    made = [layout.new_ulid(moment) for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == 1000
    assert all(layout.ulid_time(ulid) == moment for ulid in made)
    later = layout.new_ulid(moment + timedelta(milliseconds=1))
    assert later > made[-1]
    assert layout.fact_key(later) == f"facts/2024/08/01/08/{later}.ndjson.gz"


@pytest.mark.parametrize("text", ["", "short", "01J45KS000AC2WJG4N6XAA0EB!", "U" * 26])
def test_text_that_is_no_ulid_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a ULID"):
        layout.ulid_time(text)


def test_keys_of_the_same_kind_share_the_prefix_lifecycle_rules_name() -> None:
    assert layout.rendition_key("display", IMAGE, "webp").startswith(layout.RENDITIONS)
    assert layout.upload_record_key("u").startswith(layout.UPLOADS)
    assert layout.default_cache_control("renditions/thumb/a.jpg") == (
        layout.IMMUTABLE_CACHE_CONTROL
    )
    assert layout.default_cache_control("manifests/a.json") == "no-cache"
    assert layout.default_cache_control("facts/2024/x.ndjson.gz") is None
