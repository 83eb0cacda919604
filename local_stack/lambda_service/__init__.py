"""A faithful local AWS Lambda: boto3's Lambda client talks to it unchanged through `endpoint_url`.

Functions run as real awslambdaric processes against a local Runtime API, in an interpreter that
sees only the function's zip, the runtime client, boto3 and the standard library (as on AWS), with
Lambda's timeouts (hard kill), memory limit, warm reuse, payload limits, asynchronous retries and
destinations, reserved concurrency and recursive loop detection. Run it with
`python -m local_stack.lambda_service --host 127.0.0.1 --port PORT --state-dir DIR`, or embed
`LambdaService(host, port, state_dir)`.
"""

from __future__ import annotations

from local_stack.lambda_service.service import LambdaService

__all__ = ["LambdaService"]
