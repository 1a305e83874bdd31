from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Booking"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_save

        from booking import monitoring, receipts, signals, webhooks
        from booking.models import LedgerEntry
        from clinic import aggregates, metrics
        from clinic.events import domain_event

        signals.connect()
        # Every payment and refund has its receipt emailed (booking/receipts.py).
        post_save.connect(receipts.ledger_saved, sender=LedgerEntry, dispatch_uid="booking.receipts")
        # The services of every floor announce their changes (clinic/events.py);
        # the outgoing webhooks write their deliveries in the same transaction.
        domain_event.connect(webhooks.on_domain_event, dispatch_uid="booking.webhooks")
        # The reports' medians and quartiles on SQLite too (clinic/aggregates.py).
        connection_created.connect(aggregates.register_sqlite, dispatch_uid="clinic.aggregates")
        # The outboxes' depth and age, read when /metrics is scraped (booking/monitoring.py).
        metrics.register_scrape_collector(monitoring.OutboxCollector())
