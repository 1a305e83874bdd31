from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from booking.models import Appointment, Notification, WaitlistEntry
from clinic.api import StrictFilterSet
from clinic.clock import clinic_zone


class AppointmentFilter(StrictFilterSet):
    """``from`` / ``to`` are clinic-local dates, both inclusive."""

    to = django_filters.DateFilter(method="filter_to")
    practitioner = django_filters.NumberFilter(field_name="practitioner_id", min_value=1, max_value=2**62)
    patient = django_filters.NumberFilter(field_name="patient_id", min_value=1, max_value=2**62)
    status = django_filters.MultipleChoiceFilter(choices=Appointment.Status.choices)

    class Meta:
        model = Appointment
        fields: list[str] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.filters["from"] = django_filters.DateFilter(method="filter_from")
        self.filters["from"].parent = self
        self.filters["from"].model = Appointment

    @staticmethod
    def _midnight(day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time()), clinic_zone())

    def filter_from(self, queryset: QuerySet[Appointment], name: str, value: date) -> QuerySet[Appointment]:
        if value <= date.min + timedelta(days=1):
            return queryset  # its midnight is not a datetime in UTC; nothing starts before it anyway
        return queryset.filter(start__gte=self._midnight(value))

    def filter_to(self, queryset: QuerySet[Appointment], name: str, value: date) -> QuerySet[Appointment]:
        if value >= date.max - timedelta(days=1):
            return queryset  # the next midnight is not a datetime; nothing starts after it anyway
        return queryset.filter(start__lt=self._midnight(value + timedelta(days=1)))


class NotificationFilter(StrictFilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id", min_value=1, max_value=2**62)
    appointment = django_filters.NumberFilter(field_name="appointment_id", min_value=1, max_value=2**62)
    plan_session = django_filters.NumberFilter(field_name="plan_session_id", min_value=1, max_value=2**62)
    status = django_filters.MultipleChoiceFilter(choices=Notification.Status.choices)
    kind = django_filters.MultipleChoiceFilter(choices=Notification.Kind.choices)

    class Meta:
        model = Notification
        fields: list[str] = []


class WaitlistFilter(StrictFilterSet):
    """Staff's filters of the waitlist; a patient's list is their own whatever they ask."""

    treatment = django_filters.CharFilter(field_name="treatment__slug", max_length=80)
    patient = django_filters.NumberFilter(field_name="patient_id", min_value=1, max_value=2**62)
    status = django_filters.MultipleChoiceFilter(choices=WaitlistEntry.Status.choices)

    class Meta:
        model = WaitlistEntry
        fields: list[str] = []
