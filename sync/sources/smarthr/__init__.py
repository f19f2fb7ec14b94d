"""SmartHR (`kind = "smarthr"`): crews read through SmartHR's REST API (docs/smarthr.md)."""
