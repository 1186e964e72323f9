"""Reports: read-only views of an alert across domains (counts, progress, exports, scorecards)."""
