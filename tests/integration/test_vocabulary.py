"""Severities and categories are defined once (dsrwatch/vocabulary.py); SQL reads the same words."""

import pytest

from dsrwatch import vocabulary
from dsrwatch.warehouse import ensure_schema

from helpers.db import query

pytestmark = pytest.mark.integration


def test_sql_reads_the_python_vocabulary(warehouse):
    assert sorted(query(warehouse, "SELECT severity, weight, rank FROM risk.severity_weights")) == sorted(
        vocabulary.severity_rows())
    assert sorted(query(warehouse, "SELECT entity_kind, category, label, position FROM risk.entity_categories")) == \
        sorted(vocabulary.category_rows())  # fmt: skip
    kinds = {r[0] for r in query(warehouse, """SELECT DISTINCT substring(table_name FROM 'entities__(.*)')
                                                 FROM information_schema.views
                                                WHERE table_schema = 'risk' AND table_name LIKE 'entities\\_\\_%'""")}
    assert kinds == set(vocabulary.KIND_CATEGORIES)  # every entity kind has its category


def test_a_drifted_table_is_put_back(warehouse):
    query(warehouse, "UPDATE risk.severities SET weight = 100 WHERE severity = 'low' RETURNING 1")
    ensure_schema(warehouse)
    assert query(warehouse, "SELECT weight FROM risk.severities WHERE severity = 'low'") == [(1,)]
