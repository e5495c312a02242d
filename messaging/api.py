"""REST resources of the messaging app: messages, conversations and MMS media (read side;
sending is added by messaging.services' own endpoints)."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Case, CharField, Count, F, Max, Q, When
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action

from accounts.api_base import BINARY, TenantScopedReadOnlyViewSet, TenantScopedViewSet, stored_file_response

from .filters import ConversationFilter, MediaFilter, MessageFilter
from .models import DirectionChoice, Message, MessageMedia
from .serializers import ConversationSerializer, MessageMediaSerializer, MessageSerializer


class MessageViewSet(TenantScopedReadOnlyViewSet):
    """SMS and MMS, sent and received, newest first."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    filterset_class = MessageFilter

    def safely_get_queryset(self, queryset):
        return queryset.prefetch_related("media")


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
