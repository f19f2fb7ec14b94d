"""Running the worker in production: logs, progress, metrics, health, heartbeats and tick claims."""
