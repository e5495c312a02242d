"""One JSON error shape for the whole API:

{"error": {"code": "not_found", "message": "Not found.", "fields": {...}}}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request could not be processed."
    default_code = "unprocessable"


def _flatten(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    error: dict = {"code": "error", "message": ""}
    if isinstance(exc, exceptions.ValidationError):
        error["code"] = "invalid"
        error["message"] = "The request has invalid fields."
        if isinstance(detail, dict):
            error["fields"] = detail
        else:
            error["message"] = _flatten(detail)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        error["code"] = codes if isinstance(codes, str) else "error"
        error["message"] = _flatten(detail) if detail is not None else str(exc)
    return Response({"error": error}, status=response.status_code, headers=_headers(response))


def _headers(response: Response) -> dict:
    return {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}


# -- documentation ---------------------------------------------------------------------------
class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_found, invalid.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        required=False, help_text="Per-field messages, present on validation errors (400)."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid input or filter; `fields` names each problem.",
    401: "Missing, unknown or revoked API key.",
    403: "The key or role lacks the scope this action needs.",
    404: "No such object in your tenant.",
    409: "Conflicts with the current state.",
    422: "Valid input the provider or the current state cannot act on.",
    429: "Throttled; retry after the `Retry-After` header's seconds.",
}


# Documented on every operation so "Try it out" in /api/docs/ can pick the tenant of a
# logged-in browser session (an API key's tenant is fixed; the header is then ignored).
TENANT_PARAMETER = OpenApiParameter(
    "X-Tenant",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Browser sessions only: the slug of the tenant to act in. Without it, the tenant "
    "last opened in the dashboard (or the only one). Ignored with an API key.",
)


def decimal_inputs_accept_numbers(result, generator, request, public):
    """drf-spectacular postprocessing hook: decimals are answered as strings, but a request
    may send a JSON number too (DRF's DecimalField takes both), so request bodies say so."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for prop, spec in list(component.get("properties", {}).items()):
            if spec.get("type") == "string" and spec.get("format") == "decimal":
                outer = {
                    k: spec.pop(k) for k in ("description", "nullable", "readOnly", "writeOnly") if k in spec
                }
                component["properties"][prop] = {"oneOf": [spec, {"type": "number"}], **outer}
    return result


def empty_filters_mean_any(result, generator, request, public):
    """drf-spectacular postprocessing hook: a list filter left empty (`?status=`, what a form
    at "Any" sends) means no filter, so each filter parameter's schema admits "" too."""
    empty = {"type": "string", "maxLength": 0}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or not operation.get("operationId", "").endswith("_list"):
                continue
            for param in operation.get("parameters", []):
                schema = param.get("schema")
                if param.get("in") != "query" or not schema or param["name"] in ("cursor", "page_size"):
                    continue
                if schema.get("type") == "array":
                    items = schema.get("items", {})
                    if "enum" in items and "" not in items["enum"]:
                        items["enum"] = [*items["enum"], ""]
                    elif "enum" not in items:
                        schema["items"] = {"anyOf": [items, empty]}
                elif schema.get("type") == "string" and "enum" in schema:
                    if "" not in schema["enum"]:
                        schema["enum"] = [*schema["enum"], ""]
                elif not (schema.get("type") == "string" and not {"format", "pattern"} & set(schema)):
                    param["schema"] = {"anyOf": [schema, empty]}
    return result


class ApiAutoSchema(AutoSchema):
    """Adds the shared error shape to every operation: 401/403/429 always, 404 on detail
    routes, 400 where input or filters are read, plus a view's `extra_error_statuses`
    (e.g. {"test": [422]})."""

    def get_override_parameters(self):
        return [*super().get_override_parameters(), TENANT_PARAMETER]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = {401, 403, 429}
        if "{" in self.path:
            codes.add(404)
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            codes.add(400)
        extra = getattr(self.view, "extra_error_statuses", {})
        codes.update(extra.get(getattr(self.view, "action", None), ()))
        for code in sorted(codes):
            if str(code) not in responses:
                response = self._get_response_for_code(ErrorSerializer, str(code), direction=direction)
                response["description"] = ERROR_DESCRIPTIONS.get(code, "Error")
                responses[str(code)] = response
        return responses


# -- errors raised outside DRF's views (handler400/403/404/500 in config.urls) -------------------
API_PREFIX = "/api/"
PLAIN_ERRORS = {
    400: ("bad_request", "The request could not be read."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    500: ("server_error", "Internal error; it has been logged."),
}


def _api_error(status_code: int, message: str = "") -> JsonResponse:
    code, default = PLAIN_ERRORS[status_code]
    return JsonResponse({"error": {"code": code, "message": message or default}}, status=status_code)


def bad_request(request, exception=None):
    """A request Django refused before any view ran (e.g. a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE): the API's error shape under /api/, the plain page elsewhere."""
    if request.path.startswith(API_PREFIX):
        if isinstance(exception, RequestDataTooBig):
            message = "The request body is too large."
        else:
            message = str(exception) if isinstance(exception, SuspiciousOperation) else ""
        return _api_error(400, message)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return _api_error(403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return _api_error(404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIX):
        return _api_error(500)
    return defaults.server_error(request)
