"""The quarantine check on real data: replay the real TeleGeography 2022 snapshot (with V-Dem
regimes), evaluate flags, then replay the same snapshot with its cable index cut to a tenth, and
with an empty index; then the real snapshot again. Prints what each run did and whether any
entity left or any flag resolved. Needs ../shared/public-data; writes nothing into the project.

    .venv/bin/python bench/shrink_check.py            # or: make shrink-check
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "bench"))

from benchmark import REGIMES_SNAPSHOT, SNAPSHOT, fresh_database  # noqa: E402

INDEX = Path("www.submarinecablemap.com/api/v3/cable/all.json")


def state(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            "cables_present": conn.execute(
                "SELECT count(*) FROM core.submarine_cables WHERE removed_at IS NULL").fetchone()[0],
            "flags_open": conn.execute("SELECT count(*) FROM risk.flags WHERE resolved_at IS NULL").fetchone()[0],
            "flags_resolved": conn.execute(
                "SELECT count(*) FROM risk.flags WHERE resolved_at IS NOT NULL").fetchone()[0],
            "changes_recorded": conn.execute("SELECT count(*) FROM core.entity_changes").fetchone()[0],
        }  # fmt: skip


def main() -> int:
    if not (SNAPSHOT / INDEX).exists():
        print(f"needs the real snapshot at {SNAPSHOT}", file=sys.stderr)
        return 2
    admin = os.environ.get("DSR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = fresh_database(admin, "dsr_shrink_check")
    os.environ.update(DSR_WAREHOUSE_URL=url, DSR_POLITENESS_DELAY="0", DSR_EXPECTATIONS="enforce")
    from dsrwatch import pipeline
    from dsrwatch.risk.engine import evaluate
    from dsrwatch.warehouse import ensure_schema

    ensure_schema(url)
    index = json.loads((SNAPSHOT / INDEX).read_text())
    with tempfile.TemporaryDirectory() as overlay_root:

        def run(label: str, index_override: list | None) -> None:
            dirs = [str(SNAPSHOT), str(REGIMES_SNAPSHOT)]
            if index_override is not None:  # an overlay directory searched first holds the cut index
                overlay = Path(overlay_root) / label
                (overlay / INDEX).parent.mkdir(parents=True)
                (overlay / INDEX).write_text(json.dumps(index_override))
                dirs.insert(0, str(overlay))
            os.environ["DSR_REPLAY_DIR"] = ":".join(dirs)
            try:
                summary = pipeline.run_source("submarine_cables")
                outcome = summary.line()
            except pipeline.RunQuarantined as exc:
                outcome = f"QUARANTINED: {exc}"
            evaluate()
            print(f"{label:<14} {outcome}\n{'':<14} after flags: {state(url)}")

        os.environ["DSR_REPLAY_DIR"] = str(REGIMES_SNAPSHOT)
        for reference in ("reference_data", "political_regimes"):
            pipeline.run_source(reference)
        run("real", None)
        run("tenth", index[: len(index) // 10])
        run("empty", [])
        run("real again", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
