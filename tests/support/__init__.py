"""Helpers the tests (and the benchmark) share: real servers and configuration files."""
