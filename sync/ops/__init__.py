"""Running the worker in production: logs, progress, metrics and health."""
