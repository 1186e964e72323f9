"""Follow-up: the escalation engine, door-visit tasks and the field workers' API."""
