"""The Kafka record decoder: MSK event records and confluent-kafka messages to ingest requests."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Message

from core.config import Settings, load_settings
from core.errors import ErrorCode, PermanentError, TransientError
from services.stream_worker.claim_check import parse_s3_uri
from services.stream_worker.records import (
    KafkaRecord,
    decode,
    msk_event,
    msk_records,
    refused,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60  # decoding needs only the bytes, not a valid image
STAMP = 1_795_000_000_000


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        max_bytes=1000,
        stream_allowed_buckets=["images-in"],
        stream_default_customer="anonymous",
    )


def signed(text: str) -> list[int]:
    """Header bytes as MSK sends them: Java's signed bytes."""
    return [b - 256 if b > 127 else b for b in text.encode()]


def msk_item(value: bytes | None = JPEG, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "topic": "images",
        "partition": 2,
        "offset": 41,
        "timestamp": STAMP,
        "timestampType": "CREATE_TIME",
        "key": base64.b64encode(b"k1").decode(),
        "value": None if value is None else base64.b64encode(value).decode(),
        "headers": [],
    }
    item.update(fields)
    return item


def record(value: bytes | None = JPEG, *headers: tuple[str, bytes]) -> KafkaRecord:
    return KafkaRecord("images", 2, 41, STAMP, b"k1", value, tuple(headers))


