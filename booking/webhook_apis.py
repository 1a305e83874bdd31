"""The outgoing webhooks' API, managers only (booking/webhooks.py holds every
rule; the workspace pages in workspace/webhooks call the same services).

A subscription renders the same in every answer: with its secret (managers
give it to the receiving system) and how its deliveries are going, so a
subscription failing for days shows it here as on the page.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import webhooks
from booking.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from booking.webhook_delivery import URL_MAX
from clinic.api import BoundedListField, CleanCharField, StrictBooleanField
from clinic.schema import errors
from patients.permissions import IsManager, user_of

PAYLOADS = (
    "Payloads follow the Standard Webhooks specification: `{type, timestamp, data}`, signed with the "
    "subscription's `secret` in the `webhook-signature` header (docs/webhooks.md). Without `clinical`, `data` "
    "holds ids, times and statuses only: no names, no contact details, no treatment."
)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=webhooks.EVENT_TYPES))
    secret = serializers.CharField(
        help_text="whsec_ and base64: give it to the receiving system, which verifies each message's signature."
    )
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="After a rotation, the old secret also signs until then; null when it no longer does."
    )
    failed_deliveries = serializers.IntegerField(source="failed_count", help_text="Deliveries that gave up.")
    waiting_deliveries = serializers.IntegerField(
        source="waiting_count", help_text="Deliveries pending or being sent (retries included)."
    )
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_status_code = serializers.IntegerField(source="last_attempt_code", allow_null=True)
    last_attempt_error = serializers.CharField(
        allow_null=True, help_text="Empty when the last attempt succeeded; else timeout, http_500, ..."
    )
    last_success_at = serializers.DateTimeField(source="last_ok_at", allow_null=True)
    failing_since = serializers.SerializerMethodField(
        help_text="When the current run of failed attempts began; null while the last attempt succeeded."
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "clinical",
            "active",
            "description",
            "secret",
            "previous_secret_expires_at",
            "created_at",
            "created_by",
            "failed_deliveries",
            "waiting_deliveries",
            "last_attempt_at",
            "last_attempt_status_code",
            "last_attempt_error",
            "last_success_at",
            "failing_since",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_previous_secret_expires_at(self, subscription: WebhookSubscription) -> Any:
        expires = subscription.previous_expires_at
        if not subscription.previous_secret or expires is None or expires <= timezone.now():
            return None
        return serializers.DateTimeField().to_representation(expires)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_failing_since(self, subscription: WebhookSubscription) -> Any:
        since = webhooks.failing_since(subscription)
        return serializers.DateTimeField().to_representation(since) if since else None


class WebhookWriteSerializer(serializers.Serializer):
    url = CleanCharField(
        max_length=URL_MAX,
        help_text="https://... (plain http only to the hosts in CLINIC_WEBHOOK_HTTP_HOSTS); no user name or "
        "password; not a private, loopback or link-local address unless CLINIC_WEBHOOK_PRIVATE_NETWORKS allows it.",
    )
    events = BoundedListField(
        child=serializers.ChoiceField(choices=webhooks.EVENT_TYPES),
        max_length=len(webhooks.EVENT_TYPES),
        help_text="At least one event type.",
    )
    clinical = StrictBooleanField(
        default=False,
        help_text="Payloads add the treatment and device, the patient's name, email, phone and language, a plan's "
        "sessions and a cancellation's reason.",
    )
    active = StrictBooleanField(default=True, help_text="false: nothing is sent; pending deliveries fail.")
    description = CleanCharField(max_length=webhooks.DESCRIPTION_MAX, allow_blank=True, default="")


class WebhookAttemptSerializer(serializers.ModelSerializer):
    error = serializers.CharField(help_text="Empty on success; else timeout, connection, refused_address, http_500...")

    class Meta:
        model = WebhookAttempt
        fields = ["at", "status_code", "duration_ms", "error"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message_id", help_text="The webhook-id header, the same on retries.")
    payload = serializers.SerializerMethodField(help_text="The body as sent, frozen when the event happened.")
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_type",
            "webhook_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "sent_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_payload(self, delivery: WebhookDelivery) -> Any:
        return json.loads(delivery.body)


def _subscription_body(subscription: WebhookSubscription) -> dict[str, Any]:
    fresh = webhooks.subscriptions_overview().get(pk=subscription.pk)
    return dict(WebhookSubscriptionSerializer(fresh).data)


def _delivery_body(delivery: WebhookDelivery) -> dict[str, Any]:
    fresh = WebhookDelivery.objects.prefetch_related("attempt_log").get(pk=delivery.pk)
    return dict(WebhookDeliverySerializer(fresh).data)


class WebhookListApi(generics.ListCreateAPIView):
    permission_classes = [IsManager]
    serializer_class = WebhookSubscriptionSerializer

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return webhooks.subscriptions_overview()

    @extend_schema(
        responses={200: WebhookSubscriptionSerializer(many=True), **errors(400, 401, 403)},
        description="Every subscription, active ones first, with how its deliveries are going. " + PAYLOADS,
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=WebhookWriteSerializer,
        responses={201: WebhookSubscriptionSerializer, **errors(400, 401, 403)},
        description="Subscribes a URL to events; the answer carries the new `secret`. 400 invalid: a URL that is "
        "not https (unless its host is in CLINIC_WEBHOOK_HTTP_HOSTS), holds a user name or password, cannot be "
        "found, or leads to a private, loopback or link-local address; no or unknown events.",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = WebhookWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = webhooks.subscription_create(by=user_of(request), **data.validated_data)
        return Response(_subscription_body(subscription), status=status.HTTP_201_CREATED)


class WebhookDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [IsManager]
    serializer_class = WebhookSubscriptionSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return webhooks.subscriptions_overview()

    @extend_schema(responses={200: WebhookSubscriptionSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=WebhookWriteSerializer(partial=True),
        responses={200: WebhookSubscriptionSerializer, **errors(400, 401, 403, 404)},
        description="Changes the fields sent. `active: false` stops sending (pending deliveries fail and can be "
        "sent again once it is on); `clinical: false` also removes the clinical details from deliveries not yet "
        "sent. The same 400s as creating.",
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        subscription = self.get_object()
        data = WebhookWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changed = webhooks.subscription_update(subscription=subscription, by=user_of(request), **data.validated_data)
        return Response(_subscription_body(changed))

    @extend_schema(
        responses={204: None, **errors(401, 403, 404)},
        description="Deletes the subscription and its delivery log; nothing more is sent to it.",
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhooks.subscription_delete(subscription=self.get_object(), by=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        request=None,
        responses={200: WebhookSubscriptionSerializer, **errors(401, 403, 404)},
        description="A new `secret`. For 24 hours (`previous_secret_expires_at`) every message is signed with the "
        "old secret too (two signatures in webhook-signature), so the receiver can switch without losing one.",
    )
    def post(self, request: Request, pk: int) -> Response:
        subscription = get_object_or_404(WebhookSubscription, pk=pk)
        rotated = webhooks.subscription_rotate(subscription=subscription, by=user_of(request))
        return Response(_subscription_body(rotated))


class WebhookPingApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        request=None,
        responses={201: WebhookDeliverySerializer, **errors(401, 403, 404, 409)},
        description="Sends a `ping` event to this subscription alone, at once, retried like any other. "
        "409 invalid_state: the subscription is turned off.",
    )
    def post(self, request: Request, pk: int) -> Response:
        subscription = get_object_or_404(WebhookSubscription, pk=pk)
        delivery = webhooks.subscription_ping(subscription=subscription, by=user_of(request))
        return Response(_delivery_body(delivery), status=status.HTTP_201_CREATED)


class WebhookDeliveryListApi(generics.ListAPIView):
    permission_classes = [IsManager]
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        subscription = get_object_or_404(WebhookSubscription, pk=self.kwargs["pk"])
        return webhooks.deliveries_of(subscription)

    @extend_schema(
        responses={200: WebhookDeliverySerializer(many=True), **errors(400, 401, 403, 404)},
        description="The subscription's delivery log, newest first: each event with its payload, its status and "
        "every attempt (when, status code, duration, error).",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class WebhookDeliveryRetryApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        request=None,
        responses={200: WebhookDeliverySerializer, **errors(401, 403, 404, 409)},
        description="Sends a failed delivery again, unchanged (the same webhook-id), with a fresh set of attempts. "
        "409 invalid_state: it is not failed, or the subscription is turned off.",
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = get_object_or_404(WebhookDelivery, pk=pk)
        retried = webhooks.delivery_retry(delivery=delivery)
        return Response(_delivery_body(retried))
