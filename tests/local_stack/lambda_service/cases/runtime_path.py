"""Reports what the interpreter sees and uses boto3, which the Lambda runtime provides."""

import json
import os
import pkgutil
import sys

import boto3

SQS = boto3.client("sqs")


def describe(event, context):
    SQS.send_message(QueueUrl=event["queue"], MessageBody=json.dumps({"sent_by": context.function_name}))
    return {
        "path": sys.path,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "isolated": sys.flags.isolated,
        "no_site": sys.flags.no_site,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"],
        "runtime_modules": sorted(module.name for module in pkgutil.iter_modules([os.environ["LAMBDA_RUNTIME_DIR"]])),
        "boto3_file": boto3.__file__,
    }