def envelope(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def refusal(excinfo: pytest.ExceptionInfo[PermanentError]) -> ErrorCode:
    return excinfo.value.code


# -- the MSK event shape ---------------------------------------------------------------------


def test_msk_record_key_and_value_are_base64_decoded() -> None:
    got = KafkaRecord.from_msk(msk_item())
    assert (got.topic, got.partition, got.offset, got.timestamp) == ("images", 2, 41, STAMP)
    assert got.key == b"k1"
    assert got.value == JPEG


def test_msk_header_with_negative_bytes_decodes_non_ascii_text() -> None:
    got = KafkaRecord.from_msk(msk_item(headers=[{"customer-id": signed("kunde-müller-東京")}]))
    assert got.headers == (("customer-id", "kunde-müller-東京".encode()),)
    assert any(b < 0 for b in signed("ü"))  # the case this test is about
    assert decode(got, load_settings()).customer_id == "kunde-müller-東京"


def test_msk_header_bytes_given_unsigned_are_read_the_same() -> None:
    unsigned = list("é".encode())
    got = KafkaRecord.from_msk(msk_item(headers=[{"x": unsigned}, {"y": signed("é")}]))
    assert got.headers == (("x", "é".encode()), ("y", "é".encode()))


def test_msk_header_entry_with_several_names_keeps_them_all_in_order() -> None:
    got = KafkaRecord.from_msk(msk_item(headers=[{"a": [49], "b": [50]}, {"a": [51]}]))
    assert got.headers == (("a", b"1"), ("b", b"2"), ("a", b"3"))


def test_msk_header_with_empty_value_is_empty_bytes() -> None:
    assert KafkaRecord.from_msk(msk_item(headers=[{"h": []}])).headers == (("h", b""),)


@pytest.mark.parametrize(
    "headers",
    [
        "content-type",
        [["content-type", [1]]],
        [{"h": [256]}],
        [{"h": [-129]}],
        [{"h": ["a"]}],
        [{"h": [1.5]}],
        [{"h": "text"}],
        [{"h": [True]}],
    ],
    ids=["not-a-list", "entry-not-object", "256", "-129", "string-byte", "float", "str", "bool"],
)
def test_msk_headers_that_are_not_byte_lists_are_malformed(headers: Any) -> None:
    with pytest.raises(PermanentError) as excinfo:
        KafkaRecord.from_msk(msk_item(headers=headers))
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


@pytest.mark.parametrize("field", ["key", "value"])
def test_msk_key_or_value_that_is_not_base64_is_malformed(field: str) -> None:
    with pytest.raises(PermanentError) as excinfo:
        KafkaRecord.from_msk(msk_item() | {field: "not base64!"})
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


def test_msk_value_that_is_not_a_string_is_malformed() -> None:
    with pytest.raises(PermanentError) as excinfo:
        KafkaRecord.from_msk(msk_item(value=None) | {"value": 12})
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


@pytest.mark.parametrize("missing", ["topic", "partition", "offset"])
def test_msk_record_without_coordinates_is_malformed(missing: str) -> None:
    item = msk_item()
    del item[missing]
    with pytest.raises(PermanentError) as excinfo:
        KafkaRecord.from_msk(item)
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


def test_msk_null_key_and_value_stay_none() -> None:
    got = KafkaRecord.from_msk(msk_item(value=None, key=None))
    assert got.key is None
    assert got.value is None


def test_msk_event_round_trips_records_grouped_by_topic_partition() -> None:
    records = [
        KafkaRecord("images", 0, 5, STAMP, None, JPEG, (("customer-id", "ü".encode()),)),
        KafkaRecord("images", 1, 9, STAMP, b"k", b"{}", ()),
        KafkaRecord("images", 0, 6, STAMP, b"k", b"", ()),
    ]
    event = msk_event(records)
    assert event["eventSource"] == "aws:kafka"
    assert list(event["records"]) == ["images-0", "images-1"]
    assert event["records"]["images-0"][0]["headers"] == [{"customer-id": signed("ü")}]
    back = [KafkaRecord.from_msk(item) for item in msk_records(event)]
    assert sorted(back, key=lambda r: (r.partition, r.offset)) == sorted(
        records, key=lambda r: (r.partition, r.offset)
    )


# -- confluent-kafka messages ------------------------------------------------------------------


def test_confluent_message_becomes_the_same_record_as_its_msk_form() -> None:
    message = Message(
        topic="images",
        partition=2,
        offset=41,
        key=b"k1",
        value=JPEG,
        headers=[("content-type", b"image/jpeg"), ("customer-id", "ü".encode())],
        timestamp=(1, STAMP),
    )
    got = KafkaRecord.from_message(message)
    assert got == KafkaRecord.from_msk(got.to_msk())
    assert got.headers == (("content-type", b"image/jpeg"), ("customer-id", "ü".encode()))
    assert got.timestamp == STAMP


def test_confluent_message_header_without_value_reads_as_empty() -> None:
    message = Message(topic="t", partition=0, offset=1, value=JPEG, headers=[("h", None)])
    assert KafkaRecord.from_message(message).headers == (("h", b""),)


def test_confluent_message_without_timestamp_is_received_now() -> None:
    message = Message(topic="t", partition=0, offset=1, value=JPEG, timestamp=(0, -1))
    got = KafkaRecord.from_message(message)
    assert got.timestamp is None
    before = datetime.now(UTC)
    assert decode(got, load_settings()).received_at >= before


# -- raw image records -----------------------------------------------------------------------


def test_raw_record_without_headers_uses_default_customer_and_coordinates(
    settings: Settings,
) -> None:
    request = decode(record(), settings)
    assert request.data == JPEG
    assert request.customer_id == "anonymous"
    assert request.event_id == "images:2:41"
    assert request.source == "stream"
    assert request.received_at == datetime.fromtimestamp(STAMP / 1000, UTC)
    assert request.declared_type is None


def test_raw_record_headers_name_customer_event_and_declared_type(settings: Settings) -> None:
    request = decode(
        record(
            JPEG,
            ("Content-Type", b"image/jpeg; q=1"),
            ("CUSTOMER-ID", b"acme"),
            ("event-id", b"evt-1"),
        ),
        settings,
    )
    assert (request.customer_id, request.event_id) == ("acme", "evt-1")
    assert request.declared_type == "image/jpeg"


def test_repeated_header_last_one_wins(settings: Settings) -> None:
    request = decode(record(JPEG, ("customer-id", b"first"), ("Customer-Id", b"second")), settings)
    assert request.customer_id == "second"


def test_ids_at_the_warehouse_column_sizes_are_accepted(settings: Settings) -> None:
    customer, event = "ü" * 64, "é" * 256  # 128 and 512 bytes of UTF-8
    request = decode(
        record(JPEG, ("customer-id", customer.encode()), ("event-id", event.encode())), settings
    )
    assert (request.customer_id, request.event_id) == (customer, event)


@pytest.mark.parametrize(
    "text",
    ["a\u200db", "x\u00a0y", "\ue000", "\U0001f9d1\u200d\U0001f4bb"],
    ids=["zero-width-joiner", "no-break-space", "private-use", "emoji-sequence"],
)
def test_ids_that_isprintable_refuses_but_hold_no_control_character_are_accepted(
    settings: Settings, text: str
) -> None:
    """The rule is the upload API's: any UTF-8 text but control and line-break characters."""
    raw = decode(
        record(JPEG, ("customer-id", text.encode()), ("event-id", text.encode())), settings
    )
    value = envelope(customer_id=text, event_id=text, image_base64=base64.b64encode(JPEG).decode())
    enveloped = decode(record(value, ("content-type", b"application/json")), settings)
    for request in (raw, enveloped):
        assert (request.customer_id, request.event_id) == (text, text)


@pytest.mark.parametrize("field", ["customer_id", "event_id"])
def test_envelope_id_with_a_lone_surrogate_is_malformed(settings: Settings, field: str) -> None:
    """JSON can escape a surrogate that UTF-8 cannot carry: no database could store the id."""
    value = envelope(**{field: "a\ud800"}, image_base64=base64.b64encode(JPEG).decode())
    with pytest.raises(PermanentError) as excinfo:
        decode(record(value, ("content-type", b"application/json")), settings)
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD
    assert "surrogate" in excinfo.value.detail


def test_blank_customer_header_falls_back_to_default(settings: Settings) -> None:
    assert decode(record(JPEG, ("customer-id", b"  ")), settings).customer_id == "anonymous"


@pytest.mark.parametrize(
    "header",
    [
        ("customer-id", b"\xff\xfe"),
        ("event-id", b"\xc3"),
        ("content-type", b"\x80"),
        ("customer-id", b"a\x00b"),
        ("event-id", b"x" * 513),
        ("customer-id", ("ü" * 65).encode()),
        ("customer-id", "a\u0085b".encode()),
        ("event-id", "a\u2028b".encode()),
    ],
    ids=[
        "customer-not-utf8",
        "event-truncated-utf8",
        "type-not-utf8",
        "control",
        "event-over-512-bytes",
        "customer-over-128-bytes",
        "c1-control",
        "line-separator",
    ],
)
def test_unusable_header_is_malformed(settings: Settings, header: tuple[str, bytes]) -> None:
    with pytest.raises(PermanentError) as excinfo:
        decode(record(JPEG, header), settings)
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


def test_raw_record_over_max_bytes_is_too_large(settings: Settings) -> None:
    with pytest.raises(PermanentError) as excinfo:
        decode(record(b"\xff\xd8" + b"\x00" * 1000), settings)
    assert refusal(excinfo) == ErrorCode.TOO_LARGE


def test_tombstone_record_is_malformed(settings: Settings) -> None:
    with pytest.raises(PermanentError) as excinfo:
        decode(record(None), settings)
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


def test_empty_value_is_left_to_ingest_to_refuse_as_empty(settings: Settings) -> None:
    assert decode(record(b""), settings).data == b""


def test_non_json_content_type_keeps_a_brace_value_raw(settings: Settings) -> None:
    request = decode(record(b"{not json", ("content-type", b"image/png")), settings)
    assert request.data == b"{not json"  # processing refuses it as unsupported


# -- JSON envelopes --------------------------------------------------------------------------


def test_envelope_with_base64_image_and_metadata(settings: Settings) -> None:
    value = envelope(
        event_id="order-7",
        customer_id="acme",
        image_base64=base64.b64encode(JPEG).decode(),
        metadata={"album": "Été", "tags": ["a", "b"]},
    )
    request = decode(record(value, ("content-type", b"application/json")), settings)
    assert request.data == JPEG
    assert (request.customer_id, request.event_id) == ("acme", "order-7")
    assert request.attributes == {"album": "Été", "tags": ["a", "b"]}


def test_envelope_base64_image_with_its_sha256_is_accepted_in_either_case(
    settings: Settings,
) -> None:
    digest = hashlib.sha256(JPEG).hexdigest()
    for written in (digest, digest.upper()):
        value = envelope(image_base64=base64.b64encode(JPEG).decode(), sha256=written)
        assert decode(record(value), settings).data == JPEG


def test_envelope_base64_image_of_another_sha256_is_a_checksum_mismatch(
    settings: Settings,
) -> None:
    value = envelope(image_base64=base64.b64encode(JPEG).decode(), sha256="0" * 64)
    with pytest.raises(PermanentError) as refused_:
        decode(record(value), settings)
    assert refused_.value.code is ErrorCode.CHECKSUM_MISMATCH


@pytest.mark.parametrize(
    "fields",
    [
        {"sha256": "f" * 63},
        {"sha256": "g" * 64},
        {"sha256": 12},
        {"version_id": ""},
        {"version_id": "v\n1"},
        {"version_id": ["v1"]},
        {"version_id": "v1", "image_base64": "AAAA"},
    ],
)
def test_envelope_with_an_unusable_sha256_or_version_id_is_malformed(
    settings: Settings, fields: dict[str, Any]
) -> None:
    value = envelope(**{"image_s3_uri": "s3://images-in/a.jpg", **fields})
    if "image_base64" in fields:
        value = envelope(**fields)
    with pytest.raises(PermanentError) as refused_:
        decode(record(value), settings)
    assert refused_.value.code is ErrorCode.MALFORMED_RECORD


def test_envelope_is_recognised_without_content_type(settings: Settings) -> None:
    value = b"  \n" + envelope(image_base64=base64.b64encode(JPEG).decode())
    request = decode(record(value), settings)
    assert request.data == JPEG
    assert request.event_id == "images:2:41"
    assert request.customer_id == "anonymous"


def test_envelope_content_type_with_charset_is_json(settings: Settings) -> None:
    value = envelope(image_base64=base64.b64encode(JPEG).decode())
    request = decode(record(value, ("content-type", b"Application/JSON; charset=utf-8")), settings)
    assert request.data == JPEG


def test_envelope_fields_win_over_headers(settings: Settings) -> None:
    value = envelope(
        event_id="from-body", customer_id="body", image_base64=base64.b64encode(JPEG).decode()
    )
    request = decode(record(value, ("customer-id", b"hdr"), ("event-id", b"hdr-evt")), settings)
    assert (request.customer_id, request.event_id) == ("body", "from-body")


def test_envelope_without_ids_takes_them_from_headers(settings: Settings) -> None:
    value = envelope(image_base64=base64.b64encode(JPEG).decode())
    request = decode(record(value, ("customer-id", b"hdr"), ("event-id", b"hdr-evt")), settings)
    assert (request.customer_id, request.event_id) == ("hdr", "hdr-evt")


def test_envelope_base64_with_line_breaks_is_accepted(settings: Settings) -> None:
    text = base64.encodebytes(JPEG).decode()  # MIME style, a newline every 76 characters
    assert "\n" in text
    assert decode(record(envelope(image_base64=text)), settings).data == JPEG


def test_envelope_unknown_fields_are_ignored(settings: Settings) -> None:
    value = envelope(image_base64=base64.b64encode(JPEG).decode(), trace_id="t-1")
    assert decode(record(value), settings).data == JPEG


def test_envelope_s3_uri_of_forbidden_bucket_is_refused_before_any_read(
    settings: Settings,
) -> None:
    value = envelope(image_s3_uri="s3://someone-elses-bucket/a.jpg")
    with pytest.raises(PermanentError) as excinfo:
        decode(record(value), settings)
    assert refusal(excinfo) == ErrorCode.FORBIDDEN_SOURCE


@pytest.mark.parametrize(
    "uri",
    [
        "https://images-in.s3.amazonaws.com/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "S3://images-in/a.jpg",
        "images-in/a.jpg",
    ],
)
def test_envelope_uri_other_than_s3_is_forbidden(settings: Settings, uri: str) -> None:
    with pytest.raises(PermanentError) as excinfo:
        decode(record(envelope(image_s3_uri=uri)), settings)
    assert refusal(excinfo) == ErrorCode.FORBIDDEN_SOURCE


def test_s3_uri_parses_into_bucket_and_key_as_written() -> None:
    assert parse_s3_uri("s3://images-in/a/b c%20.jpg", ["images-in"]) == (
        "images-in",
        "a/b c%20.jpg",
    )


@pytest.mark.parametrize("uri", ["s3://images-in", "s3://images-in/", "s3:///a.jpg"])
def test_s3_uri_without_bucket_or_key_is_malformed(settings: Settings, uri: str) -> None:
    with pytest.raises(PermanentError) as excinfo:
        decode(record(envelope(image_s3_uri=uri)), settings)
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


MALFORMED_ENVELOPES = {
    "bad-json": b'{"image_base64": ',
    "not-utf8": b'{"image_base64": "\xff"}',
    "array": b"[1, 2]",
    "no-image": envelope(customer_id="acme"),
    "null-image": envelope(image_base64=None),
    "both-images": envelope(image_base64="AAAA", image_s3_uri="s3://images-in/a.jpg"),
    "base64-not-string": envelope(image_base64=123),
    "bad-base64": envelope(image_base64="***"),
    "bad-padding": envelope(image_base64="AAA"),
    "urlsafe-alphabet": envelope(image_base64=base64.urlsafe_b64encode(b"\xfb\xff").decode()),
    "uri-not-string": envelope(image_s3_uri=["s3://images-in/a.jpg"]),
    "metadata-not-object": envelope(image_base64="AAAA", metadata=[1]),
    "metadata-too-large": envelope(image_base64="AAAA", metadata={"x": "y" * 70_000}),
    "customer-not-string": envelope(image_base64="AAAA", customer_id=7),
    "event-id-control": envelope(image_base64="AAAA", event_id="a\nb"),
    "deeply-nested": b'{"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("value", MALFORMED_ENVELOPES.values(), ids=MALFORMED_ENVELOPES.keys())
def test_malformed_envelope_is_refused_as_malformed_record(
    settings: Settings, value: bytes
) -> None:
    with pytest.raises(PermanentError) as excinfo:
        decode(record(value, ("content-type", b"application/json")), settings)
    assert refusal(excinfo) == ErrorCode.MALFORMED_RECORD


def test_envelope_image_over_max_bytes_is_too_large(settings: Settings) -> None:
    value = envelope(image_base64=base64.b64encode(b"\xff" * 1001).decode())
    with pytest.raises(PermanentError) as excinfo:
        decode(record(value), settings)
    assert refusal(excinfo) == ErrorCode.TOO_LARGE


def test_envelope_image_at_max_bytes_is_accepted(settings: Settings) -> None:
    value = envelope(image_base64=base64.b64encode(b"\xff" * 1000).decode())
    assert len(decode(record(value), settings).data or b"") == 1000


# -- refused records -------------------------------------------------------------------------


def test_refused_record_keeps_usable_header_ids_and_carries_the_error(
    settings: Settings,
) -> None:
    error = PermanentError(ErrorCode.MALFORMED_RECORD, "bad")
    request = refused(
        record(b"{", ("customer-id", b"acme"), ("event-id", b"\xff")), settings, error
    )
    assert request.refusal is error
    assert request.customer_id == "acme"
    assert request.event_id == "images:2:41"  # the event-id header was unusable


@pytest.mark.timeout(60)
def test_allowed_s3_source_that_never_answers_is_transient_within_seconds(
    settings: Settings, aws_env: None
) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        quiet = settings.model_copy(update={"s3_endpoint_url": endpoint, "aws_region": "eu-west-1"})
        request = decode(record(envelope(image_s3_uri="s3://images-in/a.jpg")), quiet)
        assert request.data is None and request.fetch is not None  # read when ingested
        with pytest.raises(TransientError):
            request.fetch()
