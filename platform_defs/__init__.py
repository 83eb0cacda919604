"""Baton's Dagster code location: assets, resources, schedules and sensors."""
