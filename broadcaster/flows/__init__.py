"""Flows: the orchestration (issue, approve, update, confirm, follow up, ingest) that faces call."""
