from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from clinic import brand, metrics, views
from clinic.schema import DocsView, SchemaView
from portal.account import views as account_views

api_v1: list[URLPattern | URLResolver] = [
    path("", include("patients.urls")),
    path("", include("treatments.urls")),
    path("", include("booking.urls")),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # Last: any other /api/v1/ URL is the API's JSON 404, even with DEBUG on.
    re_path(r"^(?P<rest>.*)$", views.api_not_found, name=metrics.API_UNMATCHED),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", views.healthz, name="healthz"),
    path("readyz/", views.readyz, name="readyz"),
    # Prometheus (clinic/metrics.py): a token, or only loopback and private addresses.
    path("metrics", metrics.metrics_view, name="metrics"),
    # The brand: the accent as CSS custom properties (no inline styles under the CSP), and
    # /favicon.ico for the browsers and tools that ask for it whatever the page links.
    path("brand.css", brand.brand_css, name="brand_css"),
    path("favicon.ico", brand.favicon, name="favicon"),
    path("api/v1/", include(api_v1)),
    # The SMS and WhatsApp providers' webhooks, signed by the provider (booking/hooks.py).
    path("hooks/", include("booking.hook_urls")),
    # Private calendar feeds (booking/feeds.py): the token is the credential, no sign-in.
    path("calendar/", include("booking.feed_urls")),
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    # Staff workspace: the schedule and lists, then the patient chart.
    path("staff/", include("workspace.schedule.urls")),
    path("staff/", include("workspace.chart.urls")),
    path("staff/", include("workspace.security.urls")),
    path("staff/", include("workspace.consents.urls")),
    path("staff/", include("workspace.webhooks.urls")),
    path("staff/", include("workspace.packages.urls")),
    path("staff/", include("workspace.money.urls")),
    path("staff/", include("workspace.reports.urls")),
    # Patient pages: catalogue, booking, appointments; account and progress.
    path("", include("portal.account.urls")),
    path("", include("portal.book.urls")),
]

handler400 = "clinic.views.bad_request"
handler403 = "clinic.views.permission_denied"
handler404 = "clinic.views.not_found"
handler500 = "clinic.views.server_error"
