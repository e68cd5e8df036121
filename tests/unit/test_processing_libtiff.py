"""libtiff's own messages on a damaged compressed TIFF: a JSON log record, nothing bare on fd 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import io, sys
from PIL import Image
from core.config import Settings
from core.errors import PermanentError
from core.processing import process
from core.telemetry import logs

logs.configure()
picture = Image.effect_noise((64, 48), 64).convert("RGB")
out = io.BytesIO()
picture.save(out, "TIFF", compression="tiff_deflate")  # compressed: Pillow decodes via libtiff
damaged = bytearray(out.getvalue())
for index in range(20, 200):  # inside the deflate strip, after the 8-byte header
    damaged[index] ^= 0x5A
try:
    process(bytes(damaged), Settings().processing)
except PermanentError as refusal:
    print(refusal.code.value)
"""


def test_libtiff_complaint_on_a_damaged_tiff_is_a_log_record_not_bare_stderr() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "IMGPIPE_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "undecodable"
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    (told,) = [line for line in lines if "libtiff" in line]
    assert told["level"] == "WARNING" and told["logger"] == "imgpipe.processing"
    assert "ZIPDecode" in told["libtiff"] and "tiff data" in told["message"]
