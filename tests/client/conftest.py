"""Tests of the kernel-side client (tests/conftest.py provides the shared fixtures)."""
