"""The fence: of two copies of one link running at once, exactly one may write, commit and hand on.

Parameter Store has no compare-and-set, so the cursor record cannot decide between two copies of
a link (an at-least-once asynchronous delivery, a driver retrying while a slow invoke still
runs). S3 conditional writes can: a link *claims* its chain's lease object with `If-None-Match: *`
(none yet) or `If-Match: <etag>` (replacing a lease it may take), and of racing claimants S3 lets
exactly one succeed. The winner renews the lease, again by `If-Match`, before every commit, so a
copy that lost its lease can never commit; it releases the lease when it ends, so the next link
claims at once.

A lease names the chain, the link, the holding request and when it expires: the holder's own
deadline plus a margin. Lambda kills an invocation at its deadline, so past that a holder cannot
be writing; before it, another copy of the link must treat the link as taken. A holder that died
early leaves its lease until then, unless the platform, which saw the death (a FunctionError, or
the on-failure destination), breaks it with `break_held_by`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import BucketMissingError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["LEASE_MARGIN_SECONDS", "Lease", "LeaseLostError", "LinkFence", "LinkHeldError", "lease_key"]

LEASE_MARGIN_SECONDS = 10.0
"""Past the holder's deadline: covers the clock difference between two Lambda hosts."""


def lease_key(deployment: str, chain: ChainAddress) -> str:
    """`control/leases/<deployment>/<chain>.json`, in the chain's own bucket."""
    return f"control/leases/{deployment}/{chain.path()}.json"


@dataclass(frozen=True)
class Lease:
    """Who may work on one link of a chain, until when (epoch seconds)."""

    chain_id: str
    link: int
    request_id: str
    expires_at: float
    etag: str = ""

    def live(self, now: float) -> bool:
        return self.expires_at > now

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at))
        return f"link {self.link} of chain {self.chain_id} is held by request {self.request_id} until {when}"


class LinkHeldError(Exception):
    """Another copy holds the link: this one must neither write nor commit."""

    def __init__(self, holder: Lease):
        super().__init__(holder.describe())
        self.holder = holder


class LeaseLostError(Exception):
    """The lease changed hands while this copy worked (it outlived its own deadline): it must not commit."""


class LinkFence:
    """The leases of one deployment's chains, as S3 objects in the chain's bucket."""

    def __init__(self, client: S3Client, bucket: str, deployment: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._bucket = bucket
        self._deployment = deployment
        self._clock = clock

    def holder(self, chain: ChainAddress) -> Lease | None:
        """The lease as it stands (live or not), or None if the chain never had one."""
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=lease_key(self._deployment, chain))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchBucket":
                raise BucketMissingError(self._bucket) from exc
            if code in ("NoSuchKey", "404"):
                return None
            raise
        body = json.loads(response["Body"].read())
        return Lease(**body, etag=response["ETag"])

    def claim(self, chain: ChainAddress, chain_id: str, link: int, request_id: str, expires_at: float) -> Lease:
        """Take the link's lease, or raise `LinkHeldError` naming the copy that has it.

        A live lease on this link (or a later one) of the same chain is taken. Any other may be
        replaced: there is none, it has expired, it is an earlier link's (committed, since this
        link was sent), or another chain's (superseded: its holder's renewal will fail, so it
        cannot commit).
        """
        current = self.holder(chain)
        taken = current is not None and current.live(self._clock()) and current.chain_id == chain_id
        if current is not None and taken and current.link >= link:
            raise LinkHeldError(current)
        try:
            return self._put(chain, Lease(chain_id, link, request_id, expires_at), replacing=current)
        except LeaseLostError as exc:
            winner = self.holder(chain)
            if winner is None:
                raise
            raise LinkHeldError(winner) from exc

    def renew(self, lease: Lease, chain: ChainAddress, expires_at: float) -> Lease:
        """Extend the lease before a commit; `LeaseLostError` if it is no longer this copy's."""
        return self._put(chain, replace(lease, expires_at=expires_at), replacing=lease)

    def release(self, lease: Lease, chain: ChainAddress) -> None:
        """Expire the lease now, so the next link claims it at once; a lease already taken over is left alone."""
        try:
            self._put(chain, replace(lease, expires_at=0.0), replacing=lease)
        except LeaseLostError:
            return

    def break_held_by(self, chain: ChainAddress, request_id: str) -> bool:
        """Expire the lease if `request_id` (known dead) still holds it; True if it did."""
        current = self.holder(chain)
        if current is None or current.request_id != request_id or not current.live(self._clock()):
            return False
        try:
            self._put(chain, replace(current, expires_at=0.0), replacing=current)
        except LeaseLostError:
            return False
        return True

    def _put(self, chain: ChainAddress, lease: Lease, replacing: Lease | None) -> Lease:
        body = json.dumps({k: v for k, v in asdict(lease).items() if k != "etag"}).encode()
        condition: dict[str, Any] = {"IfMatch": replacing.etag} if replacing is not None else {"IfNoneMatch": "*"}
        try:
            response = self._client.put_object(
                Bucket=self._bucket, Key=lease_key(self._deployment, chain), Body=body, **condition
            )
        except ClientError as exc:
            # 412: the condition failed; 409: S3 saw a racing conditional write to the same key.
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                winner = self.holder(chain)
                raise LeaseLostError(winner.describe() if winner else "the lease was removed") from exc
            raise
        return replace(lease, etag=response["ETag"])
