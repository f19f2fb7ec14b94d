"""clomo-sync: keeps each tenant's CLOMO accounts in step with its user directory."""

__version__ = "0.1.0"
