"""Settings: defaults, environment parsing, and errors that name the variable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from core.config import DEFAULT_RENDITIONS, load_settings, redacted, settings_table
from core.errors import ConfigError
from services.commands.config import readme_with_table

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the environment: start each from none of imgpipe's variables."""
    for variable in [v for v in os.environ if v.startswith("IMGPIPE_")]:
        monkeypatch.delenv(variable)


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///.imgpipe/warehouse.db"
    assert settings.storage_url == "file://.imgpipe/objects"
    assert settings.max_bytes == 25 * 1024 * 1024
    assert settings.max_pixels == 50_000_000
    assert settings.max_frames == 100
    assert settings.max_side == 20_000
    assert [(r.name, r.longest_side, r.format, r.quality) for r in settings.renditions] == [
        ("display", 2048, "jpeg", 85),
        ("thumb", 256, "jpeg", 80),
    ]
    assert settings.size_tolerance == 0.05


def test_renditions_are_read_in_compact_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGPIPE_RENDITIONS", "display:1600:webp:80, thumb:200")
    settings = load_settings()
    assert [(r.name, r.longest_side, r.format, r.quality) for r in settings.renditions] == [
        ("display", 1600, "webp", 80),
        ("thumb", 200, "jpeg", 85),
    ]
    assert settings.rendition("thumb") == settings.renditions[1]
    assert settings.rendition("nope") is None


def test_renditions_are_read_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "IMGPIPE_RENDITIONS", '[{"name": "x", "longest_side": 512, "format": "avif"}]'
    )
    (spec,) = load_settings().renditions
    assert (spec.name, spec.longest_side, spec.format, spec.extension) == ("x", 512, "avif", "avif")


def test_lists_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGPIPE_KAFKA_TOPICS", "a, b,c")
    monkeypatch.setenv("IMGPIPE_STREAM_ALLOWED_BUCKETS", '["in-bucket"]')
    settings = load_settings()
    assert settings.kafka_topics == ["a", "b", "c"]
    assert settings.stream_allowed_buckets == ["in-bucket"]


def test_api_keys_map_digests_to_customers(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = hashlib.sha256(b"secret-key").hexdigest()
    monkeypatch.setenv("IMGPIPE_API_KEYS", f"acme:{digest}")
    assert load_settings().api_key_digests() == {digest: "acme"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IMGPIPE_MAX_BYTES", "lots"),
        ("IMGPIPE_MAX_PIXELS", "0"),
        ("IMGPIPE_SIZE_TOLERANCE", "0.9"),
        ("IMGPIPE_RENDITIONS", "display"),
        ("IMGPIPE_RENDITIONS", "a:100,a:200"),
        ("IMGPIPE_RENDITIONS", "display:2048:gif"),
        ("IMGPIPE_STORAGE_URL", "ftp://x"),
        ("IMGPIPE_PRESIGN_EXPIRY_SECONDS", "3600"),
        ("IMGPIPE_API_KEYS", "acme:plain-key"),
        ("IMGPIPE_KAFKA_SECURITY_PROTOCOL", "TLS"),
    ],
)
def test_a_bad_value_fails_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_scram_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGPIPE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(ConfigError, match="IMGPIPE_KAFKA_SASL_USERNAME"):
        load_settings()


def test_redacted_settings_show_no_secret() -> None:
    settings = load_settings(
        database_url="postgresql+psycopg://user:hunter2@db/warehouse",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="user",
        kafka_sasl_password="hunter2",
        api_keys=[f"acme:{'0' * 64}"],
    )
    text = repr(redacted(settings))
    assert "hunter2" not in text
    assert "0" * 64 not in text
    assert "user" in text


def test_readme_settings_table_is_in_step_with_the_settings_class() -> None:
    text = README.read_text()
    assert readme_with_table(text, settings_table()) == text, (
        "README's settings table is stale: run `.venv/bin/imgpipe config --write-readme README.md`"
    )


def test_every_default_rendition_is_a_distinct_name() -> None:
    assert len({r.name for r in DEFAULT_RENDITIONS}) == len(DEFAULT_RENDITIONS)
