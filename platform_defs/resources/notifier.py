"""Alerts by email through SES: how a failed unattended run reaches the data engineers."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, InitResourceContext

from platform_defs.chain_clients import aws_client
from platform_defs.settings import AwsSettings

__all__ = ["EmailNotifier", "LocalEmailNotifier"]


class EmailNotifier(ConfigurableResource):
    """Sends a plain-text email from a verified SES identity (on AWS, verified by an administrator)."""

    sender: str
    recipients: list[str]
    ui_url: str  # messages link the run there
    region_name: str

    def ses(self) -> Any:
        return aws_client(AwsSettings(self.region_name), "ses")

    def send(self, subject: str, body: str) -> str:
        """Send and return SES's message id."""
        response = self.ses().send_email(
            Source=self.sender,
            Destination={"ToAddresses": list(self.recipients)},
            Message={"Subject": {"Data": subject[:998]}, "Body": {"Text": {"Data": body}}},
        )
        return str(response["MessageId"])


class LocalEmailNotifier(EmailNotifier):
    """The local stack's SES, whose sender identity is verified on first use (nobody else would)."""

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.ses().verify_email_identity(EmailAddress=self.sender)
