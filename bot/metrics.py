"""Prometheus metrics, one registry per app instance (so tests and replicas do not share globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


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

    def render(self) -> bytes:
        return generate_latest(self.registry)
