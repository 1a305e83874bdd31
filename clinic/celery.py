"""The Celery app. Periodic jobs are all declared here, in one place."""

from __future__ import annotations

import os

from celery import Celery

from clinic import broker, logs, watchdog
from clinic.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

broker.install()
app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
watchdog.install(app)
# Task logs carry the task id and the id of the request that queued the task,
# and the worker logs in the web's format (LOG_FORMAT).
logs.install_celery()

# Read as settings.CLINIC_NOTIFICATION_SWEEP_SECONDS is: this module is imported
# while the settings load (clinic/__init__.py), so it cannot ask them.
NOTIFICATION_SWEEP_SECONDS = env_int("CLINIC_NOTIFICATION_SWEEP_SECONDS", 60, minimum=1, maximum=3600)
WEBHOOK_SWEEP_SECONDS = env_int("CLINIC_WEBHOOK_SWEEP_SECONDS", 60, minimum=1, maximum=3600)

# Beat runs in UTC (CELERY_TIMEZONE). Each entry says why it exists.
app.conf.beat_schedule = {
    # The notification outbox (booking.notifications): sends what is due
    # (reminders, retries, anything published while Redis was down), returns
    # expired claims of dead workers, schedules plan nudges. `expires`: a
    # worker that was down drops the sweeps it missed instead of running a
    # burst of them; the next sweep sends everything due anyway.
    "notifications-sweep": {
        "task": "booking.tasks.sweep_notifications",
        "schedule": float(NOTIFICATION_SWEEP_SECONDS),
        "options": {"expires": NOTIFICATION_SWEEP_SECONDS},
    },
    # Missed visits (booking.services.appointments_mark_missed): confirmed
    # visits nobody checked in CLINIC_NO_SHOW_AFTER past their end become
    # no-shows, releasing their plan session and telling the patient kindly.
    # Every five minutes keeps the staff's no-show list and the patient's
    # "we missed you" timely without a query a minute; each run re-reads and
    # locks every row (SKIP LOCKED), so an overlapping or doubled run marks
    # nothing twice, and `expires` drops the runs a stopped worker missed.
    "missed-visits": {
        "task": "booking.tasks.mark_missed_visits",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # The waitlist (booking/waitlist.py): offers past their expiry are ended and
    # their slots passed on even when the eta task was lost (a hold must never
    # outlive it by more than a minute), entries whose dates have passed end,
    # and every ten minutes a full match catches freed times whose message
    # never reached a worker (broker down).
    # Payments (booking/deposits.py): deposits not paid within CLINIC_PAYMENT_HOLD
    # free their slot, and refunds the provider has not yet accepted are asked
    # again with the same idempotency key. Every minute, so a hold never
    # outlives its expiry by more than that.
    "payments-sweep": {
        "task": "booking.tasks.sweep_payments",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "waitlist-sweep": {
        "task": "booking.tasks.sweep_waitlist",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Erasure with retention (booking/erasure.py): purges the clinical records
    # of erased patients whose CLINIC_RECORD_RETENTION has ended, and finishes
    # any erasure cut short. Hourly is plenty for a deadline counted in years;
    # the job re-reads state, so a missed or doubled run changes nothing.
    "erasures-purge": {
        "task": "booking.tasks.purge_erasures",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # Outgoing webhooks (booking.webhooks): sends the deliveries that are due
    # (retries after their back-off, anything published while Redis was down)
    # and returns expired claims of dead workers. Every minute keeps a retry
    # within a minute of its time; `expires` drops the sweeps a stopped worker
    # missed, since the next one sends everything due anyway.
    "webhooks-sweep": {
        "task": "booking.tasks.sweep_webhooks",
        "schedule": float(WEBHOOK_SWEEP_SECONDS),
        "options": {"expires": WEBHOOK_SWEEP_SECONDS},
    },
}
