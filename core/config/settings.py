"""Every setting of imgpipe, in one pydantic-settings class read from `IMGPIPE_*` variables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.processing.policy import IccPolicy, ProcessingPolicy, RenditionSpec, exif_field

ENV_PREFIX = "IMGPIPE_"
MiB = 1024 * 1024

# JPEG options from bench/processing.py's encoder table: Huffman optimisation makes a thumb
# ~2.4% smaller for ~0.3 ms; progressive scans or optimisation of the display cost 15-70 ms for
# 0.6-6%: a choice is on when it saves at least 1 KB per millisecond it adds.
DEFAULT_RENDITIONS = (
    RenditionSpec(name="display", longest_side=2048, format="jpeg", quality=85),
    RenditionSpec(name="thumb", longest_side=256, format="jpeg", quality=80, optimize=True),
)


def split_list(value: Any) -> Any:
    """Lists come from the environment as JSON (`["a","b"]`) or as plain `a,b`."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


StrList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """imgpipe's configuration. Each field is read from `IMGPIPE_<FIELD NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    # Where things are kept. Every adapter is chosen by a URL.
    database_url: str = Field(
        default="sqlite:///.imgpipe/warehouse.db",
        description="SQLAlchemy URL of the warehouse: sqlite, postgresql+psycopg or redshift+...",
    )
    database_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret with `username` and `password` for the database "
        "URL (Redshift on AWS); read once at start, never logged.",
    )
    storage_url: str = Field(
        default="file://.imgpipe/objects",
        description="Object storage: file://DIR (local folder) or s3://bucket/prefix.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible server (moto, MinIO); unset on AWS."
    )
    aws_region: str | None = Field(
        default=None, description="AWS region; defaults to the SDK's own resolution."
    )
    presign_expiry_seconds: int = Field(
        default=900, ge=30, le=900, description="Lifetime of presigned URLs (at most 15 minutes)."
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for the local folder store's signed URLs; a random one if unset.",
    )

    # Bucket lifecycle, applied by `imgpipe storage setup` and mirrored by the SAM template.
    archive_after_days: int = Field(
        default=7, ge=0, description="Days before renditions/ moves to DEEP_ARCHIVE."
    )
    uploads_expire_days: int = Field(
        default=1, ge=1, description="Days before uncompleted direct uploads expire."
    )
    idempotency_expire_days: int = Field(
        default=1, ge=1, description="Days an Idempotency-Key's answer is kept (idempotency/)."
    )
    facts_expire_days: int = Field(
        default=30,
        ge=1,
        description="Days fact objects are kept after writing: the warehouse's replay log.",
    )
    abort_multipart_days: int = Field(
        default=1, ge=1, description="Days before incomplete multipart uploads are aborted."
    )
    restore_days: int = Field(
        default=7, ge=1, le=365, description="Default days a restored archive copy stays readable."
    )

    # Limits, checked before any pixel is decoded.
    max_bytes: int = Field(default=25 * MiB, ge=1, description="Largest accepted input, in bytes.")
    max_pixels: int = Field(
        default=50_000_000, ge=1, description="Largest width*height (decompression bombs)."
    )
    max_frames: int = Field(default=100, ge=1, description="Most frames of an animated input.")
    max_side: int = Field(default=20_000, ge=1, description="Longest accepted side, in pixels.")

    # What the pipeline produces.
    renditions: Annotated[tuple[RenditionSpec, ...], NoDecode] = Field(
        default=DEFAULT_RENDITIONS,
        description="Outputs: JSON list, or name:side[:format[:quality]][:progressive]"
        "[:optimize],... (default " + ",".join(spec.compact for spec in DEFAULT_RENDITIONS) + ").",
    )
    size_tolerance: float = Field(
        default=0.05,
        ge=0.0,
        lt=0.5,
        description="A rendition of a larger source may be this much under its target "
        "(lets JPEGs decode at a reduced DCT scale without a resample); 0 means exact.",
    )
    metadata_keep_exif: StrList = Field(
        default=["Copyright", "Artist"],
        description="EXIF fields renditions keep, by name (e.g. Copyright,Artist,"
        "ImageDescription); GPS, serial numbers and maker notes are never kept.",
    )
    metadata_icc: IccPolicy = Field(
        default="convert",
        description="convert: renditions are converted to sRGB and carry no profile; keep: "
        "RGB sources keep their pixels and their ICC profile.",
    )
    ingest_workers: int = Field(
        default=2, ge=1, le=64, description="Threads that process a batch (Pillow frees the GIL)."
    )
    decode_budget_bytes: int = Field(
        default=768 * MiB,
        ge=1,
        description="Decoded pixel bytes in flight in one process, estimated from each image's "
        "header before decoding; an image larger than all of it runs alone.",
    )
    decode_budget_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="How long an image waits for room in the decode budget before the request "
        "is answered 503 (a stream batch is retried).",
    )

    # Upload API.
    auth: Literal["keys", "gateway", "open"] | None = Field(
        default=None,
        description="keys: X-API-Key checked against api_keys; gateway: customer from the API "
        "Gateway authoriser; open: everyone is customer `local`. Unset: keys if any are "
        "configured, else open (refused on Lambda).",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="customer_id:sha256hex(key) pairs, comma separated. Never plain keys.",
    )
    api_keys_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret whose text is the api_keys pairs; read at start, "
        "then again whenever the keys read last are api_keys_max_age_seconds old.",
    )
    api_keys_max_age_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="Seconds the API keys read from api_keys_secret_arn stay in use before the "
        "secret is read again: a rotated key works within this time, with no redeploy.",
    )
    admin_customers: StrList = Field(
        default_factory=list,
        description="Customers whose keys see every customer's statistics and may erase "
        "any customer's image.",
    )
    cors_origins: StrList = Field(
        default_factory=list,
        description="Browser origins (https://app.example.com) that may call the API and upload "
        "straight to the bucket; none by default.",
    )
    max_request_bytes: int | None = Field(
        default=None, ge=1, description="Largest request body; defaults to max_bytes + 64 KiB."
    )
    read_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="imgpipe serve: longest wait for a request's headers (the connection is "
        "dropped) or for the next bytes of its body (answered 408).",
    )
    log_level: str = Field(default="INFO", description="Log level of the imgpipe loggers.")
    metrics_open: bool = Field(
        default=False,
        description="Answer `GET /metrics` of `imgpipe serve` to any client, not only to "
        "loopback ones: for a network that already keeps strangers out.",
    )

    # Stream worker.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka/MSK bootstrap brokers, comma separated."
    )
    kafka_topics: StrList = Field(default=["images"], description="Topics the consumer reads.")
    kafka_group_id: str = Field(default="imgpipe", description="Consumer group id.")
    kafka_dlq_topic: str | None = Field(
        default=None,
        description="Dead-letter topic; unset: dead letters go to dead-letter/ in the bucket.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="PLAINTEXT locally; SASL_SSL on MSK (IAM or SCRAM)."
    )
    kafka_sasl_mechanism: (
        Literal["OAUTHBEARER", "SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] | None
    ) = Field(default=None, description="OAUTHBEARER for MSK IAM, SCRAM-SHA-512 for MSK SCRAM.")
    kafka_sasl_username: str | None = Field(default=None, description="SASL/SCRAM user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL/SCRAM password.")
    kafka_ssl_ca_location: str | None = Field(
        default=None, description="CA bundle for TLS to the brokers; the system's if unset."
    )
    kafka_batch_size: int = Field(
        default=50, ge=1, le=10_000, description="Records the consumer processes per batch."
    )
    kafka_max_message_bytes: int = Field(
        default=1 * MiB, ge=1024, description="Largest record the producer sends (MSK: ~1 MB)."
    )
    stream_allowed_buckets: StrList = Field(
        default_factory=list, description="Buckets an image_s3_uri record may name."
    )
    stream_default_customer: str = Field(
        default="stream", description="Customer of records that carry no customer id."
    )
    kafka_consumer_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Extra librdkafka consumer properties, as JSON "
        '(e.g. {"session.timeout.ms": 6000}); they override imgpipe\'s own.',
    )
    kafka_prefetch_bytes: int = Field(
        default=16 * MiB,
        ge=1 * MiB,
        description="Most bytes of records the consumer fetches ahead of the batch in hand "
        "(librdkafka would hold up to 64 MiB while processing lags); it also fetches at most "
        "a batch of records ahead per partition.",
    )
    kafka_batch_window_ms: int = Field(
        default=500, ge=0, le=60_000, description="How long the consumer waits to fill a batch."
    )
    kafka_retry_backoff_max_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Longest pause between retries of a failed batch."
    )
    replay_max_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="imgpipe replay: times a dead letter is replayed before it stays dead.",
    )
    stream_report_batch_item_failures: bool = Field(
        default=True,
        description="MSK handler: report a failed batch in batchItemFailures (needs "
        "ReportBatchItemFailures on the event source mapping); false: raise so Lambda retries.",
    )

    # The warehouse loader: the only writer of the warehouse, fed by the fact log.
    load_interval_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="How often `imgpipe serve` and `imgpipe consume` load facts into the "
        "warehouse in a background thread; 0: never (a scheduled `imgpipe load` does it).",
    )
    load_max_files: int = Field(
        default=1000, ge=1, le=100_000, description="Most fact objects one load takes."
    )
    load_max_bytes: int = Field(
        default=64 * MiB, ge=1024, description="Most bytes of fact objects one load takes."
    )
    load_settle_seconds: int = Field(
        default=600,
        ge=0,
        description="Fact objects written up to this long before the newest loaded one are "
        "looked for again (a writer's clock or a slow write may land them late).",
    )
    redshift_copy_role_arn: str | None = Field(
        default=None,
        description="IAM role Redshift assumes to COPY fact objects from S3 (Redshift only).",
    )

    # Completion events, announced from the fact log (docs/events.md); no sink by default.
    events_bus_name: str | None = Field(
        default=None, description="EventBridge bus that receives the completion events."
    )
    events_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an EventBridge-compatible server (moto); unset on AWS.",
    )
    events_kafka_topic: str | None = Field(
        default=None,
        description="Kafka results topic for the completion events (CloudEvents binary mode), "
        "on the brokers of IMGPIPE_KAFKA_BOOTSTRAP_SERVERS.",
    )
    events_webhooks: dict[str, str] = Field(
        default_factory=dict,
        description='Webhook URL per customer, as JSON ({"acme": "https://hooks.acme.example/x"}): '
        "each customer's events, signed. https and public addresses only.",
    )
    events_webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="HMAC-SHA256 secret per customer of events_webhooks, as JSON.",
    )
    events_webhook_allow_private: bool = Field(
        default=False,
        description="Local development only: webhooks may go to private, loopback and link-local "
        "addresses, and by plain http to those.",
    )
    events_webhook_attempts: int = Field(
        default=4, ge=1, le=20, description="Tries of a webhook delivery per run, with backoff."
    )
    events_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="How often `imgpipe serve` and `imgpipe consume` publish new events when a "
        "sink is configured; 0: never.",
    )
    events_settle_seconds: int = Field(
        default=600,
        ge=0,
        description="Fact objects written up to this long before the newest announced one are "
        "looked for again (they may land late), as the loader does.",
    )
    events_max_files: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Most fact objects one publish run takes per sink.",
    )

    @field_validator(
        "kafka_topics", "admin_customers", "stream_allowed_buckets", "cors_origins", mode="before"
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("api_keys")
    @classmethod
    def _key_pairs(cls, value: list[SecretStr]) -> list[SecretStr]:
        key_digests(pair.get_secret_value() for pair in value)
        return value

    @field_validator("metadata_keep_exif", mode="before")
    @classmethod
    def _keepable(cls, value: Any) -> Any:
        names = split_list(value)  # each in the standard's spelling, or refused
        return [exif_field(str(name))[0] for name in names] if isinstance(names, list) else names

    @field_validator("renditions", mode="before")
    @classmethod
    def _renditions(cls, value: Any) -> Any:
        return RenditionSpec.parse_list(value)

    @field_validator("renditions")
    @classmethod
    def _distinct(cls, value: tuple[RenditionSpec, ...]) -> tuple[RenditionSpec, ...]:
        return RenditionSpec.distinct(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            scheme, _, rest = origin.partition("://")
            if scheme not in {"http", "https"} or not rest or "/" in rest or origin == "*":
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// or s3://")
        if value.startswith("s3://") and not value[5:].split("/", 1)[0]:
            raise ValueError("s3:// URL names no bucket")
        return value

    @model_validator(mode="after")
    def _webhooks(self) -> Settings:
        missing = sorted(set(self.events_webhooks) - set(self.events_webhook_secrets))
        if missing:
            raise ValueError(
                f"IMGPIPE_EVENTS_WEBHOOK_SECRETS has no secret for {missing} "
                "(customers of IMGPIPE_EVENTS_WEBHOOKS)"
            )
        return self

    @property
    def events_configured(self) -> bool:
        return bool(self.events_bus_name or self.events_kafka_topic or self.events_webhooks)

    @model_validator(mode="after")
    def _sasl(self) -> Settings:
        scram = (self.kafka_sasl_mechanism or "").startswith("SCRAM")
        if scram and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError("SCRAM needs IMGPIPE_KAFKA_SASL_USERNAME and _PASSWORD")
        return self

    @property
    def request_limit(self) -> int:
        return self.max_request_bytes or self.max_bytes + 64 * 1024

    def api_key_digests(self) -> dict[str, str]:
        """sha256 hex digest -> customer id."""
        return key_digests(key.get_secret_value() for key in self.api_keys)

    def rendition(self, name: str) -> RenditionSpec | None:
        return next((spec for spec in self.renditions if spec.name == name), None)

    @cached_property
    def processing(self) -> ProcessingPolicy:
        """What the pipeline is told of these settings, built once."""
        return ProcessingPolicy.from_settings(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        # A copy made with other values must not inherit the policy built from these.
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("processing", None)
        return copied


def key_digests(pairs: Iterable[str]) -> dict[str, str]:
    """`customer_id:sha256hex(key)` pairs -> {digest: customer id}; ValueError if one is not."""
    digests = {}
    for pair in pairs:
        customer, _, digest = pair.partition(":")
        if not customer or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("each entry must be customer_id:sha256hex(key), 64 lowercase hex")
        digests[digest] = customer
    return digests
