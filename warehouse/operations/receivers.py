"""Counters fed by signals (filled in with /metrics)."""
