"""The site's URLs and one that fails, for tests/ops/test_sentry.py."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from clinic.urls import urlpatterns as site


@csrf_exempt  # a form post from a script, as an API client's would be
def fail(request: HttpRequest) -> HttpResponse:
    email = request.POST.get("email", "")
    patient_name = request.POST.get("name", "")  # a local variable Sentry must not see
    raise ValueError(f"could not file the form of {email} ({len(patient_name)} characters)")


urlpatterns = [path("api/v1/test-failure/", fail), *site]

handler500 = "clinic.views.server_error"
