"""CRM webhooks: per-source signature checks, payload adapters and field mapping."""
