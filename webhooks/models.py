from __future__ import annotations

from django.db import models


class WebhookEvent(models.Model):
    """Every provider request, stored before anything else: the audit log and the replay source."""

    class Kind(models.TextChoices):
        MESSAGE = "message", "Inbound message"
        STATUS = "status", "Status callback"
        VERIFY = "verify", "Verification"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        UNROUTABLE = "unroutable", "Unroutable"

    provider = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.TextField(help_text="The public URL the signature was checked against.")
    method = models.CharField(max_length=8, default="POST")
    content_type = models.CharField(max_length=200, blank=True)
    headers = models.JSONField(default=dict, help_text="Only the headers that matter (signature, forwarding).")
    # The raw bytes as received (a NUL or invalid UTF-8 must round-trip for the signature and for replay).
    body = models.BinaryField(blank=True, default=b"")
    body_size = models.PositiveIntegerField(default=0, help_text="Bytes received (the stored body may be cut).")
    body_truncated = models.BooleanField(default=False)
    signature_valid = models.BooleanField(null=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    restaurant = models.ForeignKey("restaurants.Restaurant", null=True, blank=True, on_delete=models.SET_NULL)
    sender = models.ForeignKey("restaurants.Sender", null=True, blank=True, on_delete=models.SET_NULL)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # What became of each item of the request (message stored, duplicate, status applied, skipped and why,
    # failed and why), and the errors the provider reported about the request itself (Meta's value.errors).
    items = models.JSONField(default=list, blank=True)
    provider_errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        # One insert and two updates a request: the sweeps' and /health/'s index only (tests/test_hot_indexes.py).
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} #{self.pk} ({self.status})"

    @property
    def body_text(self) -> str:
        """The body for people to read (bytes that are not UTF-8 shown escaped)."""
        return bytes(self.body).decode("utf-8", errors="backslashreplace")
