from django.urls import path

from patients import apis

urlpatterns = [
    path("auth/register/", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", apis.TokenApi.as_view(), name="auth-token"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password-reset/", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("auth/password-reset/confirm/", apis.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/email/confirm/", apis.EmailChangeConfirmApi.as_view(), name="me-email-confirm"),
    path("me/health-declarations/", apis.MyDeclarationsApi.as_view(), name="me-declarations"),
    path("patients/", apis.PatientListApi.as_view(), name="patient-list"),
    path("patients/<int:pk>/", apis.PatientDetailApi.as_view(), name="patient-detail"),
    path("patients/<int:pk>/health-declarations/", apis.PatientDeclarationsApi.as_view(), name="patient-declarations"),
]
