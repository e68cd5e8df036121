"""Dead letters read back for `imgpipe replay`: replay event ids, letters of the topic and the
bucket as the dead-letter writers make them, the filters and the time options."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from core.config import Settings, load_settings
from core.errors import ErrorCode
from core.models import MAX_EVENT_ID_BYTES
from services.stream_worker.deadletter import DeadLetter
from services.stream_worker.letters import Letter, letter_of_document, letter_of_message
from services.stream_worker.records import (
    REPLAY_COUNT,
    KafkaRecord,
    decode,
    replay_count,
    replay_event_id,
)
from services.stream_worker.replay import moment
from services.stream_worker.replayer import Selection

STAMP = 1_795_000_000_000
RECORD = KafkaRecord(
    "images",
    2,
    41,
    STAMP,
    b"k",
    b"not an image",
    (("customer-id", b"acme"), ("content-type", b"image/jpeg")),
)


@pytest.fixture
def settings() -> Settings:
    return load_settings(stream_default_customer="anonymous")


def letter() -> DeadLetter:
    return DeadLetter(RECORD, ErrorCode.UNSUPPORTED_FORMAT, "no", "images:2:41", "acme")


def test_a_replay_has_an_event_id_of_its_own_the_same_on_every_replay_of_a_letter() -> None:
    assert replay_event_id("order-7", 0) == "order-7"
    assert replay_event_id("order-7", 2) == "order-7#replay-2" == replay_event_id("order-7", 2)
    long = "e" * MAX_EVENT_ID_BYTES
    replayed = replay_event_id(long, 1)
    assert replayed.startswith("sha256:") and replayed.endswith("#replay-1")
    assert len(replayed.encode()) <= MAX_EVENT_ID_BYTES


@pytest.mark.parametrize(("raw", "count"), [(None, 0), (b"3", 3), (b"x", 0), (b"-2", 0)])
def test_the_replay_count_header_reads_as_a_count(raw: bytes | None, count: int) -> None:
    headers = () if raw is None else ((REPLAY_COUNT, raw),)
    assert replay_count(KafkaRecord("t", 0, 0, headers=headers)) == count


def test_a_replayed_record_decodes_to_its_replay_event(settings: Settings) -> None:
    record = KafkaRecord("t", 0, 5, value=b"\xff\xd8\xff", headers=((REPLAY_COUNT, b"1"),))
    assert decode(record, settings).event_id == "t:0:5#replay-1"


def as_message(dead: DeadLetter, dlq_offset: int) -> KafkaRecord:
    """The letter as the dead-letter topic hands it out."""
    headers = tuple((k, v if isinstance(v, bytes) else b"") for k, v in dead.headers())
    return KafkaRecord("dlq", 0, dlq_offset, STAMP, dead.record.key, dead.record.value, headers)


def test_a_topic_letter_is_its_original_record_again(settings: Settings) -> None:
    read = letter_of_message(as_message(letter(), 7), settings)

    assert read.where == "dlq:0:7"
    assert read.record == RECORD  # coordinates, key, value and the producer's headers only
    assert (read.code, read.event_id, read.customer_id) == (
        "unsupported_format",
        "images:2:41",
        "acme",
    )
    assert read.replays == 0
    assert read.dead_lettered_at is not None
    assert abs(read.dead_lettered_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert read.resent().header(REPLAY_COUNT) == b"1"


def test_a_bucket_letter_is_its_original_record_again(settings: Settings) -> None:
    resent = letter_of_message(as_message(letter(), 7), settings).resent()
    body = json.dumps(DeadLetter(resent, ErrorCode.EMPTY, "", "e", "acme").document()).encode()

    read = letter_of_document("dead-letter/images/2/41.json", body, settings)

    assert read.origin == ("images", 2, 41)
    assert read.replays == 1
    assert read.record == RECORD
    assert read.resent().header(REPLAY_COUNT) == b"2"


def test_a_bucket_object_that_is_no_letter_is_refused_as_such(settings: Settings) -> None:
    with pytest.raises(ValueError, match="not a dead letter"):
        letter_of_document("dead-letter/x.json", b'{"topic": "t"}', settings)


def test_an_old_letter_without_ids_takes_them_from_its_record(settings: Settings) -> None:
    message = KafkaRecord(
        "dlq", 0, 3, STAMP, None, b"x", (("customer-id", b"bravo"), ("imgpipe-error-code", b"e"))
    )
    read = letter_of_message(message, settings)
    assert (read.customer_id, read.event_id, read.code) == ("bravo", "dlq:0:3", "e")
    assert read.dead_lettered_at == datetime.fromtimestamp(STAMP / 1000, UTC)


def sample(code: str = "empty", customer: str = "acme", at: datetime | None = None) -> Letter:
    return Letter("w", RECORD, code, "e", customer, at, 0)


def test_a_selection_admits_by_code_customer_and_half_open_time_range() -> None:
    noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert Selection().admits(sample())
    assert not Selection(codes=frozenset({"undecodable"})).admits(sample())
    assert Selection(customers=frozenset({"acme", "x"})).admits(sample())
    assert not Selection(customers=frozenset({"x"})).admits(sample())
    assert Selection(since=noon).admits(sample(at=noon))
    assert not Selection(until=noon).admits(sample(at=noon))
    assert not Selection(since=noon).admits(sample(at=None))


def test_times_are_iso_8601_or_a_duration_ago() -> None:
    assert moment("2026-12-01T08:00Z") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert moment("2026-12-01T08:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert abs(moment("2h") - (datetime.now(UTC) - timedelta(hours=2))) < timedelta(seconds=5)
    with pytest.raises(argparse.ArgumentTypeError):
        moment("yesterday")
