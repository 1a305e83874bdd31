"""The staff second factor's pages: enrol a phone (QR code or the secret typed
in), answer the code after signing in, recovery codes shown once, and for
managers, resetting a colleague's second factor after a lost phone. The rules
live in patients/second_factor.py; workspace/security/middleware.py sends
unverified staff here."""

from __future__ import annotations

from base64 import b32encode

import django_otp
import segno
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.errors import ApplicationError
from patients import second_factor as service
from patients.permissions import staff_required, user_of
from patients.roles import MANAGER, is_staff_role, role_of
from workspace.security.forms import CodeForm
from workspace.security.middleware import PENDING_CODES


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("staff:schedule")


def _with_next(url: str, request: HttpRequest) -> str:
    from urllib.parse import urlencode

    target = request.POST.get("next") or request.GET.get("next")
    return f"{url}?{urlencode({'next': target})}" if target else url


def _signed_in(request: HttpRequest, device: Device) -> None:
    # A new session key for the stronger sign-in (its data kept), then marked verified.
    request.session.cycle_key()
    django_otp.login(request, device)


@staff_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if not service.second_factor_required(user) or service.is_verified(request.user):
        return HttpResponseRedirect(_next(request))
    if not service.is_enrolled(user):
        return HttpResponseRedirect(_with_next(reverse("security:enrol"), request))
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                device = service.second_factor_verify(user=user, token=form.cleaned_data["otp"])
            except ApplicationError as error:
                form.add_error("otp", str(error.detail))
            else:
                _signed_in(request, device)
                if not isinstance(device, TOTPDevice):
                    left = service.recovery_codes_left(user)
                    messages.warning(
                        request,
                        _("You used a recovery code. %(left)s are left: make new ones on the sign-in security page.")
                        % {"left": left},
                    )
                return HttpResponseRedirect(_next(request))
        status = 400
    return render(request, "workspace/security/verify.html", {"form": form, "next": _next(request)}, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if service.is_enrolled(user):
        # A second phone is only added after a manager's reset: a stolen
        # password alone must never enrol the thief's phone.
        target = "security:settings" if service.is_verified(request.user) else "security:verify"
        return HttpResponseRedirect(_with_next(reverse(target), request))
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                device, codes = service.totp_enrolment_confirm(user=user, token=form.cleaned_data["otp"])
            except ApplicationError as error:
                form.add_error("otp", str(error.detail))
            else:
                request.session[PENDING_CODES] = codes
                _signed_in(request, device)
                return HttpResponseRedirect(_with_next(reverse("security:recovery_codes"), request))
        status = 400
    device = service.totp_enrolment_start(user=user)
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next") or "",
        "qr_svg": qr.svg_inline(scale=5, dark="#111", light="#fff", omitsize=True, title=_("QR code to scan")),
        "secret": " ".join(b32encode(device.bin_key).decode().rstrip("=")[i : i + 4] for i in range(0, 32, 4)),
        "account": user.get_username(),
    }
    return render(request, "workspace/security/enrol.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = request.session.get(PENDING_CODES)
    if request.method == "POST":
        if request.POST.get("action") == "regenerate":
            try:
                request.session[PENDING_CODES] = service.recovery_codes_regenerate(user=user_of(request))
            except ApplicationError as error:
                messages.error(request, str(error.detail))
                return HttpResponseRedirect(reverse("security:settings"))
            return HttpResponseRedirect(reverse("security:recovery_codes"))
        if codes and request.POST.get("saved"):
            del request.session[PENDING_CODES]
            messages.success(request, _("Your second factor is ready."))
            return HttpResponseRedirect(_next(request))
    if not codes:
        return HttpResponseRedirect(reverse("security:settings"))
    context = {"codes": codes, "next": request.POST.get("next") or request.GET.get("next") or ""}
    return render(
        request, "workspace/security/recovery_codes.html", context, status=400 if request.method == "POST" else 200
    )


@staff_required
def security_settings(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    context = {
        "required": service.second_factor_required(user),
        "enrolled": service.is_enrolled(user),
        "codes_left": service.recovery_codes_left(user),
        "staff": service.staff_second_factors() if role_of(user) == MANAGER else None,
    }
    return render(request, "workspace/security/settings.html", context)


@staff_required
@require_POST
def reset(request: HttpRequest, pk: int) -> HttpResponse:
    if role_of(request.user) != MANAGER:
        raise PermissionDenied
    member = User.objects.filter(pk=pk).first()
    if member is None or not is_staff_role(role_of(member)):
        raise Http404
    service.second_factor_reset(user=member, by=user_of(request))
    messages.success(
        request,
        _("The second factor of %(name)s is reset: they set it up again at their next sign-in.")
        % {"name": member.get_full_name() or member.get_username()},
    )
    return HttpResponseRedirect(reverse("security:settings"))
