"""The consent signing page, shared by the patient's own page (portal) and the
front desk's tablet page (workspace): one form to parse what was posted, the
sheets (one per form the visit needs) to show, and the call to
``treatments.consents.consent_sign``, which decides every rule.

What the page shows is ``consent_text(version, language)`` and the language
travels with the form, so the text stored is the text that was read even if
the page's language changed in another tab meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.models import Appointment
from booking.services import appointment_consent_sign  # the one rule for both doors, page and API
from clinic.errors import ApplicationError, InvalidInput, InvalidState
from treatments import consents
from treatments.models import ConsentSignature, ConsentVersion, PhotoUse, is_chinese

if TYPE_CHECKING:
    from django.contrib.auth.models import User

UPCOMING = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN)


def language_of(code: str | None) -> str:
    """The consent language for a page or patient language code."""
    return "zh-hant" if is_chinese(code) else "en"


class SignForm(forms.Form):
    """One form's signature as posted by the signing pad (static/clinic/consent.js)."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    language = forms.ChoiceField(choices=[(code, code) for code in consents.LANGUAGES], widget=forms.HiddenInput)
    full_name = forms.CharField(
        label=gettext_lazy("Your full name"), max_length=consents.NAME_MAX, required=False, strip=True
    )
    typed = forms.BooleanField(label=gettext_lazy("Type my name instead of drawing"), required=False)
    signature_svg = forms.CharField(
        required=False, strip=False, max_length=consents.SIGNATURE_MAX_BYTES * 2, widget=forms.HiddenInput
    )
    photo_teaching = forms.BooleanField(label=gettext_lazy("Teaching"), required=False)
    photo_marketing = forms.BooleanField(label=gettext_lazy("Marketing"), required=False)

    def __init__(self, *args: Any, prefix_id: str = "consent", **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{prefix_id}-%s")  # one page shows a form per consent form
        super().__init__(*args, **kwargs)
        self.prefix_id = prefix_id

    def photo_use(self) -> list[str]:
        data = self.cleaned_data
        return [
            use
            for use, chosen in (
                (PhotoUse.TEACHING.value, data.get("photo_teaching")),
                (PhotoUse.MARKETING.value, data.get("photo_marketing")),
            )
            if chosen
        ]

    def drawing(self) -> str:
        """The drawing to store: none when the patient typed their name instead.
        A drawing is needed otherwise (the pad's own choice, not a consent rule)."""
        if self.cleaned_data.get("typed"):
            return ""
        svg = (self.cleaned_data.get("signature_svg") or "").strip()
        if not svg:
            raise InvalidInput(
                _("Draw your signature in the box, or choose “Type my name instead of drawing”."),
                fields={"signature_svg": [_("Draw your signature, or type your name instead.")]},
            )
        return svg

    def apply(self, error: ApplicationError) -> None:
        """The service's refusal: on the name or drawing field it names, and
        its message (or the field's, for the version or photo choices) above
        the form, saying what to do."""
        placed = False
        for name, messages in (error.fields or {}).items():
            if name in ("full_name", "signature_svg"):
                for message in messages:
                    self.add_error(name, message)
                placed = True
        if str(error.detail) != str(InvalidInput.default_detail):
            self.add_error(None, str(error.detail))
        elif not placed:
            for messages in (error.fields or {}).values():
                for message in messages:
                    self.add_error(None, message)
            if not error.fields:
                self.add_error(None, str(error.detail))


@dataclass
class Sheet:
    """One form the visit needs, as the page shows it."""

    need: consents.Need
    text: str  # exactly what is stored when signed
    parts: list[tuple[str, str]]  # the same text in its (heading, body) parts, as the page sets it out
    language: str
    form: SignForm | None  # None once signed

    @property
    def signed(self) -> bool:
        return self.need.signed

    @property
    def signature(self) -> ConsentSignature | None:
        return self.need.signature

    @property
    def title(self) -> str:
        return str(self.need.form.localized("title", self.language))  # in the language of the text

    @property
    def key(self) -> str:
        return f"consent-{self.need.form.pk}"


def sheets(appointment: Appointment, *, language: str, posted: SignForm | None = None) -> list[Sheet]:
    """What the visit needs, each with its text in ``language`` and, while
    unsigned, a form (the posted one again, filled as it was, for its form)."""
    result = []
    for need in consents.needs_for(patient=appointment.patient_id, treatment=appointment.treatment):
        form: SignForm | None = None
        key = f"consent-{need.form.pk}"
        if posted is not None and posted.prefix_id == key:
            form = posted
            # A newer version may have been published meanwhile: sign that one.
            data = dict(form.data.items())
            data.update(version=str(need.version.pk), language=language)
            form.data = data
        elif not need.signed:
            form = SignForm(
                # The name is typed by the patient, never filled in for them: it is part of the signature.
                initial={"version": need.version.pk, "language": language},
                prefix_id=key,
            )
        result.append(
            Sheet(
                need=need,
                text=consents.consent_text(need.version, language),
                parts=consents.consent_parts(need.version, language),
                language=language,
                form=form,
            )
        )
    return result


def posted_form(data: Any, appointment: Appointment) -> SignForm:
    """The posted form, tied to the sheet of the form its version belongs to."""
    version_pk = str(data.get("version") or "")
    form_id = None
    if version_pk.isdigit() and len(version_pk) < 10:
        form_id = ConsentVersion.objects.filter(pk=int(version_pk)).values_list("form_id", flat=True).first()
    return SignForm(data, prefix_id=f"consent-{form_id}" if form_id else "consent")


def submit(
    data: Any, appointment: Appointment, *, by: User, staff: bool, client_address: str | None
) -> tuple[SignForm, ConsentSignature | None]:
    """One posted form of either door (the patient online, or at the desk with
    ``by`` as the witness), signed through ``appointment_consent_sign``. Returns
    the form and the signature, or the form with the refusal placed on it
    (InvalidInput, or InvalidState for a visit cancelled meanwhile) and None."""
    form = posted_form(data, appointment)
    try:
        if not form.is_valid():
            raise InvalidInput(_("Check the form and try again."))
        version = ConsentVersion.objects.select_related("form").filter(pk=form.cleaned_data["version"]).first()
        if version is None:
            raise InvalidInput(fields={"version": [_("Not the current version of this form.")]})
        signature = appointment_consent_sign(
            appointment=appointment,
            version=version,
            full_name=form.cleaned_data.get("full_name") or "",
            signature_svg=form.drawing(),
            photo_use=form.photo_use(),
            language=form.cleaned_data["language"],
            by=by,
            staff=staff,
            client_address=client_address,
        )
    except (InvalidInput, InvalidState) as error:
        form.apply(error)
        return form, None
    return form, signature


def _needs_by_appointment(appointments: Iterable[Appointment]) -> dict[int, list[consents.Need]]:
    """Every form each upcoming visit needs, signed or not, in one batch (fixed
    queries). Visits that are over or cancelled are left out."""
    shown = [a for a in appointments if a.status in UPCOMING]
    found = consents.needs((a.patient_id, a.treatment) for a in shown)
    return {a.pk: found.get((a.patient_id, a.treatment_id), []) for a in shown}


def missing_by_appointment(appointments: Iterable[Appointment]) -> dict[int, list[consents.Need]]:
    """For many visits at once (one batch, fixed queries): the forms each still
    needs signed. Visits that are over or cancelled need nothing here."""
    return {pk: [n for n in needs if not n.signed] for pk, needs in _needs_by_appointment(appointments).items()}


def consent_state(appointments: Iterable[Appointment]) -> dict[int, str]:
    """``missing``, ``signed`` or ``none`` (nothing to sign) per upcoming visit, in one batch."""
    return {
        pk: "none" if not needs else ("signed" if all(n.signed for n in needs) else "missing")
        for pk, needs in _needs_by_appointment(appointments).items()
    }
