"""Prometheus metrics, one registry per app instance (so tests and replicas do not share globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
WORK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """Requests by command and outcome, ack latency, job runs and failures."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pmbot_requests", "Slack requests handled, by command and outcome",
            ["command", "outcome"], registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "pmbot_ack_seconds", "Time from receiving a Slack request to answering it",
            ["kind"], buckets=ACK_BUCKETS, registry=self.registry,
        )
        self.job_runs = Counter(
            "pmbot_job_runs", "Scheduled job runs, by job and outcome", ["job", "outcome"],
            registry=self.registry,
        )
        self.job_failures = Counter(
            "pmbot_job_failures", "Scheduled job runs that raised", ["job"], registry=self.registry,
        )

        self.work_wait_seconds = Histogram(
            "pmbot_work_wait_seconds", "Time work waited after the ack before it started, by kind",
            ["kind"], buckets=WORK_BUCKETS, registry=self.registry,
        )
        self.work_seconds = Histogram(
            "pmbot_work_seconds", "Time work after the ack took, by kind and outcome",
            ["kind", "outcome"], buckets=WORK_BUCKETS, registry=self.registry,
        )
        self.work_depth = Gauge(
            "pmbot_work_queue_depth", "Work waiting to start: listeners waiting for a slot, queued work items",
            ["queue"], registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
