"""Broker connection settings (TLS, SCRAM, MSK IAM), dead-letter shapes and the retry backoff."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from core.config import load_settings
from core.errors import ConfigError, ErrorCode
from services.stream_worker.consumer import Backoff
from services.stream_worker.deadletter import DeadLetter
from services.stream_worker.kafka_config import client_config, consumer_config, producer_config
from services.stream_worker.records import KafkaRecord


def test_default_settings_reach_a_local_plaintext_broker() -> None:
    config = client_config(load_settings())
    assert config["bootstrap.servers"] == "127.0.0.1:9092"
    assert config["security.protocol"] == "PLAINTEXT"
    assert not any(key.startswith("sasl") for key in config)


def test_scram_settings_become_librdkafka_sasl_properties() -> None:
    settings = load_settings(
        kafka_bootstrap_servers="b-1.msk:9096",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="imgpipe",
        kafka_sasl_password="s3cret",
        kafka_ssl_ca_location="/etc/ssl/certs/ca-certificates.crt",
    )
    config = client_config(settings)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == ("imgpipe", "s3cret")
    assert config["ssl.ca.location"] == "/etc/ssl/certs/ca-certificates.crt"


def test_scram_without_credentials_fails_at_start() -> None:
    with pytest.raises(ConfigError, match="SCRAM"):
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512")


def test_sasl_mechanism_without_a_sasl_protocol_is_a_configuration_error() -> None:
    settings = load_settings(kafka_sasl_mechanism="OAUTHBEARER", aws_region="eu-west-1")
    with pytest.raises(ConfigError, match="SASL_SSL"):
        client_config(settings)


def test_msk_iam_token_callback_signs_a_token_with_the_aws_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings = load_settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        aws_region="eu-west-1",
    )
    config = client_config(settings)
    assert config["sasl.mechanisms"] == "OAUTHBEARER"
    token, expires_at = config["oauth_cb"]("")
    padded = token + "=" * (-len(token) % 4)
    url = urlparse(base64.urlsafe_b64decode(padded).decode())
    query = parse_qs(url.query)
    assert url.hostname == "kafka.eu-west-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert time.time() < expires_at < time.time() + 3600  # seconds, as librdkafka wants


def test_msk_iam_without_a_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    settings = load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER")
    with pytest.raises(ConfigError, match="REGION"):
        client_config(settings)


def test_consumer_commits_by_hand_and_extra_properties_win() -> None:
    settings = load_settings(
        kafka_consumer_config={"session.timeout.ms": 6000, "fetch.wait.max.ms": 20}
    )
    config = consumer_config(settings, "g1")
    assert config["group.id"] == "g1"
    assert config["enable.auto.commit"] is False
    assert config["auto.offset.reset"] == "earliest"
    assert (config["session.timeout.ms"], config["fetch.wait.max.ms"]) == (6000, 20)


def test_consumer_fetches_ahead_a_batch_per_partition_and_a_bounded_number_of_bytes() -> None:
    settings = load_settings(kafka_batch_size=40, kafka_prefetch_bytes=8 * 2**20)
    config = consumer_config(settings, "g1")
    assert config["queued.min.messages"] == 40
    assert config["queued.max.messages.kbytes"] == 8192
    assert config["fetch.queue.backoff.ms"] <= 100  # refilled at once, not a second later
    default = consumer_config(load_settings(), "g1")
    assert default["queued.max.messages.kbytes"] * 1024 < 64 * 2**20  # librdkafka's 64 MiB


def test_producer_waits_for_every_replica_and_never_duplicates() -> None:
    config = producer_config(load_settings())
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True


def test_dead_letter_keeps_original_headers_and_adds_error_and_source() -> None:
    record = KafkaRecord("images", 3, 17, 1000, b"k", b"v", (("customer-id", "ü".encode()),))
    letter = DeadLetter(record, ErrorCode.UNDECODABLE, "truncated JPEG", "images:3:17", "acme")
    *headers, (stamp_name, stamp) = letter.headers()
    assert headers == [
        ("customer-id", "ü".encode()),
        ("imgpipe-error-code", b"undecodable"),
        ("imgpipe-error-detail", b"truncated JPEG"),
        ("imgpipe-source-topic", b"images"),
        ("imgpipe-source-partition", b"3"),
        ("imgpipe-source-offset", b"17"),
        ("imgpipe-event-id", b"images:3:17"),
        ("imgpipe-customer-id", b"acme"),
    ]
    assert stamp_name == "imgpipe-dead-lettered-at"
    assert isinstance(stamp, bytes)
    assert abs(datetime.fromisoformat(stamp.decode()) - datetime.now(UTC)) < timedelta(minutes=1)
    document = letter.document()
    assert letter.object_key == "dead-letter/images/3/17.json"
    assert base64.b64decode(document["value"]) == b"v"
    assert document["headers"] == [
        {"name": "customer-id", "value": base64.b64encode("ü".encode()).decode()}
    ]
    assert document["error"] == {"code": "undecodable", "detail": "truncated JPEG"}


def test_dead_letter_detail_header_is_capped_on_a_character_boundary() -> None:
    record = KafkaRecord("t", 0, 0, None, None, b"v")
    letter = DeadLetter(record, ErrorCode.MALFORMED_RECORD, "é" * 2000, "t:0:0", "c")
    detail = dict(letter.headers())["imgpipe-error-detail"]
    assert isinstance(detail, bytes)
    assert len(detail) <= 1024
    assert detail.decode() == "é" * (len(detail) // 2)


def test_backoff_grows_exponentially_up_to_its_cap_and_starts_over_after_success() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 0.5


@pytest.mark.parametrize(
    ("option", "variable"),
    [
        (["--workers", "0"], "IMGPIPE_INGEST_WORKERS"),
        (["--batch-size", "20000"], "IMGPIPE_KAFKA_BATCH_SIZE"),
    ],
    ids=["no-workers", "batch-too-large"],
)
def test_consume_with_an_option_out_of_range_stops_naming_its_variable(
    option: list[str], variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any broker is contacted, as the same value in the environment is."""
    from services.cli import main

    assert main(["consume", *option]) == 2
    assert variable in capsys.readouterr().err
