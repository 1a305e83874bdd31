"""The providers' webhooks: SMS replies and status callbacks from Twilio,
WhatsApp messages and statuses from Meta (booking/inbound.py does the work),
and Stripe's checkout events (booking/deposits.py).

Not under /api/v1/: no session, no token, no CSRF; the provider's signature is
the only credential. Anything unsigned, wrongly signed or for a channel the
clinic has not configured with that provider gets a bare 403 that tells a
prober nothing. A correctly signed request always gets a quick 200, even for
an event about a message the clinic does not know, so the provider does not
retry it for days; replays are answered 200 and change nothing.
"""

from __future__ import annotations

import hmac
import json
import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from booking import deposits, inbound

logger = logging.getLogger(__name__)

# An empty TwiML document: Twilio sends no reply SMS.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio_signed(request: HttpRequest) -> tuple[dict[str, str], str] | None:
    """The POST parameters (the last value of each name) and the account, if
    Twilio's signature over all of them is valid for the URL it called."""
    options = inbound.twilio_options()
    if options is None:
        return None
    pairs = [(name, value) for name, values in request.POST.lists() for value in values]
    if not inbound.twilio_signature_valid(
        options["secret"],
        inbound.public_url(request.get_full_path()),
        pairs,
        request.headers.get("X-Twilio-Signature", ""),
    ):
        return None
    return dict(pairs), str(options.get("account", ""))


@csrf_exempt
@require_POST
def twilio_sms(request: HttpRequest) -> HttpResponse:
    """An SMS to the clinic's number: "1" / "2" and the like answer a reminder."""
    signed = _twilio_signed(request)
    if signed is None:
        return HttpResponseForbidden()
    event = inbound.twilio_reply(signed[0], account=signed[1])
    if event is not None:
        inbound.inbound_handle(event=event, now=timezone.now())
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """A delivery receipt for a message the clinic sent (its StatusCallback)."""
    signed = _twilio_signed(request)
    if signed is None:
        return HttpResponseForbidden()
    event = inbound.twilio_receipt(signed[0], account=signed[1])
    if event is not None:
        inbound.inbound_handle(event=event, now=timezone.now())
    return HttpResponse(status=200)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp(request: HttpRequest) -> HttpResponse:
    """GET: Meta's verification handshake when the webhook is set up (the
    ``verify_token`` option of WHATSAPP_URL). POST: messages and statuses."""
    options = inbound.whatsapp_options()
    if options is None:
        return HttpResponseForbidden()
    if request.method == "GET":
        token = options.get("verify_token", "")
        given = request.GET.get("hub.verify_token", "")
        if request.GET.get("hub.mode") == "subscribe" and token and hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden()
    body = request.body
    if not inbound.whatsapp_signature_valid(
        options["app_secret"], body, request.headers.get("X-Hub-Signature-256", "")
    ):
        return HttpResponseForbidden()
    try:
        payload = json.loads(body)
    except ValueError:
        logger.warning("whatsapp webhook: a signed body that is not JSON, ignored")
        return HttpResponse(status=200)
    now = timezone.now()
    for event in inbound.whatsapp_events(payload, phone_number_id=options.get("account", "")):
        inbound.inbound_handle(event=event, now=now)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def stripe_events(request: HttpRequest) -> HttpResponse:
    """Stripe's events about deposit checkouts, signed with the endpoint's
    secret (``Stripe-Signature``, the webhook secret of PAYMENTS_URL). A
    missing or wrong signature is 403 and a signed body that is not an event
    400, both in the API's error shape; a replay is 200 and changes nothing."""
    import stripe

    if not deposits.configured():
        return JsonResponse({"code": "permission_denied", "detail": "Not accepted."}, status=403)
    try:
        stripe.Webhook.construct_event(
            request.body.decode("utf-8"), request.headers.get("Stripe-Signature", ""), deposits.webhook_secret()
        )
    except stripe.SignatureVerificationError:
        return JsonResponse({"code": "permission_denied", "detail": "The signature is missing or wrong."}, status=403)
    except Exception:  # signed, but not JSON or not an event (ValueError, UnicodeDecodeError...)
        return JsonResponse({"code": "invalid", "detail": "The body is not a Stripe event."}, status=400)
    event = json.loads(request.body)
    if not isinstance(event, dict) or not isinstance((event.get("data") or {}).get("object", {}), dict):
        return JsonResponse({"code": "invalid", "detail": "The body is not a Stripe event."}, status=400)
    outcome = deposits.stripe_event_handle(event=event, now=timezone.now())
    logger.info("stripe event %s: %s", str(event.get("type", ""))[:60], outcome)
    return JsonResponse({"received": True})
