"""Channel plugins: one module per channel, loaded through the broadcaster.channels entry points."""
