"""REST resources of the messaging app: messages, conversations and MMS media (read side;
sending is added by messaging.services' own endpoints)."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Case, CharField, Count, F, Max, Q, When
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api_base import BINARY, TenantScopedReadOnlyViewSet, TenantScopedViewSet, stored_file_response
from accounts.models import Scope
from core.api_parsers import BoundedJSONParser
from outbound.web import ERROR_409, ERROR_422, IDEMPOTENCY_KEY, account_of, send_actor, send_errors

from . import estimates, services
from .bulk import bulk_send
from .filters import ConversationFilter, MediaFilter, MessageFilter
from .models import BulkSend, DirectionChoice, Message, MessageMedia
from .serializers import (
    BulkSendRequestSerializer,
    BulkSendSerializer,
    ConversationSerializer,
    EstimateRequestSerializer,
    EstimateSerializer,
    MessageMediaSerializer,
    MessageSerializer,
    SendMessageSerializer,
)

# One serializer renders every accepted send: DRF deep-copies a serializer's fields for each
# new instance, which was a sixth of the send path's CPU. Its fields hold no request state.
_MESSAGE_RENDERER = MessageSerializer()
_MESSAGE_RENDERER.fields  # noqa: B018 - built once here, not raced by the first requests


def render_message(message: Message) -> dict:
    return _MESSAGE_RENDERER.to_representation(message)


# Likewise one serializer validates every send request (its fields keep no state while
# validating; a new serializer per request deep-copied them, 4% of a send's CPU).
_SEND_REQUEST = SendMessageSerializer()
_SEND_REQUEST.fields  # noqa: B018 - built once here


def valid_send_request(data) -> dict:
    """The validated send request; raises ValidationError as `is_valid(raise_exception=True)`."""
    return _SEND_REQUEST.run_validation(data)


class MessageViewSet(TenantScopedReadOnlyViewSet):
    """SMS and MMS, sent and received, newest first; POST sends one (or many: `bulk/`)."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    action_scopes = {"create": Scope.SEND, "bulk": Scope.SEND, "estimate": Scope.SEND}
    extra_error_statuses = {"create": [409, 422], "bulk": [422]}

    def safely_get_queryset(self, queryset):
        return queryset.prefetch_related("media")

    @extend_schema(
        summary="Send an SMS or MMS",
        description="Validates, checks usage limits and queues the message; it is sent "
        "asynchronously and its status moves on by delivery reports and syncs.",
        request=SendMessageSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: MessageSerializer, 409: ERROR_409, 422: ERROR_422},
    )
    def create(self, request):
        data = valid_send_request(request.data)
        with send_errors():
            message = services.queue_message(
                self.tenant,
                account=account_of(self.tenant, data["provider_account"]),
                from_number=data["from"],
                to=data["to"],
                body=data["body"],
                kind=data["kind"],
                media=data["media"],
                idempotency_key=request.headers.get("Idempotency-Key") or None,
                created_by=send_actor(request),
            )
        return Response(render_message(message), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Send one SMS to many recipients",
        description="JSON with `recipients`, or multipart with a CSV `file`. One message per valid "
        "recipient; invalid rows come back with their line and reason. Submitting the same bulk "
        "again (or with the same Idempotency-Key) creates nothing new.",
        request={
            "application/json": BulkSendRequestSerializer,
            "multipart/form-data": BulkSendRequestSerializer,
        },
        parameters=[IDEMPOTENCY_KEY],
        responses={202: BulkSendSerializer, 422: ERROR_422},
    )
    @action(detail=False, methods=["post"], parser_classes=[BoundedJSONParser, MultiPartParser, FormParser])
    def bulk(self, request):
        data = self._valid(BulkSendRequestSerializer, request)
        with send_errors():
            bulk = bulk_send(
                self.tenant,
                account_of(self.tenant, data["provider_account"]),
                data["from"],
                data["body"],
                data["file"] if data.get("file") else data["recipients"],
                idempotency_key=request.headers.get("Idempotency-Key") or None,
                created_by=send_actor(request),
            )
        return Response(BulkSendSerializer(bulk).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Estimate the price of an SMS",
        description="The provider's dry run where its adapter has one, otherwise our average cost "
        "per part of this account's last 30 days. Without either, `cost` is null and `reason` says why.",
        request=EstimateRequestSerializer,
        responses={200: EstimateSerializer},
    )
    @action(detail=False, methods=["post"])
    def estimate(self, request):
        data = self._valid(EstimateRequestSerializer, request)
        account = account_of(self.tenant, data["provider_account"])
        try:
            with send_errors():
                found = estimates.estimate_message(account, data["from"], data["to"], data["body"])
        except estimates.NoEstimate as exc:
            answer = {"cost": None, "currency": "", "parts": None, "source": "none", "reason": exc.reason}
        else:
            answer = {
                "cost": found.cost,
                "currency": found.currency,
                "parts": found.parts,
                "source": found.source,
                "reason": "",
            }
        return Response(EstimateSerializer(answer).data)

    @staticmethod
    def _valid(serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class BulkSendViewSet(TenantScopedReadOnlyViewSet):
    """Bulk sends, newest first, with their progress."""

    queryset = BulkSend.objects.all()
    serializer_class = BulkSendSerializer


# Our number and the other party, whichever way a message went.
OUR_NUMBER = Case(
    When(direction=DirectionChoice.OUTBOUND, then=F("from_number")),
    default=F("to_number"),
    output_field=CharField(),
)
COUNTERPART = Case(
    When(direction=DirectionChoice.OUTBOUND, then=F("to_number")),
    default=F("from_number"),
    output_field=CharField(),
)


class ConversationViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Threads between one of our numbers and one counterpart, newest activity first, each
    with its last message. Bound large tenants with `created_after`."""

    queryset = Message.objects.all()
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    cursor_ordering = ("-last_activity_at", "our_number", "counterpart")

    def safely_get_queryset(self, queryset):
        return queryset

    def filter_queryset(self, queryset):
        messages = super().filter_queryset(queryset)
        self.filtered_messages = messages  # the last message of a thread honours the same filters
        return (
            messages.annotate(our_number=OUR_NUMBER, counterpart=COUNTERPART)
            .values("our_number", "counterpart")
            .annotate(last_activity_at=Max("created_at"), message_count=Count("id"))
            .order_by()
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page:
            self._attach_last_messages(page)
        return page

    def _attach_last_messages(self, threads: list[dict]) -> None:
        pairs = reduce(or_, (Q(our_number=t["our_number"], counterpart=t["counterpart"]) for t in threads))
        last = (
            self.filtered_messages.annotate(our_number=OUR_NUMBER, counterpart=COUNTERPART)
            .filter(pairs)
            .order_by("our_number", "counterpart", "-created_at", "-id")
            .distinct("our_number", "counterpart")
            .prefetch_related("media")
        )
        by_pair = {(m.our_number, m.counterpart): m for m in last}
        for thread in threads:
            thread["last_message"] = by_pair.get((thread["our_number"], thread["counterpart"]))


class MediaViewSet(TenantScopedReadOnlyViewSet):
    """MMS attachments; `content/` streams the stored bytes once fetched."""

    queryset = MessageMedia.objects.all()
    serializer_class = MessageMediaSerializer
    filterset_class = MediaFilter

    @extend_schema(responses={200: BINARY})
    @action(detail=True, methods=["get"])
    def content(self, request, pk=None):
        media = self.get_object()
        if media.fetch_status != MessageMedia.FetchStatus.FETCHED:
            raise Http404
        return stored_file_response(media.file, media.content_type, f"{media.remote_id}")
