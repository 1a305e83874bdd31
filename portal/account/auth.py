"""Sign in and out of the pages (session login with CSRF protection)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

from patients.models import Patient
from patients.roles import is_staff_role, role_of


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    error_messages = {
        "invalid_login": _("The email or password is not right."),
        "inactive": _("This account is not active. Please call the clinic."),
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "account/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return "/staff/" if is_staff_role(role_of(self.request.user)) else "/appointments/"

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        # A patient signing in on a new device gets the language they chose before.
        patient = Patient.objects.filter(user=form.get_user()).only("preferred_language").first()
        if patient and patient.preferred_language != self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                patient.preferred_language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


class LogoutView(auth_views.LogoutView):
    next_page = "/"
