"""The storage layout, byte for byte: stored objects outlive any version of the code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core import layout

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
