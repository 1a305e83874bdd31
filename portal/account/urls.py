from django.urls import path

from portal.account import access_log, auth, consents, devices, feeds, payments, privacy, views

app_name = "account"

urlpatterns = [
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("account/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("me/", views.profile, name="profile"),
    path("me/channels/", views.channels, name="channels"),
    path("me/dates/", views.important_date_add, name="important_date_add"),
    path("me/dates/<int:pk>/remove/", views.important_date_remove, name="important_date_remove"),
    path("me/consents/<int:pk>/withdraw/", consents.consent_withdraw, name="consent_withdraw"),
    path("me/access-log/", access_log.my_access_log, name="access_log"),
    path("me/password/", views.password_change, name="password_change"),
    path("me/export/", privacy.export, name="export"),
    path("me/export/download/", privacy.export_download, name="export_download"),
    path("me/devices/", devices.devices, name="devices"),
    path("me/devices/<int:pk>/sign-out/", devices.sign_out_device, name="device_sign_out"),
    path("me/devices/sign-out-others/", devices.sign_out_others, name="devices_sign_out_others"),
    path("me/email/", views.email_change, name="email_change"),
    path("me/email/confirm/<str:token>/", views.email_change_confirm, name="email_change_confirm"),
    path("progress/", views.progress, name="progress"),
    path("progress/photos/<int:pk>/<slug:kind>/", views.photo, name="photo"),
    path("plans/<int:pk>/", views.plan, name="plan"),
    # The patient's private calendar link (portal/account/feeds.py).
    path("me/calendar/", feeds.calendar_feed, name="calendar_feed"),
    # Payments, refunds and receipts (portal/account/payments.py).
    path("me/payments/", payments.payments, name="payments"),
    path("me/payments/<int:pk>/receipt.pdf", payments.receipt, name="receipt"),
]
