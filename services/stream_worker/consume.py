"""`imgpipe consume`: run the standalone consumer (and the warehouse loader, in a background
thread, every IMGPIPE_LOAD_INTERVAL_SECONDS) until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers", help="brokers, host:port,... (IMGPIPE_KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument(
        "--topic",
        action="append",
        dest="topics",
        metavar="TOPIC",
        help="topic to consume; repeat for several (IMGPIPE_KAFKA_TOPICS)",
    )
    parser.add_argument("--group-id", help="consumer group (IMGPIPE_KAFKA_GROUP_ID)")
    parser.add_argument(
        "--dlq-topic",
        help="dead-letter topic (IMGPIPE_KAFKA_DLQ_TOPIC); unset: dead-letter/ in the bucket",
    )
    parser.add_argument(
        "--batch-size", type=int, help="records per batch (IMGPIPE_KAFKA_BATCH_SIZE)"
    )
    parser.add_argument(
        "--workers", type=int, help="threads that process a batch (IMGPIPE_INGEST_WORKERS)"
    )
    parser.add_argument(
        "--log-interval", type=float, default=10.0, help="seconds between progress lines"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve GET /metrics (Prometheus text) on this port; off by default",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address of the metrics endpoint (default loopback: it has no authentication)",
    )


def serve_metrics(host: str, port: int) -> None:
    """The process's metrics over HTTP, from a daemon thread of prometheus-client's."""
    import prometheus_client

    from core.telemetry import metrics

    metrics.exposition()  # registers every metric, so a scrape shows them all from the start
    prometheus_client.start_http_server(port, addr=host)
    logging.getLogger("imgpipe.stream").info("metrics on http://%s:%d/metrics", host, port)


def run(args: argparse.Namespace) -> int:
    from core.bootstrap import build_context
    from core.budget import tune_allocator
    from core.config import settings_with
    from core.events.runner import start_publisher
    from core.loader import LoaderThread
    from core.telemetry.logs import configure as configure_logging
    from core.telemetry.memory import dump_on_signal
    from services.stream_worker.consumer import StreamConsumer
    from services.stream_worker.deadletter import open_dead_letters
    from services.stream_worker.kafka_config import client_config

    settings = settings_with(ingest_workers=args.workers, kafka_batch_size=args.batch_size)
    configure_logging(settings.log_level)
    tune_allocator()  # before the ingest pool's and librdkafka's threads exist, as in serve
    dump_on_signal()
    if args.metrics_port is not None:
        serve_metrics(args.metrics_host, args.metrics_port)
    ctx = build_context(settings)
    dead_letters = open_dead_letters(
        settings, ctx.objects, topic=args.dlq_topic, bootstrap_servers=args.bootstrap_servers
    )
    consumer = StreamConsumer(
        ctx,
        dead_letters,
        topics=args.topics or settings.kafka_topics,
        group_id=args.group_id or settings.kafka_group_id,
        bootstrap_servers=args.bootstrap_servers,
        log_interval=args.log_interval,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("imgpipe.stream").info(
            "%s: finishing the batch in hand", signal.Signals(signum).name
        )
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    interval = settings.load_interval_seconds
    loader = LoaderThread(ctx, interval).start() if interval > 0 else None
    # The results topic lives on the brokers this worker reads (the flag wins over the setting).
    publisher = start_publisher(ctx, lambda s: client_config(s, args.bootstrap_servers))
    try:
        consumer.run()
    finally:
        if loader is not None:
            loader.stop()  # one last load: what was just stored reaches the warehouse
        if publisher is not None:
            publisher.stop()  # one last run: what was just stored is announced
        ctx.close()
    return 0
