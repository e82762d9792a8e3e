"""Webhook adapters: the httpx sender that POSTs signed Standard Webhooks to merchants."""

from cryptopay.adapters.webhooks.sender import HttpxWebhookSender

__all__ = ["HttpxWebhookSender"]
