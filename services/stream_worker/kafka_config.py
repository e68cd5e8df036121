"""librdkafka configuration from the settings: brokers, TLS, SASL/SCRAM or MSK IAM (OAUTHBEARER)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from confluent_kafka import Producer

    from core.config import Settings

# Room for the dead-letter headers on top of a record that was itself at the size limit.
HEADER_ALLOWANCE = 64 * 1024


def client_config(settings: Settings, bootstrap_servers: str | None = None) -> dict[str, Any]:
    """What every client (consumer, producer, admin) needs to reach the brokers."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers or settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
        "client.id": "imgpipe",
        # librdkafka's own messages (disconnects, retries) through logging, not raw stderr.
        "logger": logging.getLogger("imgpipe.kafka"),
    }
    if settings.kafka_ssl_ca_location:
        config["ssl.ca.location"] = settings.kafka_ssl_ca_location
    mechanism = settings.kafka_sasl_mechanism
    if mechanism is not None:
        if not settings.kafka_security_protocol.startswith("SASL_"):
            raise ConfigError(
                "IMGPIPE_KAFKA_SASL_MECHANISM needs IMGPIPE_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
            )
        config["sasl.mechanisms"] = mechanism
        if mechanism == "OAUTHBEARER":
            config["oauth_cb"] = msk_iam_token_callback(settings)
        else:
            config["sasl.username"] = settings.kafka_sasl_username or ""
            password = settings.kafka_sasl_password
            config["sasl.password"] = password.get_secret_value() if password else ""
    return config


def consumer_config(
    settings: Settings, group_id: str, bootstrap_servers: str | None = None
) -> dict[str, Any]:
    """At-least-once: offsets are committed by hand, only after a batch's rows are written."""
    config = client_config(settings, bootstrap_servers)
    config.update(
        {
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # Short fetch waits keep a batch window short; 10-50 ms also suits brokers (Tansu)
            # that answer a 0 ms wait with empty fetches forever.
            "fetch.wait.max.ms": 50,
            "max.partition.fetch.bytes": settings.kafka_max_message_bytes + HEADER_ALLOWANCE,
            "reconnect.backoff.ms": 200,
            "reconnect.backoff.max.ms": 5000,
            # What librdkafka fetches ahead is memory held while the worker is behind: a
            # batch's worth per partition, and a bound in bytes, not 100,000 records / 64 MiB.
            "queued.min.messages": settings.kafka_batch_size,
            "queued.max.messages.kbytes": settings.kafka_prefetch_bytes // 1024,
            # Once past those, librdkafka waits this long before it fetches again (1 s by
            # default: a batch-sized queue would then cap a consumer near 150 records/s).
            "fetch.queue.backoff.ms": 50,
        }
    )
    config.update(settings.kafka_consumer_config)
    return config


def producer_config(settings: Settings, bootstrap_servers: str | None = None) -> dict[str, Any]:
    """Durable sends: all in-sync replicas acknowledge, retries never duplicate or reorder."""
    config = client_config(settings, bootstrap_servers)
    config.update(
        {
            "acks": "all",
            "enable.idempotence": True,
            "message.max.bytes": settings.kafka_max_message_bytes + HEADER_ALLOWANCE,
            "linger.ms": 5,
            "delivery.timeout.ms": 30_000,
        }
    )
    return config


def produce_blocking(producer: Producer, topic: str, **record: Any) -> None:
    """`producer.produce(topic, **record)`, waiting while librdkafka's local queue is full
    (BufferError) for deliveries to drain it. Other errors (KafkaException) are the caller's."""
    while True:
        try:
            producer.produce(topic, **record)
            return
        except BufferError:
            producer.poll(0.5)


def msk_iam_token_callback(settings: Settings) -> Callable[[str], tuple[str, float]]:
    """librdkafka's oauth_cb for MSK IAM: a SigV4-signed token from the AWS credentials chain.

    Needs the `msk-iam` extra (aws-msk-iam-sasl-signer-python), imported only when configured.
    """
    region = (
        settings.aws_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise ConfigError("MSK IAM auth needs IMGPIPE_AWS_REGION (or AWS_REGION)")
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError:
        raise ConfigError(
            "IMGPIPE_KAFKA_SASL_MECHANISM=OAUTHBEARER needs the msk-iam extra: "
            "pip install 'imgpipe[msk-iam]'"
        ) from None

    def oauth_cb(_config: str) -> tuple[str, float]:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return str(token), float(expiry_ms) / 1000.0  # librdkafka wants seconds

    return oauth_cb
