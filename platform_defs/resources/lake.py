"""The lake bucket: where the raw, lake and quarantine zones live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from dagster import ConfigurableResource, InitResourceContext
from dagster_aws.s3 import S3Resource

from platform_defs.chain_clients import shared_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Lake", "LocalLake"]


class Lake(ConfigurableResource):
    """The lake bucket on AWS, which infrastructure (infra/) creates; Baton only uses it."""

    bucket: str
    s3: S3Resource
    superseded_raw_days: float = 7.0
    """How long a chain's raw data is kept once a newer full chain of its partition replaced it.

    Superseded chains are not read by the lake step; within this time they can still be looked
    at (or restored to by rebuilding without the newer chain), after it the lake step removes them.
    """

    def client(self) -> S3Client:
        """The S3 client of this resource's configuration, one per process (`shared_client`)."""
        return shared_client(("s3-resource", self.s3.model_dump_json()), self.s3.get_client)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key.lstrip('/')}"


class LocalLake(Lake):
    """The lake bucket on the local stack, created on first use so a fresh stack needs no set-up."""

    def setup_for_execution(self, context: InitResourceContext) -> None:
        client = self.client()
        try:
            client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            client.create_bucket(Bucket=self.bucket)
