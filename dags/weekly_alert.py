"""Weekly alert email: a digest of the risk flags that are new, back, re-rated or resolved.

Every Monday 06:00 UTC (DSR_ALERT_CRON) the run's data interval is the week that just ended
(CronDataIntervalTimetable: start = previous tick, end = this tick). Each recipient list gets
that week's digest exactly once (ledger ops.alert_digests): reruns and retries send nothing
twice. catchup=True: a week missed while the scheduler was down goes out when it is back; weeks
that end before the first risk evaluation are recorded as skipped, so a first deployment sends no
backlog. `make run` triggers it with {"since_last_digest": true}: everything since the last digest.
"""

from datetime import UTC, datetime

from airflow.sdk import dag
from airflow.timetables.interval import CronDataIntervalTimetable

from dsrwatch.alerts.settings import alert_cron
from dsrwatch.orchestration import DEFAULT_ARGS, weekly_alert_task


@dag(
    schedule=CronDataIntervalTimetable(alert_cron(), timezone="UTC"),
    start_date=datetime(2026, 11, 2, tzinfo=UTC),  # a Monday; older weeks would be skipped anyway
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dsrwatch", "alert"],
    doc_md=__doc__,
)
def weekly_alert():
    weekly_alert_task()


weekly_alert()
