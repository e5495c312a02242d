"""Request and response checks Django has no setting for."""

from __future__ import annotations

import functools
from dataclasses import asdict

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.signals import setting_changed

from core.api_errors import bad_request


def permissions_policy(policy: dict[str, list[str]]) -> str:
    """{"camera": [], "fullscreen": ["self"]} -> 'camera=(), fullscreen=(self)'."""
    return ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())


class SecurityHeadersMiddleware:
    """Adds `Permissions-Policy` (settings.PERMISSIONS_POLICY) to every response."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


class RejectNulQueryMiddleware:
    """A NUL character in the query string (`?q=%00`) is a 400 before any view: Postgres
    refuses it in text, and no legitimate link carries one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            return bad_request(request, SuspiciousOperation("NUL character in the query string."))
        return self.get_response(request)


# The response attributes through which a view sets a policy of its own (django-csp's
# decorators); a response without any of them gets the policy of the settings.
_PER_VIEW_POLICY = tuple(f"_csp_{part}{ro}" for part in ("config", "update", "replace") for ro in ("", "_ro"))


@functools.cache
def _settings_policies() -> tuple[str, str]:
    """(Content-Security-Policy, its report-only twin) as the settings define them."""
    return build_policy(**asdict(PolicyParts())), build_policy(**asdict(PolicyParts()), report_only=True)


def _forget_policies(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policies.cache_clear()


setting_changed.connect(_forget_policies, dispatch_uid="config.middleware.csp_policies")


class CachedCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, except that the header of a response with neither a nonce nor
    a view's own policy is built once, not on every request: building it (twice, with a
    deep copy of the settings each time) was a seventh of a delivery report's CPU. Every
    other response goes through django-csp unchanged."""

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _PER_VIEW_POLICY
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # django-csp leaves Django's debug pages alone
        for header, policy, exempt, setting in zip(
            (HEADER, HEADER_REPORT_ONLY),
            _settings_policies(),
            ("_csp_exempt", "_csp_exempt_ro"),
            ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
            strict=True,
        ):
            excluded = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            if (
                policy
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written is an error, not a
        # nonce the browser would never be told about.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
