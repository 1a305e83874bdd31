from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Booking"

    def ready(self) -> None:
        from booking import signals, webhooks
        from clinic.events import domain_event

        signals.connect()
        # The services of every floor announce their changes (clinic/events.py);
        # the outgoing webhooks write their deliveries in the same transaction.
        domain_event.connect(webhooks.on_domain_event, dispatch_uid="booking.webhooks")
