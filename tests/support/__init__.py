"""The rigs only the tests use (never shipped): importable as `support`, since pytest puts tests/ on the
path (pyproject.toml)."""
