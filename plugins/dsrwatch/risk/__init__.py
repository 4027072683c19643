"""Risk patterns and the flag engine (sql/risk_patterns)."""
