"""Helpers shared by the test suite: server launchers and free ports."""
