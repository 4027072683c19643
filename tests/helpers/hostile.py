"""The hostile-input harness (tests/hostile): load a good version of a source, then a hostile one, and check three
things - the documented outcome (record set aside, run quarantined, run failed, or loaded as
plain data) with its message; that the warehouse's other data is unchanged; that the raw payload
of the hostile run is kept.

Each source's cases live in ``test_<source>.py`` as ``Case`` objects; the row-count bounds of the
real sources are dropped (fixtures are a few rows) but the change guard and record rules are
enforced, with a guard tolerance of one entity so a five-entity fixture can still be judged.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

from dsrwatch import pipeline
from dsrwatch.fetching import FetchError
from dsrwatch.sources import get_source
from dsrwatch.sources.base import SourceFormatError

from helpers.db import query, scalar, table_fingerprint

SET_ASIDE, QUARANTINED, FAILED, LOADED = "set aside", "quarantined", "failed", "loaded"


@dataclass(frozen=True)
class Case:
    """One hostile input. ``corrupt(root)`` damages a replay directory that holds the good version;
    ``message`` is a regex the user-facing message must match (the set-aside reason, or the error)."""

    id: str
    corrupt: Callable[[Path], None]
    outcome: str
    message: str
    record_key: str | None = None  # for SET_ASIDE: the key the record is filed under
    field: str | None = None  # for SET_ASIDE: the field named, when one is
    spec_changes: dict = dataclass_field(default_factory=dict)  # e.g. a small max_payload_bytes, fixture-sized bounds




def make_runner(warehouse, replay_into, monkeypatch):
    """``hostile(source, write_good, case, changed_tables=())``: runs the case, asserts the three things."""

    def run(source: str, write_good: Callable[[Path], None], case: Case, changed_tables: tuple[str, ...] = ()):
        module = get_source(source)
        spec = dataclasses.replace(module.SOURCE, **{
            "expectations": (), "change_guard": dataclasses.replace(module.SOURCE.change_guard, always_allowed=1),
            **case.spec_changes})  # fmt: skip
        monkeypatch.setattr(module, "SOURCE", spec)
        replay_into("good", write_good)
        assert pipeline.run_source(source).status == "succeeded"
        before = table_fingerprint(warehouse)

        def write_bad(root: Path) -> None:
            write_good(root)
            case.corrupt(root)

        replay_into("hostile", write_bad)
        error = None
        try:
            summary = pipeline.run_source(source)
        except (pipeline.RunQuarantined, pipeline.LoadFailed, FetchError, SourceFormatError) as exc:
            error, summary = exc, None
        run_id = scalar(warehouse, "SELECT max(run_id) FROM ops.source_runs WHERE source = %s", (source,))
        status, run_error = query(warehouse, "SELECT status, error FROM ops.source_runs WHERE run_id = %s",
                                  (run_id,))[0]  # fmt: skip
        records = query(warehouse, """SELECT record_key, field, reason, url FROM analyst.quarantined_records
                                       WHERE run_id = %s""", (run_id,))  # fmt: skip
        if case.outcome == SET_ASIDE:
            assert error is None and summary.status == "succeeded", (case.id, error)
            assert len(records) == 1, (case.id, records)
            key, field_name, reason, _ = records[0]
            assert re.search(case.message, reason), (case.id, reason)
            if case.record_key is not None:
                assert key == case.record_key, (case.id, key)
            if case.field is not None:
                assert field_name == case.field, (case.id, field_name)
        elif case.outcome == LOADED:
            assert error is None and summary.status == "succeeded" and records == [], (case.id, error, records)
        else:
            expected = {QUARANTINED: "quarantined", FAILED: "failed"}[case.outcome]
            assert status == expected and error is not None, (case.id, status, error)
            assert re.search(case.message, str(error)), (case.id, str(error))
            assert source in str(error) or "https://" in str(error), (case.id, str(error))  # says where
            assert not isinstance(error, pipeline.LoadFailed) or "Error: " in str(error), case.id
        after = table_fingerprint(warehouse)
        unchanged = {t for t in before if t not in changed_tables}
        assert {t: after[t] for t in unchanged} == {t: before[t] for t in unchanged}, (
            case.id, [t for t in unchanged if after[t] != before[t]])
        assert scalar(warehouse, "SELECT count(*) FROM raw.http_responses WHERE run_id = %s", (run_id,)) > 0, case.id
        return error, summary

    return run
