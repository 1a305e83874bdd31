"""Signing consent in a test's setup: completing a session needs the patient's
signature for every consent form its treatment needs
(booking.services.appointment_complete), so tests that complete sessions sign
first, through the real service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from treatments import consents
from treatments.models import ConsentSignature, Treatment

if TYPE_CHECKING:
    from patients.models import Patient

DRAWING = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 200">'
    '<path d="M10 10 L50 60 L90 20"/><path d="M100 100 L120 130"/></svg>'
)


def sign_for(patient: Patient, treatment: Treatment, *, photo_use: tuple[str, ...] = ()) -> list[ConsentSignature]:
    """Signs, online and as the patient, the current version of every form
    ``treatment`` needs that ``patient`` has not signed yet (none when the
    treatment needs no consent). Returns the new signatures."""
    from tests.factories import UserFactory

    signed = []
    for need in consents.missing(patient=patient, treatment=treatment):
        by = patient.user or UserFactory(role="receptionist")
        signed.append(
            consents.consent_sign(
                patient=patient,
                version=need.version,
                full_name=patient.full_name or "Patient",
                signature_svg=DRAWING,
                photo_use=photo_use,
                language="en",
                channel=ConsentSignature.Channel.ONLINE if patient.user else ConsentSignature.Channel.DESK,
                by=by,
                witness=None if patient.user else by,
                client_address="203.0.113.9",
            )
        )
    return signed
