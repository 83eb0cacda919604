"""A dagster-pipes external process: reports a materialization and a log line through the log tail.

dagster-pipes is not in the Lambda runtime: the test bundles it into this handler's zip.
"""

from dagster_pipes import PipesMappingParamsLoader, open_dagster_pipes


def handler(event, context):
    with open_dagster_pipes(params_loader=PipesMappingParamsLoader(event)) as pipes:
        pipes.log.info(f"rows to write: {event['rows']}")
        pipes.report_asset_materialization(metadata={"rows": event["rows"], "request_id": context.aws_request_id})
    return {"ok": True}
