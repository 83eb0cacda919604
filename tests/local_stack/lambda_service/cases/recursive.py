"""Invokes itself asynchronously, one hop at a time, as Baton's relay mode does."""

import json
import os

import boto3

LAMBDA = boto3.client("lambda")


def handler(event, context):
    with open(event["path"], "a") as out:
        out.write(f"{event['hop']}\n")
    if event["hop"] < event["until"]:
        LAMBDA.invoke(
            FunctionName=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            InvocationType="Event",
            Payload=json.dumps({**event, "hop": event["hop"] + 1}),
        )
    return event["hop"]
