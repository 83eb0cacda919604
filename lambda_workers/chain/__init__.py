"""The relay chain: its protocol (statuses, results, chunk keys), cursor store, budget, chunk writer, runner, relay."""
