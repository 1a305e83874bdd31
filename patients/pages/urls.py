from django.urls import path

from patients.pages import auth, views

app_name = "account"

urlpatterns = [
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.placeholder, name="password_reset"),
    path("account/reset/<uidb64>/<token>/", views.placeholder, name="password_reset_confirm"),
    path("me/", views.placeholder, name="profile"),
    path("me/password/", views.placeholder, name="password_change"),
    path("progress/", views.placeholder, name="progress"),
    path("plans/<int:pk>/", views.placeholder, name="plan"),
]
