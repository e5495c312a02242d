"""REST resources of the calls app: calls (with their legs) and recordings (read side;
placing calls is added by the calls service's own endpoint)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from accounts.api_base import BINARY, TenantScopedReadOnlyViewSet, stored_file_response

from .filters import CallFilter, RecordingFilter
from .models import Call, Recording
from .serializers import CallSerializer, RecordingSerializer


class CallViewSet(TenantScopedReadOnlyViewSet):
    """Calls, newest first, with their legs."""

    queryset = Call.objects.all()
    serializer_class = CallSerializer
    filterset_class = CallFilter

    def safely_get_queryset(self, queryset):
        return queryset.prefetch_related("legs", "recordings")


class RecordingViewSet(TenantScopedReadOnlyViewSet):
    """Call recordings; `audio/` streams the stored file once it has been fetched."""

    queryset = Recording.objects.all()
    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter

    @extend_schema(responses={200: BINARY})
    @action(detail=True, methods=["get"])
    def audio(self, request, pk=None):
        recording = self.get_object()
        if recording.fetch_status != Recording.FetchStatus.FETCHED:
            raise Http404
        return stored_file_response(
            recording.file, recording.content_type or "audio/wav", recording.remote_id
        )
