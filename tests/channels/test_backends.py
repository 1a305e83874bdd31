"""The Twilio and WhatsApp backends against the fake providers: what they
send, what they return, and how each documented refusal is classed
(permanent: the outbox falls back to the patient's next channel; temporary:
retried on this one)."""

from __future__ import annotations

import base64
import logging
import socket
from typing import Any

import pytest

from booking import channels
from booking.channels import ChannelError, Outgoing, TwilioBackend, WhatsAppBackend
from tests.fakes.providers import FakeProviders

PHONE = "+85291234567"
UID = "0b5c5a4e-8d0e-4d39-9a57-3f1e2f6b7c11"


def reminder(channel: str, **overrides: Any) -> Outgoing:
    values: dict[str, Any] = {
        "channel": channel,
        "to": PHONE,
        "text": "Reminder: Superficial chemical peel tomorrow at 10:00. Reply 1 to confirm, 2 to change.",
        "reference": "notification-41",
    }
    if channel == "whatsapp":
        values.update(
            template="appointment_reminder",
            language="zh-hant",
            params=("陳大文", "果酸換膚", "1月8日 上午10:00"),
            buttons=(f"confirm:{UID}", f"change:{UID}"),
        )
    values.update(overrides)
    return Outgoing(**values)


def test_an_sms_is_one_authenticated_post_that_returns_twilios_sid(providers: FakeProviders, settings: Any) -> None:
    sid = channels.send(reminder("sms"))

    [sent] = providers.of("sms")
    assert sid == sent.message_id and sid.startswith("SM")
    assert sent.body == {
        "To": PHONE,
        "From": providers.twilio_from,
        "Body": reminder("sms").text,
        "StatusCallback": f"{settings.CLINIC_BASE_URL}/hooks/twilio/status/",
    }


def test_a_messaging_service_replaces_the_from_number(providers: FakeProviders, settings: Any) -> None:
    settings.CLINIC_CHANNELS["sms"]["OPTIONS"] = {
        **settings.CLINIC_CHANNELS["sms"]["OPTIONS"],
        "messaging_service_sid": "MG" + "1" * 32,
    }
    settings.CLINIC_CHANNELS["sms"]["OPTIONS"].pop("from")
    channels.send(reminder("sms"))
    [sent] = providers.of("sms")
    assert sent.body["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in sent.body


def test_a_whatsapp_reminder_is_the_approved_template_with_its_buttons(providers: FakeProviders) -> None:
    wamid = channels.send(reminder("whatsapp"))

    [sent] = providers.of("whatsapp")
    assert wamid == sent.message_id and wamid.startswith("wamid.")
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": PHONE,
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "zh_HK"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "陳大文"},
                        {"type": "text", "text": "果酸換膚"},
                        {"type": "text", "text": "1月8日 上午10:00"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": f"confirm:{UID}"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "1",
                    "parameters": [{"type": "payload", "payload": f"change:{UID}"}],
                },
            ],
        },
    }


def test_english_templates_are_en_and_a_message_without_template_is_text(providers: FakeProviders) -> None:
    channels.send(reminder("whatsapp", language="en"))
    channels.send(reminder("whatsapp", template="", params=(), buttons=(), text="Here is your link."))
    first, second = providers.of("whatsapp")
    assert first.template["language"] == {"code": "en"}
    assert second.body["type"] == "text"
    assert second.text == "Here is your link."


def test_each_backend_keeps_one_connection_for_a_batch(providers: FakeProviders) -> None:
    assert channels.backend("sms") is channels.backend("sms")
    assert channels.backend("whatsapp") is channels.backend("whatsapp")
    backend = channels.backend("whatsapp")
    assert isinstance(backend, WhatsAppBackend)
    assert backend.session.headers["Authorization"] == f"Bearer {providers.whatsapp_token}"
    twilio = channels.backend("sms")
    assert isinstance(twilio, TwilioBackend)
    assert twilio.session.auth == (providers.twilio_account, providers.twilio_token)


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        (21211, True),  # invalid 'To' number
        (21610, True),  # the patient replied STOP
        (21614, True),  # not a mobile number
        (21408, True),  # region not enabled
        (21999, True),  # an undocumented 400: the request as it stands will never pass
    ],
)
def test_twilio_refusals_are_permanent_by_their_documented_codes(
    providers: FakeProviders, code: int, permanent: bool
) -> None:
    providers.fail("sms", PHONE, code)
    with pytest.raises(ChannelError) as raised:
        channels.send(reminder("sms"))
    assert (raised.value.code, raised.value.permanent) == (str(code), permanent)


