"""`imgpipe storage setup|show` against a folder and against S3 on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Settings
from core.repository.objects.bucket_rules import TLS_ONLY_SID, lifecycle_rules
from services.cli import main
from tests.harness.proxy import free_port


@pytest.mark.usefixtures("s3_settings_env")
def test_storage_setup_on_s3_prints_what_it_applied_and_is_idempotent(
    s3_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["storage", "setup"]) == 0
    output = capsys.readouterr()
    first = json.loads(output.out)
    assert "plain HTTP" in output.err
    assert main(["storage", "setup"]) == 0
    second = json.loads(capsys.readouterr().out)

    assert first["changed"] == ["public_access_block", "encryption", "policy", "lifecycle"]
    assert second["changed"] == []
    assert {r["ID"] for r in first["lifecycle_rules"]} == {
        r["ID"] for r in lifecycle_rules(s3_settings)
    }
    assert [s["Sid"] for s in first["policy"]["Statement"]] == [TLS_ONLY_SID]


@pytest.mark.usefixtures("s3_settings_env")
def test_storage_setup_without_tls_only_warns_nothing_and_applies_no_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["storage", "setup", "--no-tls-only"]) == 0

    out = capsys.readouterr()
    assert json.loads(out.out)["policy"] == {}
    assert "warning" not in out.err


@pytest.mark.usefixtures("s3_settings_env")
def test_storage_show_changes_nothing(
    s3_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["storage", "show"]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert shown["bucket"] in s3_settings.storage_url
    assert shown["lifecycle_rules"] == []
    assert shown["public_access_block"] is None


def test_storage_setup_on_a_folder_says_there_is_nothing_to_set_up(
    folder_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGPIPE_STORAGE_URL", folder_settings.storage_url)

    assert main(["storage", "setup"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["store"] == "folder"
    assert "nothing to set up" in report["note"]
    assert Path(report["root"]).is_dir()


@pytest.mark.usefixtures("s3_settings_env")
def test_storage_setup_when_s3_is_unreachable_fails_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGPIPE_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")

    assert main(["storage", "setup"]) == 1

    assert "storage unavailable" in capsys.readouterr().err
