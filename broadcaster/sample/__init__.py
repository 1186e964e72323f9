"""The fictional sample district of demos and benchmarks: its geography, households and logins."""
