"""Public pages: active alerts for community websites, and alert audio."""
