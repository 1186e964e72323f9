"""Feeds: CAP 1.2 in (pushed and polled) and out, sensor readings judged by threshold rules."""