@pytest.mark.parametrize(("code", "status"), [(20429, 429), (20500, 500), (20503, 503), (None, 502)])
def test_twilio_rate_limits_and_server_errors_are_temporary(
    providers: FakeProviders, code: int | None, status: int
) -> None:
    providers.fail("sms", PHONE, code or 0, status=status)
    with pytest.raises(ChannelError) as raised:
        channels.send(reminder("sms"))
    assert raised.value.permanent is False
    assert raised.value.code == (str(code) if code else f"http_{status}")


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        (131026, True),  # not on WhatsApp
        (131047, True),  # outside the 24-hour window
        (131051, True),  # unsupported message type
        (100, True),  # invalid parameter
        (132000, True),  # template parameters mismatch
        (132001, True),  # template missing in that language
        (130429, False),  # throughput limit
        (131000, False),  # something went wrong
        (131056, False),  # too many messages to this number
    ],
)
def test_whatsapp_refusals_follow_metas_documented_codes(providers: FakeProviders, code: int, permanent: bool) -> None:
    providers.fail("whatsapp", PHONE, code)
    with pytest.raises(ChannelError) as raised:
        channels.send(reminder("whatsapp"))
    assert (raised.value.code, raised.value.permanent) == (str(code), permanent)


def test_whatsapp_server_errors_are_temporary(providers: FakeProviders) -> None:
    providers.fail("whatsapp", PHONE, 2, status=503)
    with pytest.raises(ChannelError) as raised:
        channels.send(reminder("whatsapp"))
    assert (raised.value.code, raised.value.permanent) == ("2", False)


def test_a_wrong_token_is_not_the_patients_fault(providers: FakeProviders, settings: Any) -> None:
    """Retried (and listed for staff once out of attempts), never a reason to drop the channel for this patient."""
    settings.CLINIC_CHANNELS["sms"]["OPTIONS"] = {**settings.CLINIC_CHANNELS["sms"]["OPTIONS"], "secret": "wrong"}
    settings.CLINIC_CHANNELS["whatsapp"]["OPTIONS"] = {
        **settings.CLINIC_CHANNELS["whatsapp"]["OPTIONS"],
        "secret": "wrong",
    }
    with pytest.raises(ChannelError) as sms:
        channels.send(reminder("sms"))
    with pytest.raises(ChannelError) as whatsapp:
        channels.send(reminder("whatsapp"))
    assert (sms.value.code, sms.value.permanent) == ("20003", False)
    assert (whatsapp.value.code, whatsapp.value.permanent) == ("190", False)


def test_a_provider_that_cannot_be_reached_is_a_temporary_failure(settings: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CLINIC_CHANNELS = FakeProviders(port=port).channels()
    for channel in ("sms", "whatsapp"):
        with pytest.raises(ChannelError) as raised:
            channels.send(reminder(channel))
        assert (raised.value.code, raised.value.permanent) == ("network", False)


def test_a_provider_too_slow_to_answer_is_a_temporary_failure(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "TIMEOUT", (3.0, 0.2))
    providers.delay = 1.0
    with pytest.raises(ChannelError) as raised:
        channels.send(reminder("whatsapp"))
    assert (raised.value.code, raised.value.permanent) == ("timeout", False)


def test_errors_and_logs_never_carry_the_number_or_the_text(
    providers: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    """Twilio's own message for 21211 quotes the number; ours does not."""
    caplog.set_level(logging.DEBUG)
    providers.fail("sms", PHONE, 21211)
    providers.fail("whatsapp", PHONE, 131026)
    errors = []
    for channel in ("sms", "whatsapp"):
        with pytest.raises(ChannelError) as raised:
            channels.send(reminder(channel))
        errors.append(raised.value)
    assert [str(error) for error in errors] == [
        "21211: invalid 'To' number",
        "131026: message undeliverable (not on WhatsApp, or an old app)",
    ]
    channels.send(reminder("sms", to="+85261234567"))
    written = caplog.text + "".join(str(error) for error in errors)
    for secret in (PHONE, PHONE[1:], "+85261234567", "Reminder:", "陳大文", providers.twilio_token):
        assert secret not in written
    assert base64.b64encode(f"{providers.twilio_account}:{providers.twilio_token}".encode()).decode() not in written
