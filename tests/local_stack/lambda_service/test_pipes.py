"""dagster-aws's PipesLambdaClient against the local service: its messages travel in the 4 KB log tail.

The Lambda runtime has no dagster-pipes, so the handler's zip carries it, as a real deployment must.

No `from __future__ import annotations` here: Dagster checks the asset's `context` annotation as an
object, and a postponed (string) annotation fails that check.
"""

from collections.abc import Callable
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, asset, materialize
from dagster_aws.pipes import PipesLambdaClient

from tests.local_stack.lambda_service.helpers import zip_case


def test_pipes_lambda_client_reports_a_materialization(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("pipes_asset.handler", package=zip_case("pipes_asset", distributions=("dagster-pipes",)))

    @asset
    def prices(context: AssetExecutionContext, pipes_lambda: PipesLambdaClient) -> MaterializeResult:
        return pipes_lambda.run(context=context, function_name=name, event={"rows": 42}).get_materialize_result()

    result = materialize([prices], resources={"pipes_lambda": PipesLambdaClient(client=lambda_client)})
    assert result.success
    [materialization] = result.asset_materializations_for_node("prices")
    assert materialization.metadata["rows"].value == 42
    assert len(materialization.metadata["request_id"].value) == 36
