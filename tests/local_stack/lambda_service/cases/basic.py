"""Handlers for the everyday paths: context, environment, warm reuse, errors and payload sizes."""

import os
import time

INIT_RUNS = 1  # module-level code runs once per execution environment
CALLS = 0
print("basic: module initialised")


def describe(event, context):
    global CALLS
    CALLS += 1
    print("basic: describing", event.get("tag", ""))
    return {
        "init_runs": INIT_RUNS,
        "calls": CALLS,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "client_custom": context.client_context.custom if context.client_context else None,
        "environ": {key: os.environ.get(key) for key in event.get("variables", [])},
    }


def fail(event, context):
    raise ValueError(f"refusing {event.get('tag', 'this')}")


def exit_process(event, context):
    os._exit(event["code"])


def sleep(event, context):
    time.sleep(event.get("seconds", 0.5))
    return {"pid": os.getpid()}


def payload_size(event, context):
    return {"received": len(event.get("data", ""))}


def respond_with(event, context):
    return "x" * event["size"]


def chatty(event, context):
    for line in range(event["lines"]):
        print(f"line {line:05d} " + "." * 90)
    return "done"
