"""Start, drive, watch and halt relay chains from Dagster.

Driven mode: the asset invokes one link after another (synchronous invokes) and sees each
link's result; a link killed at its deadline is simply invoked again, since it committed
nothing. Interrupting the run (a terminated Dagster run) sets the chain's halt flag, so a link
still in flight is the last one. Relay mode: the asset launches the first link and the links
invoke each other; the relay sensor follows the cursor records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from dagster import ConfigurableResource, Failure

from lambda_workers.chain.cursor_store import CursorRecord, SsmCursorStore
from lambda_workers.chain.fence import LinkFence
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainMode, ChainStatus
from lambda_workers.events import ChainAddress, LinkEvent, Validation
from lambda_workers.exceptions import WorkerError, error_from_payload
from platform_defs.chain_clients import aws_client, lambda_client
from platform_defs.datasets import Dataset, SourceSettings
from platform_defs.settings import AwsSettings

__all__ = ["ChainResource"]


class ChainResource(ConfigurableResource):
    """The chain function and where its cursors live; clients are built from these fields."""

    function_name: str
    deployment: str
    region_name: str
    vendor_base_url: str
    vendor_secret_parameter: str
    max_links: int = 500
    page_size: int = 10_000  # rows per vendor page: smaller pages, finer-grained cursors and links
    max_attempts_per_link: int = 3
    stall_after_seconds: int = 1800  # a running chain with no commit for this long has stalled (2 full links)

    def _aws(self) -> AwsSettings:
        return AwsSettings(self.region_name)

    def ssm(self) -> Any:
        """Parameter Store, where the cursor records and halt flags live."""
        return aws_client(self._aws(), "ssm")

    def store(self) -> SsmCursorStore:
        return SsmCursorStore(self.ssm())

    def halt(self, chain: ChainAddress) -> None:
        self.store().set_halt(self.deployment, chain, True)

    def start_event(
        self,
        dataset: Dataset,
        chain: ChainAddress,
        bucket: str,
        full_refresh: bool = False,
        key_range: tuple[str, str] | None = None,
        mode: ChainMode = ChainMode.DRIVEN,
    ) -> LinkEvent:
        """The event that starts (or resumes) `chain`, in the worker's own event type."""
        settings = SourceSettings(self.vendor_base_url, self.vendor_secret_parameter, bucket, self.page_size)
        source = dataset.build_source(settings, chain.partition)
        if key_range is not None:
            source["params"] = {**source.get("params", {}), "symbol_from": key_range[0], "symbol_to": key_range[1]}
        prefix_partition = chain.partition if not chain.shard else f"{chain.partition}/{chain.shard}"
        checks = dataset.validation
        return LinkEvent(
            action="start",
            deployment=self.deployment,
            chain=chain,
            mode=mode,
            max_links=self.max_links,
            full_refresh=full_refresh,
            source=source,
            bucket=bucket,
            prefix=dataset.raw_prefix(prefix_partition),
            quarantine_prefix=dataset.quarantine_prefix(prefix_partition),
            validation=Validation(tuple(checks["required"]), checks["types"]),
        )

    def drive(self, event: LinkEvent, on_link: Callable[[LinkResult], None]) -> LinkResult:
        """Run the chain link by link until it stops; `on_link` sees every link's result."""
        self.store().set_halt(self.deployment, event.chain, False)
        client = lambda_client(self._aws())
        payload = event.to_dict()
        in_flight = False
        try:
            while True:
                in_flight = True
                result = self._invoke_link(client, payload)
                in_flight = False
                on_link(result)
                if result.status != ChainStatus.RUNNING or result.chain_id is None:
                    return result
                payload = event.continuation(result.chain_id, result.link + 1)
        except BaseException as exc:
            if not isinstance(exc, Failure):
                self._stop(event.chain, in_flight)
            raise

    def launch(self, event: LinkEvent) -> str:
        """Relay mode: hand the first link to Lambda asynchronously and return at once.

        The links then pass the baton among themselves; `records` (read by the relay sensor)
        is how Dagster learns where the chain stands. Returns the invocation's request id.
        """
        self.store().set_halt(self.deployment, event.chain, False)
        response = lambda_client(self._aws()).invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(event.to_dict())
        )
        return str(response["ResponseMetadata"]["RequestId"])

    def records(self) -> Iterator[tuple[ChainAddress, CursorRecord]]:
        """Every chain record of this deployment, as the links committed them."""
        return self.store().records(self.deployment)

    def _stop(self, chain: ChainAddress, link_in_flight: bool) -> None:
        """The driving run was interrupted: flag the chain to halt.

        A link in flight sees the flag when it commits and records the halt itself; with none in
        flight (the usual case: Dagster delivers the interrupt once the invoke has returned),
        nobody else would, so the driver records it and a rerun can resume at once.
        """
        self.halt(chain)
        if not link_in_flight:
            now = datetime.now(UTC).isoformat()
            self.store().mark_halted(self.deployment, chain, "halted: the run driving it was interrupted", now)

    def drive_shards(
        self, events: list[LinkEvent], on_link: Callable[[LinkResult], None], max_concurrency: int
    ) -> list[LinkResult]:
        """Drive one chain per shard, at most `max_concurrency` at a time; results in shard order."""
        with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="shard") as pool:
            return list(pool.map(lambda event: self.drive(event, on_link), events))

    def _invoke_link(self, client: Any, event: dict[str, Any]) -> LinkResult:
        """One link, invoked again (up to `max_attempts_per_link`) unless its error says a retry cannot help.

        A link that Lambda killed (`LinkDiedError`) committed nothing past its last commit, so
        running it again is safe; an event or a record that does not parse stays so.
        """
        error: WorkerError | None = None
        problem: Any = None
        for _ in range(self.max_attempts_per_link):
            response = client.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
            payload = json.loads(response["Payload"].read() or b"null")
            if "FunctionError" not in response:
                return LinkResult.from_payload(payload)
            problem, error = payload, error_from_payload(payload)
            if error.permanent:
                break
            # The invocation has ended, so its lease (if it claimed one) guards nothing: break it,
            # or the retry would find the link taken until the dead attempt's deadline.
            fence = LinkFence(aws_client(self._aws(), "s3"), event["sink"]["bucket"], self.deployment)
            fence.break_held_by(ChainAddress(**event["chain"]), response["ResponseMetadata"]["RequestId"])
        raise Failure(
            description=f"link {event.get('link', 1)} of {event['chain']} failed: {type(error).__name__}: {error}",
            metadata={"error": json.dumps(problem)[:2000]},
        ) from error
