"""Rows the operator's probes and metrics read: workers' heartbeats and shared counters."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """A task worker that is alive: it rewrites ``beat_at`` every
    ``WORKER_HEARTBEAT_INTERVAL`` seconds and deletes its row when it stops cleanly
    (``operations/heartbeat.py``). A killed worker's row just ages."""

    worker = models.CharField(max_length=64, primary_key=True, help_text="The worker's id.")
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker} (last beat {self.beat_at:%Y-%m-%d %H:%M:%S})"


class Counter(models.Model):
    """A counter every process adds to (web, workers, commands), read by ``/metrics``.

    One row per metric and label set, incremented with one upsert
    (``operations.counters.add``), so no process keeps counts of its own that a
    restart would lose and Prometheus needs no multiprocess directory.
    """

    key = models.CharField(max_length=200, primary_key=True)
    value = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.key} = {self.value:g}"


class SiteHealth(models.Model):
    """Each Site's last recorded connection test, kept beside the history for ``/metrics``.

    Counting Sites by their last outcome from the history reads every Site's latest row
    (10,000 index lookups, over 100 ms); this table is written with one upsert when a test
    is recorded (``counters.connection_test``), so a scrape reads 10,000 small rows.
    """

    site = models.OneToOneField(
        "sites.Site", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    outcome = models.CharField(max_length=40)
    tested_at = models.DateTimeField()
    minute_limit_remaining = models.IntegerField(null=True)
    day_limit_remaining = models.IntegerField(null=True)

    def __str__(self) -> str:
        return f"site {self.site_id}: {self.outcome} at {self.tested_at:%Y-%m-%d %H:%M}"
