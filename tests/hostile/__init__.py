"""The hostile-input suite (a package: its test modules share basenames with tests/unit's, e.g. test_aiddata.py)."""
