"""Normalisation shared by every source: countries, organisations, numbers, dates."""
