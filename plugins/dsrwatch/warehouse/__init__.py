"""The warehouse: which PostgreSQL, how to connect, and keeping its schema current."""

from dsrwatch.warehouse.connection import connect, describe_location, resolve_url
from dsrwatch.warehouse.schema import ensure_schema

__all__ = ["connect", "describe_location", "ensure_schema", "resolve_url"]
