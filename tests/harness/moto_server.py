"""moto's S3 server, plus one thing S3 does and moto cannot: keep a restore running.

Run as a script: `python tests/harness/moto_server.py -H 127.0.0.1 -p PORT` (moto.server's
arguments). On S3 a Deep Archive restore stays `ongoing-request="true"` for hours; moto's
state manager only knows restores that finish at once, after N requests or after N seconds
counted from the object's creation, none of which holds a restore open while a test looks at
it. Setting the transition of model `s3::keyrestore` to `{"progression": "held"}` (through
`/moto-api/state-manager/set-transition`) makes every requested restore report "ongoing"
until the transition is unset, which `/moto-api/reset` callers do.
"""

from __future__ import annotations

import sys
from typing import Any

RESTORE_MODEL = "s3::keyrestore"
HELD = "held"


def _hold_restores_on_request() -> None:
    from moto.moto_api import state_manager
    from moto.s3.models import FakeKey

    moto_status = FakeKey.status

    def status(self: Any) -> str | None:
        if state_manager.get_transition(RESTORE_MODEL).get("progression") == HELD:
            return "IN_PROGRESS"
        value: str | None = moto_status.fget(self)  # type: ignore[attr-defined]
        return value

    FakeKey.status = property(status, moto_status.fset)  # type: ignore[assignment, attr-defined]


def main() -> None:
    from moto.server import main as moto_main

    _hold_restores_on_request()
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
