"""Shared test support: the per-test `Env` with an engine adapter (no engine branches in tests), the recorders
of outputs and crash faults that the suite-wide leak and crash checks read, and network fault proxies."""
