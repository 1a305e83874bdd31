"""The providers' webhooks, mounted at /hooks/ by clinic/urls.py (outside
/api/v1/: the provider's signature is the credential; booking/hooks.py)."""

from django.urls import path

from booking import hooks

app_name = "hooks"

urlpatterns = [
    path("twilio/sms/", hooks.twilio_sms, name="twilio_sms"),
    path("twilio/status/", hooks.twilio_status, name="twilio_status"),
    path("whatsapp/", hooks.whatsapp, name="whatsapp"),
    path("stripe/", hooks.stripe_events, name="stripe"),
]
