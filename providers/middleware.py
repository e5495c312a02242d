"""Webhook bodies over the provider's limit are refused (413) before any view reads or
stores them: a real provider's webhook is a few KiB."""

from __future__ import annotations

from django.http import HttpResponse

from .adapters import NotSupported
from .adapters.inbound import MAX_WEBHOOK_BODY
from .adapters.registry import adapter_class

HOOKS_PREFIX = "/hooks/"


def webhook_body_limit(path: str) -> int:
    provider = path[len(HOOKS_PREFIX) :].split("/", 1)[0]
    try:
        return adapter_class(provider).max_webhook_body
    except NotSupported:
        return MAX_WEBHOOK_BODY


class WebhookBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(HOOKS_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain")
            limit = webhook_body_limit(request.path)
            if length > limit:
                return HttpResponse(
                    f"Webhook body over {limit // 1024} KiB.", status=413, content_type="text/plain"
                )
        return self.get_response(request)
