"""The reference seeds read from a replay directory instead of the checkout (reference_data's own
fetch reads plugins/dsrwatch/reference/), so a test can load edited or damaged copies."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from dsrwatch.fetching import FetchedResponse
from dsrwatch.sources import reference_data

SEEDS = {url: Path("repo") / path.name for url, path in reference_data.SEED_FILES.items()}


def fetch_from_replay(fetcher, cursor=None):
    """A stand-in for reference_data.fetch: the seed files as they are in DSR_REPLAY_DIR."""
    root = Path(os.environ["DSR_REPLAY_DIR"])
    for url, relative in SEEDS.items():
        yield FetchedResponse(url=url, http_status=200, body=(root / relative).read_bytes(),
                              fetched_at=datetime.now(UTC), content_type="application/yaml",
                              replayed_from=str(root / relative))  # fmt: skip


def write_seeds(root: Path) -> Path:
    """Copy the project's seed files into ``root`` (the layout fetch_from_replay reads)."""
    for url, relative in SEEDS.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(reference_data.SEED_FILES[url].read_bytes())
    return root
