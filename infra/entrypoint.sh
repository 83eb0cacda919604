#!/bin/sh
# The image's entrypoint, in every container: the webserver, the daemon and each run.
# `baton instance` writes $DAGSTER_HOME/dagster.yaml from the environment (PostgreSQL storage,
# EcsRunLauncher), then the command runs in this process's place and gets ECS's signals.
# EcsRunLauncher replaces only a run container's command (`dagster api execute_run ...`),
# never the entrypoint, so a run passes through here too.
set -eu
baton instance
exec "$@"
