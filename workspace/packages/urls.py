from django.urls import path

from workspace.packages import views

app_name = "packages"

urlpatterns = [
    # Managers' catalogue of course packages (the Manage menu).
    path("packages/", views.offers, name="offers"),
    path("packages/new/", views.offer_new, name="offer_new"),
    path("packages/<int:pk>/", views.offer_edit, name="offer_edit"),
    path("packages/<int:pk>/retire/", views.offer_retire, name="offer_retire"),
    # A patient's packages: every staff role sells; managers refund.
    path("patients/<int:pk>/packages/", views.patient_packages, name="patient"),
    path("patients/<int:pk>/packages/<int:package_pk>/refund/", views.package_refund, name="refund"),
]
