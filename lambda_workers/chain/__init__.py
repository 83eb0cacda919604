"""The relay chain: cursor store, time budget, chunk writer, runner and relay."""
