"""The standalone Kafka consumer (ECS, Kubernetes, a laptop): batches, manual commits, retries.

At-least-once: a batch's offsets are committed only after its objects, rows and dead letters
are written. When a dependency is down (TransientError) the assigned partitions are paused,
rewound to the batch's first offsets and retried after an exponential backoff, committing
nothing meanwhile; the group keeps the consumer's membership because polling goes on.
Processing is idempotent, so a record seen twice (after a crash or a rebalance) makes no
second row.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import TransientError
from services.stream_worker.batch import first_offsets, process_records
from services.stream_worker.kafka_config import consumer_config
from services.stream_worker.records import KafkaRecord

if TYPE_CHECKING:
    from core.bootstrap import Context
    from services.stream_worker.deadletter import DeadLetters

log = logging.getLogger("imgpipe.stream")

Partition = tuple[str, int]


@dataclass
class Backoff:
    """Exponential backoff with full jitter, from `base` seconds up to `cap`."""

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempts)
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class Counters:
    """What the periodic log line reports, since the last line."""

    records: int = 0
    stored: int = 0
    rejected: int = 0
    retries: int = 0
    since: float = field(default_factory=time.monotonic)


class StreamConsumer:
    """Consume `topics` in group `group_id` and ingest the records in batches."""

    def __init__(
        self,
        ctx: Context,
        dead_letters: DeadLetters,
        *,
        topics: Sequence[str],
        group_id: str,
        bootstrap_servers: str | None = None,
        batch_size: int | None = None,
        batch_window: float | None = None,
        log_interval: float = 10.0,
    ) -> None:
        from confluent_kafka import Consumer

        settings = ctx.settings
        self.ctx = ctx
        self.dead_letters = dead_letters
        self.topics = list(topics)
        self.batch_size = batch_size or settings.kafka_batch_size
        self.batch_window = (
            batch_window if batch_window is not None else settings.kafka_batch_window_ms / 1000
        )
        self.log_interval = log_interval
        self.backoff = Backoff(cap=settings.kafka_retry_backoff_max_seconds)
        self.counters = Counters()
        self.totals = Counters()
        self._stop = threading.Event()
        self._backing_off = False
        self._assigned: set[Partition] = set()
        self._done: dict[Partition, int] = {}  # processed, commit not yet acknowledged
        self._last_log = time.monotonic()
        self._consumer = Consumer(consumer_config(settings, group_id, bootstrap_servers))

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batch in hand, commit it, and leave (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def assigned(self) -> frozenset[Partition]:
        """The partitions this member of the group holds now."""
        return frozenset(self._assigned)

    def run(self, max_records: int | None = None) -> None:
        """Consume until stop() (or, for tests and demos, until max_records are done)."""
        self._consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        try:
            while not self.stopping:
                batch = self._gather()
                if batch:
                    self._process(batch)
                self._commit_done()
                self._log_progress()
                if max_records is not None and self.totals.records >= max_records:
                    break
        finally:
            self._close()

    # -- one batch -----------------------------------------------------------------------------

    def _gather(self) -> list[KafkaRecord]:
        """Up to batch_size records: wait (0.5 s at most) for the first, then at most
        batch_window for more."""
        messages: list[Any] = []
        deadline: float | None = None
        while not self.stopping and len(messages) < self.batch_size:
            if deadline is None:
                # consume() returns when it has all it asked for or its timeout is up: asked
                # for a whole batch, it would hold the first records back for the timeout.
                got = self._consumer.consume(self.batch_size, timeout=0) or self._first(0.5)
            else:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                got = self._consumer.consume(self.batch_size - len(messages), timeout=timeout)
            for message in got:
                error = message.error()
                if error is None:
                    messages.append(message)
                elif not error.retriable() and error.fatal():
                    raise RuntimeError(f"Kafka consumer failed: {error}")
                else:
                    log.debug("consumer event: %s", error)
            if messages and deadline is None:
                deadline = time.monotonic() + self.batch_window
            if not messages:
                break
        # A rebalance while gathering may have taken partitions away: their records are the
        # new owner's now (uncommitted, so it reads them again).
        return [
            KafkaRecord.from_message(m)
            for m in messages
            if (m.topic(), m.partition()) in self._assigned
        ]

    def _first(self, timeout: float) -> list[Any]:
        """The next message or event, as soon as there is one, else nothing after timeout."""
        message = self._consumer.poll(timeout)
        return [] if message is None else [message]

    def _process(self, batch: list[KafkaRecord]) -> None:
        try:
            report = process_records(batch, self.ctx, self.dead_letters)
        except TransientError as error:
            self.counters.retries += 1
            self.totals.retries += 1
            delay = self.backoff.next_delay()
            log.warning(
                "batch of %d records not stored (%s): retrying in %.1f s",
                len(batch),
                error.detail,
                delay,
            )
            self._rewind(batch)
            self._wait_paused(delay)
            return
        self.backoff.reset()
        for record in batch:
            key = (record.topic, record.partition)
            self._done[key] = max(self._done.get(key, 0), record.offset + 1)
        for counters in (self.counters, self.totals):
            counters.records += len(batch)
            counters.stored += report.stored
            counters.rejected += report.dead_lettered

    def _rewind(self, batch: Sequence[KafkaRecord]) -> None:
        """Pause every assigned partition and seek back to the batch's first offsets."""
        self._consumer.pause(self._consumer.assignment())
        for (topic, partition), offset in first_offsets(batch).items():
            if (topic, partition) in self._assigned:
                self._seek(topic, partition, offset)

    def _seek(self, topic: str, partition: int, offset: int) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self._consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException as exc:
            # Not seekable (just revoked): its next owner starts from the committed offset.
            log.info("seek %s-%d to %d: %s", topic, partition, offset, exc)

    def _wait_paused(self, delay: float) -> None:
        """Sleep while polling, so that the group sees us alive and rebalances are served; a
        partition assigned meanwhile is paused and rewound to what it just delivered. Every
        partition held at the end is resumed."""
        from confluent_kafka import TopicPartition

        until = time.monotonic() + delay
        self._backing_off = True
        try:
            while not self.stopping and (remaining := until - time.monotonic()) > 0:
                message = self._consumer.poll(min(remaining, 0.5))
                if message is None or message.error() is not None:
                    continue
                record = KafkaRecord.from_message(message)
                self._consumer.pause([TopicPartition(record.topic, record.partition)])
                self._seek(record.topic, record.partition, record.offset)
        finally:
            self._backing_off = False
        self._consumer.resume(self._consumer.assignment())

    # -- commits -------------------------------------------------------------------------------

    def _commit_done(self, only: set[Partition] | None = None) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        pending = {
            key: offset
            for key, offset in self._done.items()
            if (only is None or key in only) and key in self._assigned
        }
        if not pending:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in pending.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Kept for the next try; if the partition moves first, its next owner redoes the
            # records, which makes no second row.
            log.warning("commit of %d partitions failed: %s", len(offsets), exc)
            return
        for key, offset in pending.items():
            if self._done.get(key) == offset:
                del self._done[key]

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)
        if not self._backing_off:
            # librdkafka keeps a partition's pause through its revocation: one paused for a
            # backoff and handed back after the backoff ended would never be fetched again.
            self._resume(partitions)
        log.info("assigned %s", sorted(f"{t}-{p}" for t, p in self._assigned))

    def _resume(self, partitions: list[Any]) -> None:
        from confluent_kafka import KafkaException

        try:
            self._consumer.resume(partitions)
        except KafkaException as exc:  # not known to the client yet: not paused either
            log.debug("resume %s: %s", partitions, exc)

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        self._commit_done(only=revoked)
        self._assigned -= revoked
        for key in revoked:
            self._done.pop(key, None)
        log.info("revoked %s", sorted(f"{t}-{p}" for t, p in revoked))

    def _on_lost(self, _consumer: Any, partitions: list[Any]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned -= lost
        for key in lost:
            self._done.pop(key, None)
        log.warning("lost %s", sorted(f"{t}-{p}" for t, p in lost))

    # -- reporting and shutdown ----------------------------------------------------------------

    def lag(self) -> int | None:
        """Records behind the high watermark, or None where the broker's figures are not sane
        (some Kafka-protocol brokers report end offsets below what was already consumed)."""
        from confluent_kafka import TopicPartition

        total = 0
        try:
            positions = self._consumer.position(
                [TopicPartition(t, p) for t, p in sorted(self._assigned)]
            )
            for tp in positions:
                if tp.offset < 0:
                    continue
                _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
                if high < 0 or high < tp.offset:
                    return None
                total += high - tp.offset
        except Exception:  # a figure for a log line must never stop consuming
            return None
        return total

    def _log_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_log < self.log_interval:
            return
        counters, elapsed = self.counters, max(now - self.counters.since, 1e-9)
        lag = self.lag()
        log.info(
            "%.1f records/s (%d in %.0f s): %d stored, %d dead-lettered, %d retries; lag %s",
            counters.records / elapsed,
            counters.records,
            elapsed,
            counters.stored,
            counters.rejected,
            counters.retries,
            "unknown" if lag is None else lag,
        )
        self.counters = Counters()
        self._last_log = now

    def _close(self) -> None:
        self._commit_done()
        self._log_progress(force=True)
        try:
            self.dead_letters.close()
        finally:
            self._consumer.close()
