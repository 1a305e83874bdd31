from django.urls import path

from workspace.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.subscription_list, name="list"),
    path("webhooks/new/", views.subscription_new, name="new"),
    path("webhooks/<int:pk>/", views.subscription_detail, name="subscription"),
    path("webhooks/<int:pk>/rotate/", views.subscription_rotate, name="rotate"),
    path("webhooks/<int:pk>/ping/", views.subscription_ping, name="ping"),
    path("webhooks/<int:pk>/delete/", views.subscription_delete, name="delete"),
    path("webhooks/<int:pk>/deliveries/", views.delivery_log, name="deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/send-again/",
        views.delivery_send_again,
        name="send_again",
    ),
]
