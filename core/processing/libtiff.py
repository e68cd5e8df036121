"""libtiff's messages as log records: it writes them to fd 2 itself, past Python's logging."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

log = logging.getLogger("imgpipe.processing")
# fd 2 belongs to the whole process: one libtiff decode at a time holds it, so that a message
# is told to the decode that caused it. Only compressed TIFFs take this path; others decode in
# Pillow's own code, which never writes to fd 2, and run in parallel.
_STDERR = threading.Lock()


def uses_libtiff(image: Image.Image) -> bool:
    """Pillow decodes a TIFF through libtiff when it is compressed (or READ_LIBTIFF is set)."""
    return bool(getattr(image, "use_load_libtiff", False))


@contextmanager
def libtiff_messages(image: Image.Image, what: str) -> Iterator[None]:
    """Around a libtiff decode, fd 2 goes to a temporary file; what libtiff wrote there becomes
    one WARNING record (`libtiff` field: the text) instead of bare lines on the console."""
    if not uses_libtiff(image):
        yield
        return
    with _STDERR, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()  # Python's own buffered text goes where it was meant to
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace").strip()
            if text:
                log.warning("libtiff on %s: %s", what, text[:2000], extra={"libtiff": text[:2000]})
