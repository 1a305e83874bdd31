"""The signed-in devices page (/me/devices/): where this login is signed in,
through the apps (API tokens) and browsers (sessions), with a way to sign out
on one of them or on every other one. Patients reach it from /me/; staff use
the same page for their own login. The rules are patients.services'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.errors import NotFound
from patients import services
from patients.devices import device_label, is_current_device
from patients.permissions import user_of
from patients.selectors import devices_for


@login_required
@require_GET
def devices(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "device": device,
            "label": device_label(device.user_agent),
            "current": is_current_device(device, request),
        }
        for device in devices_for(user=user_of(request))
    ]
    rows.sort(key=lambda row: not row["current"])  # this device first
    context = {
        "rows": rows,
        "others": sum(1 for row in rows if not row["current"]),
    }
    response = render(request, "account/devices.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def sign_out_device(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    current = any(is_current_device(device, request) for device in devices_for(user=user).filter(pk=pk))
    try:
        services.device_revoke(user=user, device_id=pk)
    except NotFound:
        messages.info(request, _("That device was already signed out."))
        return redirect("account:devices")
    if current:
        logout(request)
        return redirect("account:login")
    messages.success(request, _("That device is signed out."))
    return redirect("account:devices")


@login_required
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    count = services.sign_out_everywhere(user=user_of(request), except_session_key=request.session.session_key)
    if count:
        messages.success(request, _("You are signed out on every other device."))
    else:
        messages.info(request, _("You were not signed in anywhere else."))
    return redirect("account:devices")
