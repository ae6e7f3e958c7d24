"""Backends: where a session's conversation really happens."""
