"""A dagster-pipes external process: reports a materialization and a log line through the log tail."""

from dagster_pipes import PipesMappingParamsLoader, open_dagster_pipes


def handler(event, context):
    with open_dagster_pipes(params_loader=PipesMappingParamsLoader(event)) as pipes:
        pipes.log.info(f"rows to write: {event['rows']}")
        pipes.report_asset_materialization(metadata={"rows": event["rows"], "request_id": context.aws_request_id})
    return {"ok": True}
