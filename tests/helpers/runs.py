"""Run a source the way its DAG's first two tasks do."""

from dsrwatch import pipeline


def load_source(name: str) -> pipeline.RunSummary:
    """fetch -> raw -> parse -> core for one source; returns the run's summary."""
    return pipeline.load_from_raw(pipeline.fetch_to_raw(name))
