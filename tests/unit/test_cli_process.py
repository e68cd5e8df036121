"""`imgpipe process`: local files in, renditions on disk, one JSON object per input out."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.config import get_settings
from services.cli import main
from tests import images


@pytest.fixture(autouse=True)
def small_renditions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IMGPIPE_RENDITIONS", "display:64:jpeg:85,thumb:16:jpeg:80,web:32:webp:80")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    (folder / "cat.jpg").write_bytes(images.in_format("JPEG", 120, 80, name="chelsea"))
    (folder / "nested" / "coffee.png").write_bytes(images.in_format("PNG", 90, 60, name="coffee"))
    (folder / "notes.txt").write_bytes(images.TEXT)
    (folder / ".hidden.jpg").write_bytes(images.in_format("JPEG", 10, 10))
    return folder


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["process", *argv, "--json"])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def test_directory_is_processed_into_rendition_folders(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, documents = run_json(capsys, str(inputs), "--out", str(out))
    by_name = {Path(str(d["path"])).name: d for d in documents}
    assert set(by_name) == {"cat.jpg", "coffee.png", "notes.txt"}  # hidden file skipped
    cat = by_name["cat.jpg"]
    assert cat["format"] == "jpeg"
    assert (cat["width"], cat["height"]) == (120, 80)
    assert cat["sha256"] == hashlib.sha256((inputs / "cat.jpg").read_bytes()).hexdigest()
    renditions = {r["name"]: r for r in cat["renditions"]}  # type: ignore[attr-defined]
    assert (renditions["display"]["width"], renditions["display"]["height"]) == (64, 43)
    written = Image.open(out / "display" / "cat.jpg")
    assert written.format == "JPEG"
    assert written.size == (64, 43)
    assert Image.open(out / "thumb" / "coffee.jpg").size == (16, 11)
    assert Image.open(out / "web" / "coffee.webp").format == "WEBP"
    assert renditions["web"]["file"] == str(out / "web" / "cat.webp")
    assert (out / "display" / "cat.jpg").stat().st_size == renditions["display"]["bytes"]
    # One input was refused, so the whole run reports failure.
    assert by_name["notes.txt"]["error"] == {
        "code": "unsupported_format",
        "detail": "text is not a supported image",
    }
    assert code == 1


def test_all_good_inputs_exit_zero(inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, documents = run_json(capsys, str(inputs / "cat.jpg"), str(inputs / "nested"))
    assert code == 0
    assert [Path(str(d["path"])).name for d in documents] == ["cat.jpg", "coffee.png"]
    assert all("error" not in d for d in documents)


def test_missing_and_corrupt_files_are_reported_as_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(images.truncated(images.jpeg_photo(200, 150), 0.4))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    code, documents = run_json(capsys, str(broken), str(empty), str(tmp_path / "absent.jpg"))
    assert code == 1
    codes = [d["error"]["code"] for d in documents]  # type: ignore[index]
    assert codes == ["undecodable", "empty", "source_not_found"]
    assert [d["path"] for d in documents] == [
        str(broken),
        str(empty),
        str(tmp_path / "absent.jpg"),
    ]


def test_same_stem_from_two_folders_does_not_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a" / "photo.jpg", tmp_path / "b" / "photo.png"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_bytes(images.in_format("JPEG", 80, 60, name="coffee"))
    second.write_bytes(images.in_format("PNG", 80, 60, name="astronaut"))
    out = tmp_path / "out"
    code, documents = run_json(capsys, str(first), str(second), "--out", str(out))
    assert code == 0
    files = sorted(p.name for p in (out / "display").iterdir())
    sha = str(documents[1]["sha256"])
    assert files == sorted(["photo.jpg", f"photo-{sha[:8]}.jpg"])


def test_plain_output_is_one_line_per_input(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["process", str(inputs / "cat.jpg"), str(inputs / "notes.txt")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(lines) == 2
    assert "jpeg 120x80 -> display 64x43" in lines[0]
    assert "refused (unsupported_format)" in lines[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_is_drawn_on_a_terminal_for_many_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(6):
        (tmp_path / f"p{index}.jpg").write_bytes(images.jpeg_photo(40, 30))
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["process", str(tmp_path), "--json"]) == 0
    assert "6/6" in terminal.getvalue()
    assert "[" + "#" * 30 + "]" in terminal.getvalue()
    assert len(capsys.readouterr().out.splitlines()) == 6


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(6):
        (tmp_path / f"p{index}.jpg").write_bytes(images.jpeg_photo(40, 30))
    assert main(["process", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_help_documents_the_output_layout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "process", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DIR/<rendition>/<stem>.<ext>" in result.stdout
    assert "--json" in result.stdout
