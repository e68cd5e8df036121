"""The test harness: real servers (PostgreSQL, moto S3, a Kafka-protocol broker) on loopback."""

pytest_plugins = [
    "tests.harness.postgres",
    "tests.harness.s3",
    "tests.harness.kafka",
    "tests.harness.disk",
]
