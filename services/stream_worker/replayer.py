"""Dead letters back through ingest: read them from the dead-letter topic and the bucket, pick
by code, time and customer, and send each through the stream's own batch step again.

Why this is safe to run twice: a replayed record keeps its coordinates and headers and gains
`imgpipe-replay-count: n`, which gives its event the id `{event id}#replay-{n}` (records.py).
The same letter replayed again is the same event: ingest finds its manifest and the loader
writes its rows once, so nothing new reaches the warehouse. A record refused again is
dead-lettered again with the higher count; the older letters of the same record are then
superseded and not replayed, and one whose count has reached the limit stays dead (the loop
guard).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.stream_worker.batch import process_records
from services.stream_worker.letters import Letter, LetterSource, Origin

if TYPE_CHECKING:
    from core.bootstrap import Context
    from services.stream_worker.deadletter import DeadLetters

log = logging.getLogger("imgpipe.replay")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which letters to replay: every one, unless codes, customers or a time range are named."""

    codes: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def admits(self, letter: Letter) -> bool:
        if self.codes and letter.code not in self.codes:
            return False
        if self.customers and letter.customer_id not in self.customers:
            return False
        if self.since is None and self.until is None:
            return True
        at = letter.dead_lettered_at
        if at is None:
            return False
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


@dataclass
class Summary:
    """What a replay did, printed as JSON at the end."""

    dry_run: bool = False
    would_replay: int = 0  # dry run: letters that would be replayed
    replayed: int = 0  # ingested: processed, or found stored already
    still_dead: int = 0  # refused again (and dead-lettered again, one replay more)
    skipped_by_filter: int = 0
    loop_guarded: int = 0  # replayed the maximum number of times: they stay dead
    superseded: int = 0  # a later letter of the same record exists (or this one twice)
    unreadable: int = 0  # objects under dead-letter/ that are no letter

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def replay(
    ctx: Context,
    sources: Sequence[LetterSource],
    dead_letters: DeadLetters | None,
    *,
    selection: Selection,
    max_replays: int,
    dry_run: bool = False,
    batch_size: int = 50,
    listed: Callable[[Letter], None] = lambda _letter: None,
) -> Summary:
    """Replay the selected letters of `sources`, `batch_size` records per ingest batch; those
    refused again go to `dead_letters` (None only for a dry run, which sends nothing).
    Raises TransientError when storage or the dead-letter destination is down: what was
    replayed by then is stored, and running again finishes the rest."""
    latest: dict[Origin, int] = {}
    for source in sources:  # first pass: the latest letter of each record
        for letter in source.letters():
            if isinstance(letter, Letter):
                latest[letter.origin] = max(letter.replays, latest.get(letter.origin, 0))
    summary = Summary(dry_run=dry_run)
    seen: set[Origin] = set()
    batch: list[Letter] = []
    for source in sources:
        for letter in source.letters():
            if isinstance(letter, ValueError):
                summary.unreadable += 1
                log.warning("%s", letter)
                continue
            if letter.replays < latest.get(letter.origin, 0) or letter.origin in seen:
                summary.superseded += 1
            elif not selection.admits(letter):
                summary.skipped_by_filter += 1
            elif letter.replays >= max_replays:
                summary.loop_guarded += 1
            else:
                seen.add(letter.origin)
                listed(letter)
                if dry_run:
                    summary.would_replay += 1
                    continue
                batch.append(letter)
                if len(batch) >= batch_size:
                    _replay_batch(batch, ctx, dead_letters, summary)
                    batch = []
    if batch:
        _replay_batch(batch, ctx, dead_letters, summary)
    return summary


def _replay_batch(
    batch: Sequence[Letter], ctx: Context, dead_letters: DeadLetters | None, summary: Summary
) -> None:
    if dead_letters is None:
        raise ValueError("a replay that sends records needs a dead-letter destination")
    report = process_records([letter.resent() for letter in batch], ctx, dead_letters)
    for letter, result in zip(batch, report.results, strict=True):
        if result.status == "rejected":
            summary.still_dead += 1
            log.info("%s still dead: %s", letter.where, result.error_code)
        else:
            summary.replayed += 1
            log.info("%s replayed: %s %s", letter.where, result.status, result.event_id)
