"""Managers' outgoing webhooks: the subscriptions and how each is going, a new
one, one with its secret, its settings and the actions (rotate the secret,
send a test event, delete), and its delivery log with "Send again". Every
rule is in booking/webhooks.py; a refused input is shown in place with what
was typed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking import webhooks
from booking.models import WebhookDelivery, WebhookSubscription
from clinic import formats
from clinic.errors import ApplicationError, InvalidInput
from patients.permissions import manager_required, user_of
from workspace.webhooks.forms import SubscriptionForm

LOG_PAGE = 25
RECENT = 5


def _apply(form: SubscriptionForm, error: ApplicationError) -> None:
    """A service's refusal on the form: field messages on their fields, and its
    sentence on top unless it is only the generic "invalid input"."""
    placed = False
    if isinstance(error, InvalidInput):
        for name, texts in (error.fields or {}).items():
            for text in texts:
                form.add_error(name if name in form.fields else None, str(text))
                placed = True
    if not placed or str(error.detail) != str(InvalidInput.default_detail):
        form.add_error(None, str(error.detail))


def _row(subscription: WebhookSubscription, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "subscription": subscription,
        "failing_since": webhooks.failing_since(subscription),
        "event_names": [labels.get(event, event) for event in subscription.events],
    }


def _labelled(deliveries: list[WebhookDelivery], labels: dict[str, str]) -> list[WebhookDelivery]:
    for delivery in deliveries:
        delivery.label = labels.get(delivery.event_type, delivery.event_type)  # type: ignore[attr-defined]
    return deliveries


def _overview(pk: int) -> WebhookSubscription:
    return get_object_or_404(webhooks.subscriptions_overview(), pk=pk)


@manager_required
@require_GET
def subscription_list(request: HttpRequest) -> HttpResponse:
    labels = webhooks.event_labels()
    rows = [_row(subscription, labels) for subscription in webhooks.subscriptions_overview()]
    context = {"rows": rows, "failing": [row for row in rows if row["failing_since"]]}
    return render(request, "webhooks/list.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def subscription_new(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = webhooks.subscription_create(
                    url=data["url"].strip(),
                    events=data["events"],
                    clinical=data["clinical"],
                    active=data["active"],
                    description=data["description"],
                    by=user_of(request),
                )
            except ApplicationError as error:
                _apply(form, error)
            else:
                messages.success(
                    request, _("The subscription is saved. Give its secret to the receiving system, then send a test.")
                )
                return HttpResponseRedirect(reverse("webhooks:subscription", args=[created.pk]))
        status = 400
    return render(request, "webhooks/new.html", {"form": form}, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _overview(pk)
    initial = {
        "url": subscription.url,
        "description": subscription.description,
        "events": subscription.events,
        "clinical": subscription.clinical,
        "active": subscription.active,
    }
    form = SubscriptionForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                webhooks.subscription_update(
                    subscription=subscription,
                    by=user_of(request),
                    url=data["url"].strip(),
                    events=data["events"],
                    clinical=data["clinical"],
                    active=data["active"],
                    description=data["description"],
                )
            except ApplicationError as error:
                _apply(form, error)
            else:
                messages.success(request, _("The subscription's settings are saved."))
                return HttpResponseRedirect(reverse("webhooks:subscription", args=[subscription.pk]))
        status = 400
    labels = webhooks.event_labels()
    context = {
        **_row(subscription, labels),
        "form": form,
        "recent": _labelled(list(webhooks.deliveries_of(subscription)[:RECENT]), labels),
        "previous_until": _previous_until(subscription),
        "examples": webhooks.example_payloads(),
    }
    return render(request, "webhooks/subscription.html", context, status=status)


def _previous_until(subscription: WebhookSubscription) -> Any:
    expires = subscription.previous_expires_at
    if subscription.previous_secret and expires is not None and expires > timezone.now():
        return expires
    return None


@manager_required
@require_POST
def subscription_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    rotated = webhooks.subscription_rotate(subscription=subscription, by=user_of(request))
    until = rotated.previous_expires_at or timezone.now()
    messages.success(
        request,
        _(
            "A new secret is below: give it to the receiving system. Until %(until)s every message is signed "
            "with the old secret as well, so nothing is lost while it switches."
        )
        % {"until": formats.datetime_text(until)},
    )
    return HttpResponseRedirect(reverse("webhooks:subscription", args=[pk]))


@manager_required
@require_POST
def subscription_ping(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    try:
        webhooks.subscription_ping(subscription=subscription, by=user_of(request))
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, _("A test event is on its way. Its delivery shows below within a minute."))
    return HttpResponseRedirect(reverse("webhooks:subscription", args=[pk]))


@manager_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    webhooks.subscription_delete(subscription=subscription, by=user_of(request))
    messages.success(request, _("The subscription and its delivery log are deleted."))
    return HttpResponseRedirect(reverse("webhooks:list"))


@manager_required
@require_GET
def delivery_log(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _overview(pk)
    page = Paginator(webhooks.deliveries_of(subscription), LOG_PAGE).get_page(request.GET.get("page"))
    labels = webhooks.event_labels()
    context = {**_row(subscription, labels), "page": page, "deliveries": _labelled(list(page.object_list), labels)}
    return render(request, "webhooks/deliveries.html", context)


@manager_required
@require_POST
def delivery_send_again(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_pk, subscription_id=pk)
    try:
        webhooks.delivery_retry(delivery=delivery)
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, _("It will be sent again within a minute, with the same webhook-id."))
    return HttpResponseRedirect(reverse("webhooks:deliveries", args=[pk]))
