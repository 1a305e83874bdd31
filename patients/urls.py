from django.urls import path

from patients import apis

urlpatterns = [
    path("auth/register/", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", apis.TokenApi.as_view(), name="auth-token"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password-reset/", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("auth/password-reset/confirm/", apis.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"),
    path("auth/logout-all/", apis.LogoutAllApi.as_view(), name="auth-logout-all"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/password/", apis.PasswordChangeApi.as_view(), name="me-password"),
    path("me/devices/", apis.MyDevicesApi.as_view(), name="me-devices"),
    path("me/devices/<int:pk>/", apis.MyDeviceApi.as_view(), name="me-device"),
    path("me/email/confirm/", apis.EmailChangeConfirmApi.as_view(), name="me-email-confirm"),
    path("me/health-declarations/", apis.MyDeclarationsApi.as_view(), name="me-declarations"),
    path("me/dates/", apis.MyImportantDatesApi.as_view(), name="me-dates"),
    path("me/dates/<int:pk>/", apis.MyImportantDateApi.as_view(), name="me-date"),
    path("me/access-log/", apis.MyAccessLogApi.as_view(), name="me-access-log"),
    path("me/channels/", apis.MyChannelsApi.as_view(), name="me-channels"),
    path("patients/<int:pk>/channels/", apis.PatientChannelsApi.as_view(), name="patient-channels"),
    path("patients/<int:pk>/access-log/", apis.PatientAccessLogApi.as_view(), name="patient-access-log"),
    path("patients/", apis.PatientListApi.as_view(), name="patient-list"),
    path("patients/<int:pk>/", apis.PatientDetailApi.as_view(), name="patient-detail"),
    path("patients/<int:pk>/dates/", apis.PatientImportantDatesApi.as_view(), name="patient-dates"),
    path("patients/<int:pk>/health-declarations/", apis.PatientDeclarationsApi.as_view(), name="patient-declarations"),
]
