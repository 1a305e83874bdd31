"""The one error vocabulary shared by every app, and its HTTP rendering.

Services raise ``ApplicationError`` subclasses; the DRF exception handler and
the Django error views render every error, DRF's and Django's included, as
``{"code", "detail", "fields"?}`` (docs/architecture.md, Errors).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback


class ApplicationError(Exception):
    code = "invalid"
    status = 400
    default_detail: Any = _("The request is invalid.")

    def __init__(self, detail: Any = None, *, fields: dict[str, list[str]] | None = None, extra: dict | None = None):
        self.detail = detail if detail is not None else self.default_detail
        self.fields = fields
        self.extra = extra or {}
        super().__init__(str(self.detail))

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": str(self.detail)}
        if self.fields:
            body["fields"] = {key: [str(m) for m in messages] for key, messages in self.fields.items()}
        body.update(self.extra)
        return body


class InvalidInput(ApplicationError):
    code = "invalid"
    status = 400


class NotBookable(ApplicationError):
    code = "not_bookable"
    status = 400
    default_detail = _("That time cannot be booked.")


class Contraindicated(ApplicationError):
    code = "contraindicated"
    status = 422
    default_detail = _("This treatment needs a conversation with the clinic before it can be booked.")

    def __init__(self, reasons: list[dict[str, str]], detail: Any = None):
        super().__init__(detail, extra={"reasons": reasons})
        self.reasons = reasons


class TooClose(ApplicationError):
    """A gap rule between different treatments blocks this date
    (booking.spacing): ``reasons`` as Contraindicated's, each naming the other
    ``appointment``."""

    code = "too_close"
    status = 422
    default_detail = _("This date is too close to another of your treatments. Please choose another day.")

    def __init__(self, reasons: list[dict[str, Any]], detail: Any = None):
        super().__init__(detail, extra={"reasons": reasons})
        self.reasons = reasons


class SlotUnavailable(ApplicationError):
    code = "slot_unavailable"
    status = 409
    default_detail = _("That time has just been taken. Please choose another.")


class CancellationWindowPassed(ApplicationError):
    code = "cancellation_window_passed"
    status = 409
    default_detail = _("It is too late to change this appointment online. Please call the clinic.")


class InvalidState(ApplicationError):
    code = "invalid_state"
    status = 409
    default_detail = _("This cannot be done in the object's current state.")


class AlreadyWaiting(ApplicationError):
    """The patient already waits for this treatment on overlapping dates, or
    holds as many waitlist entries as a patient may."""

    code = "already_waiting"
    status = 409
    default_detail = _("You are already on the waitlist for this treatment on some of these dates.")


class PaymentUnavailable(ApplicationError):
    """The online payment provider could not be reached or refused to start a
    payment; nothing was kept (booking.deposits released the held slot)."""

    code = "payment_unavailable"
    status = 503
    default_detail = _(
        "Online payment is not available right now, so the time was not held. Please try again in a few "
        "minutes, or call the clinic to book."
    )


class NotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_detail = _("Not found.")


class TooLarge(ApplicationError):
    """The request body is larger than the server accepts (refused before it is read)."""

    code = "too_large"
    status = 413
    default_detail = _("The request is too large.")


def _text(value: Any) -> str:
    """A message as text that encodes: DRF echoes some inputs into its messages
    (``"<input>" is not a valid choice``), and a lone surrogate from a JSON
    escape would make the renderer fail with a 500."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _flatten(detail: Any) -> dict[str, list[str]]:
    """DRF's nested ``ValidationError.detail`` as ``field -> [messages]``."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{_text(key)}" if prefix else _text(key), sub)
        elif isinstance(value, list):
            if all(not isinstance(item, (dict, list)) for item in value):
                fields.setdefault(prefix or "non_field_errors", []).extend(_text(item) for item in value)
            else:
                for index, item in enumerate(value):
                    if item:
                        walk(f"{prefix}.{index}" if prefix else str(index), item)
        else:
            fields.setdefault(prefix or "non_field_errors", []).append(_text(value))

    walk("", detail)
    return fields


_DRF_CODES = {
    drf.NotAuthenticated: ("not_authenticated", 401),
    drf.AuthenticationFailed: ("not_authenticated", 401),
    drf.PermissionDenied: ("permission_denied", 403),
    drf.NotFound: ("not_found", 404),
    drf.MethodNotAllowed: ("method_not_allowed", 405),
    drf.NotAcceptable: ("not_acceptable", 406),
    drf.UnsupportedMediaType: ("unsupported_media_type", 415),
    drf.Throttled: ("throttled", 429),
    drf.ParseError: ("invalid", 400),
}


def _raised_by_the_parser(exc: BaseException) -> bool:
    """JSON nested deeper than the decoder's recursion limit raises
    RecursionError, which DRF's JSONParser (catching ValueError) lets through."""
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith(("rest_framework/parsers.py", "rest_framework\\parsers.py")):
            return True
        traceback = traceback.tb_next
    return False


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, RecursionError) and _raised_by_the_parser(exc):
        exc = drf.ParseError(_("The JSON is nested too deeply."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses to read a form body over DATA_UPLOAD_MAX_MEMORY_SIZE; it
        # would render that as a 400 (or, with DEBUG, its HTML debug page).
        exc = TooLarge()

    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(exc.as_dict(), status=exc.status)

    if isinstance(exc, drf.ValidationError):
        set_rollback()
        fields = _flatten(exc.detail)
        body: dict[str, Any] = {"code": "invalid", "detail": str(_("Some fields are invalid.")), "fields": fields}
        return Response(body, status=400)

    if isinstance(exc, drf.APIException):
        set_rollback()
        code, status = next(
            ((c, s) for klass, (c, s) in _DRF_CODES.items() if isinstance(exc, klass)),
            (exc.default_code, exc.status_code),
        )
        headers = {}
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Response({"code": code, "detail": _text(detail)}, status=exc.status_code or status, headers=headers)

    return None
