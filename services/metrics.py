"""Prometheus metrics, defined once. Names ``leadrouter_*``, few labels, explicit buckets.

With several uvicorn workers the CLI sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start and
``/metrics`` aggregates every worker's samples.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)

INGEST_EVENTS = Counter(
    "leadrouter_ingest_events_total",
    "Inbound lead events by source, kind (lead/activity/feedback/webhook) and outcome",
    ["source", "kind", "outcome"],
)
WEBHOOK_REJECTIONS = Counter(
    "leadrouter_webhook_rejections_total",
    "Webhook deliveries refused, by configured source and reason (signature, payload)",
    ["source", "reason"],
)
REQUEST_LATENCY = Histogram(
    "leadrouter_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class",
    ["route", "method", "status"],
    buckets=_LATENCY_BUCKETS,
)
STAGE_TRANSITIONS = Counter(
    "leadrouter_stage_transitions_total", "Lead stage changes", ["from_stage", "to_stage"]
)
HANDOFFS = Counter("leadrouter_handoffs_total", "Leads handed off to sales, by queue", ["queue"])
FEEDBACK_REJECTED = Counter(
    "leadrouter_feedback_rejected_total",
    "Feedback messages from Kafka that could not apply (logged and skipped), by problem type",
    ["problem"],
)
RECYCLED = Counter(
    "leadrouter_recycled_total", "Leads sales rejected back to marketing, by reason", ["reason"]
)
UNASSIGNED = Counter(
    "leadrouter_unassigned_total", "Leads routed to a queue where no rep could take them", ["queue"]
)
GROUP_COMMIT_SIZE = Histogram(
    "leadrouter_group_commit_batch_size",
    "Requests committed per transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
OUTBOX_PENDING = Gauge(
    "leadrouter_outbox_pending", "Outbox events not yet published to Kafka", multiprocess_mode="max"
)
SLA_OPEN_CLOCKS = Gauge(
    "leadrouter_sla_open_clocks",
    "Live SLA clocks by state (open; warned: past their warning time; paused), counted in the database",
    ["state"],
    multiprocess_mode="max",
)
SLA_ESCALATIONS_PENDING = Gauge(
    "leadrouter_sla_escalations_pending",
    "Breaches whose escalation has not run yet, counted in the database",
    multiprocess_mode="max",
)
CLOCK_WORKER_LAST_CHECK = Gauge(
    "leadrouter_clock_worker_last_check_timestamp_seconds",
    "When this process's clock worker last looked for clocks to warn or breach (Unix time)",
    multiprocess_mode="max",
)
GOAL_TARGET = Gauge(
    "leadrouter_goal_target",
    "The agreement's goal for the current goal period (MQL counts; shares for rates), by goal",
    ["goal"],
    multiprocess_mode="max",
)
GOAL_ACTUAL = Gauge(
    "leadrouter_goal_actual",
    "The current goal period's figure so far, by goal",
    ["goal"],
    multiprocess_mode="max",
)
GOAL_ATTAINMENT = Gauge(
    "leadrouter_goal_attainment_ratio",
    "actual / target of the current goal period, by goal (1 = met)",
    ["goal"],
    multiprocess_mode="max",
)
GOAL_PROJECTED = Gauge(
    "leadrouter_goal_projected_attainment_ratio",
    "The attainment the current goal period ends at if the pace so far holds, by count goal",
    ["goal"],
    multiprocess_mode="max",
)
OUTBOX_PUBLISHED = Counter(
    "leadrouter_outbox_published_total", "Outbox events published, by topic", ["topic"]
)
OUTBOX_PUBLISH_LAG = Histogram(
    "leadrouter_outbox_publish_lag_seconds",
    "Time from an event's commit to its acknowledgement by Kafka",
    buckets=_LAG_BUCKETS,
)
OUTBOX_PUBLISH_FAILURES = Counter("leadrouter_outbox_publish_failures_total", "Failed publish attempts")
SLA_BREACHES = Counter("leadrouter_sla_breaches_total", "SLA clocks breached", ["queue", "obligation"])
SLA_WARNINGS = Counter(
    "leadrouter_sla_warnings_total",
    "SLA clocks past their warning share, not yet due",
    ["queue", "obligation"],
)
SLA_ESCALATIONS = Counter(
    "leadrouter_sla_escalations_total",
    "Escalation actions taken on SLA breaches (reassign, move_to_queue, mark_rep_unavailable, notify, "
    "remediation)",
    ["queue", "obligation", "action"],
)
SLA_MET = Counter("leadrouter_sla_met_total", "SLA obligations met in time", ["queue", "obligation"])
# Business seconds: 15 min, 30 min, 1 h, 2 h, 4 h, 8 h (a working day), 16 h, 24 h, 40 h (a week).
_TOUCH_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 144000)
TIME_TO_FIRST_TOUCH = Histogram(
    "leadrouter_sla_time_to_first_touch_seconds",
    "Time from a lead's first-touch clock start to its first touch (in time or late), counted on the"
    " clock's working calendar, paused time deducted",
    ["queue"],
    buckets=_TOUCH_BUCKETS,
)
SLA_DETECTION_LAG = Histogram(
    "leadrouter_sla_detection_lag_seconds", "Time from a clock's due time to its breach", buckets=_LAG_BUCKETS
)


def render() -> tuple[bytes, str]:
    """The exposition text for ``/metrics`` (all workers' samples in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def start_sla_series(queues: Iterable[str], obligations: Iterable[str]) -> None:
    """Export the SLA counters at 0 for every queue and obligation, before anything happened.

    Prometheus' ``increase()`` needs a sample before the first event: a series that appears at 1
    counts as no increase, and the first breach of a queue would raise no alert.
    """
    for queue in queues:
        for obligation in obligations:
            for counter in (SLA_WARNINGS, SLA_BREACHES, SLA_MET):
                counter.labels(queue, obligation)
