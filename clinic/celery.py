"""The Celery app. Periodic jobs are all declared here, in one place."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Beat runs in UTC (CELERY_TIMEZONE). Each entry says why it exists.
app.conf.beat_schedule = {}
