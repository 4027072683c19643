"""The weekly alert email: a digest of new risk flags, sent exactly once per list and interval.

* ``digest``   - what an interval [start, end) reports, read from risk.* (net change, per entity);
* ``render``   - the message: HTML and text (Jinja2), chart (matplotlib), CSV, MIME tree;
* ``delivery`` - the ledger ops.alert_digests, SMTP through Airflow's smtp provider, the outbox;
* ``settings`` - schedule, recipient lists, connection id (cheap: the DAG file reads it);
* (the Airflow task that runs it is in ``dsrwatch.orchestration``, the DAG factory).

Importing this package imports nothing heavy; ``send_weekly_digest`` and ``send_digest_since_last``
load the delivery module on first use.
"""

from __future__ import annotations

__all__ = ["send_digest_since_last", "send_weekly_digest"]


def __getattr__(name: str):
    if name in __all__:
        from dsrwatch.alerts import delivery

        return getattr(delivery, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
