"""The webhook signatures, checked against vectors the providers (and GitHub,
whose X-Hub-Signature-256 is the same scheme as Meta's) publish, so a
signature that only agrees with itself cannot pass."""

from __future__ import annotations

from booking.inbound import (
    twilio_signature,
    twilio_signature_valid,
    whatsapp_signature,
    whatsapp_signature_valid,
)

# Twilio's documented example (docs "Webhooks security", and its libraries' tests).
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
TWILIO_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

# GitHub's documented example of X-Hub-Signature-256 (HMAC-SHA256 of the raw body, hex).
HUB_SECRET = "It's a Secret to Everybody"
HUB_BODY = b"Hello, World!"
HUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_twilio_signature_matches_twilios_documented_example() -> None:
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_SIGNATURE
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, list(reversed(TWILIO_PARAMS))) == TWILIO_SIGNATURE
    assert twilio_signature_valid(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE)


def test_a_twilio_signature_fails_when_anything_signed_differs() -> None:
    tampered = [(name, "9999" if name == "Digits" else value) for name, value in TWILIO_PARAMS]
    assert not twilio_signature_valid(TWILIO_TOKEN, TWILIO_URL, tampered, TWILIO_SIGNATURE)
    assert not twilio_signature_valid(TWILIO_TOKEN, TWILIO_URL, [*TWILIO_PARAMS, ("x", "1")], TWILIO_SIGNATURE)
    assert not twilio_signature_valid("54321", TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE)
    # The URL is signed too: the same request at another host (a proxy's) does not pass.
    other_host = TWILIO_URL.replace("mycompany.com", "internal:8000")
    assert not twilio_signature_valid(TWILIO_TOKEN, other_host, TWILIO_PARAMS, TWILIO_SIGNATURE)
    assert not twilio_signature_valid(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "")
    assert not twilio_signature_valid("", TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE)
    assert not twilio_signature_valid(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "無效")


def test_hub_signature_matches_the_documented_example() -> None:
    assert whatsapp_signature(HUB_SECRET, HUB_BODY) == HUB_SIGNATURE
    assert whatsapp_signature_valid(HUB_SECRET, HUB_BODY, HUB_SIGNATURE)
    assert whatsapp_signature_valid(HUB_SECRET, HUB_BODY, HUB_SIGNATURE.upper().replace("SHA256=", "sha256="))


def test_a_hub_signature_fails_when_anything_signed_differs() -> None:
    assert not whatsapp_signature_valid(HUB_SECRET, HUB_BODY + b" ", HUB_SIGNATURE)
    assert not whatsapp_signature_valid("another secret", HUB_BODY, HUB_SIGNATURE)
    assert not whatsapp_signature_valid(HUB_SECRET, HUB_BODY, HUB_SIGNATURE.removeprefix("sha256="))
    assert not whatsapp_signature_valid(HUB_SECRET, HUB_BODY, "sha1=" + HUB_SIGNATURE[7:])
    assert not whatsapp_signature_valid(HUB_SECRET, HUB_BODY, "")
    assert not whatsapp_signature_valid("", HUB_BODY, HUB_SIGNATURE)
    assert not whatsapp_signature_valid(HUB_SECRET, HUB_BODY, "sha256=無效")
