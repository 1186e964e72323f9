"""Feeds: CAP 1.2 documents in and out (sensor readings and feed polling come later)."""
