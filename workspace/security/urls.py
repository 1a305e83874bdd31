from django.urls import path

from workspace.security import views

app_name = "security"

urlpatterns = [
    path("second-factor/", views.verify, name="verify"),
    path("second-factor/enrol/", views.enrol, name="enrol"),
    path("second-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("second-factor/settings/", views.security_settings, name="settings"),
    path("second-factor/reset/<int:pk>/", views.reset, name="reset"),
]
