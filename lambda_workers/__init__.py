"""Code that runs inside AWS Lambda: the relay-chain workers. Never imports dagster."""
