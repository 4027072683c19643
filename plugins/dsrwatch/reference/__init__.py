"""Reference data kept in the repository: PRC-linked organisations, country groups."""
