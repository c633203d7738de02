"""Prometheus metrics, on a registry of their own so tests and several apps in one process never clash."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from storage.ledger import Takings

_STAGE_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600, 1200)


class LedgerMetrics(Collector):
    """Purchases, refunds and credits held, as the ledger has them when /metrics is read.

    Read from the ledger rather than counted as they happen, so they never drift from it: a restart, a
    payment credited by the reconciliation or by another replica, all show. Nothing while payments are off.
    """

    def __init__(self) -> None:
        self._takings: Takings | None = None
        self._held = 0

    def update(self, takings: Takings, held: int) -> None:
        self._takings, self._held = takings, held

    def collect(self) -> Iterator[Metric]:
        t = self._takings
        if t is None:
            return
        yield CounterMetricFamily("bot_star_purchases", "Payments in Telegram Stars credited", t.purchases)
        yield CounterMetricFamily("bot_star_purchase_stars", "Telegram Stars received", t.purchase_stars)
        yield CounterMetricFamily("bot_star_refunds", "Payments refunded", t.refunds)
        yield CounterMetricFamily("bot_star_refund_stars", "Telegram Stars refunded", t.refund_stars)
        yield CounterMetricFamily("bot_credits_spent", "Credits spent on songs (holds settled)", t.spent)
        yield GaugeMetricFamily("bot_credits_held", "Credits held by songs in the making", self._held)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tasks_created = Counter("bot_tasks_created", "Tasks accepted from people", ["kind"], registry=r)
        self.tasks_finished = Counter(
            "bot_tasks_finished",
            "Tasks that ended, by outcome and failure code",
            ["kind", "outcome", "code"],
            registry=r,
        )
        self.tasks_refused = Counter(
            "bot_tasks_refused", "Requests refused before the provider", ["reason"], registry=r
        )
        self.stage_latency = Histogram(
            "bot_stage_latency_seconds",
            "Seconds from submission to each stage",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.callbacks = Counter("bot_callbacks", "Provider callbacks received", ["result"], registry=r)
        self.polls = Counter("bot_polls", "record-info polls", ["result"], registry=r)
        self.provider_errors = Counter("bot_provider_errors", "Provider errors by code", ["code"], registry=r)
        self.telegram_errors = Counter("bot_telegram_errors", "Bot API errors by kind", ["code"], registry=r)
        self.updates_dropped = Counter(
            "bot_updates_dropped", "Updates dropped: their sender had too many waiting already", registry=r
        )
        self.delivered_tracks = Counter("bot_delivered_tracks", "Tracks sent as audio", registry=r)
        self.studio_files = Counter(  # bot/studio/delivery.py
            "bot_studio_files", "Studio results sent, by task kind and how", ["kind", "how"], registry=r
        )
        self.delivery_bytes = Counter(
            "bot_delivery_bytes",
            "Bytes through the bot for delivered tracks (downloaded from the provider plus uploaded to "
            "Telegram, cover included), by how the audio went: by URL for Telegram to fetch, or uploaded",
            ["how"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "bot_delivery_seconds",
            "Seconds to send one track, by URL or downloaded and uploaded",
            buckets=(0.5, 1, 2, 5, 10, 20, 40, 80),
            registry=r,
        )
        self.telegram_call_seconds = Histogram(
            "bot_telegram_call_seconds",
            "Seconds from sending a paced Bot API call to its answer (its slot is held that long + 1 s)",
            ["method"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.queue_length = Gauge(
            "bot_provider_queue_length", "Requests waiting for the provider budget", registry=r
        )
        self.active_tasks = Gauge("bot_active_tasks", "Tasks not finished yet", registry=r)
        self.ledger = LedgerMetrics()
        r.register(self.ledger)

    def render(self) -> bytes:
        return generate_latest(self.registry)
