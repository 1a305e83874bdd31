from django.urls import path

from booking import apis, consent_apis, privacy_apis, waitlist_apis

urlpatterns = [
    path("screening/", apis.ScreeningApi.as_view(), name="screening"),
    path("plans/", apis.PlanListApi.as_view(), name="plan-list"),
    path("practitioners/", apis.PractitionerListApi.as_view(), name="practitioner-list"),
    path("availability/", apis.AvailabilityApi.as_view(), name="availability"),
    path("appointments/", apis.AppointmentListApi.as_view(), name="appointment-list"),
    path("appointments/<int:pk>/", apis.AppointmentDetailApi.as_view(), name="appointment-detail"),
    path("appointments/<int:pk>/reschedule/", apis.RescheduleApi.as_view(), name="appointment-reschedule"),
    path("appointments/<int:pk>/cancel/", apis.CancelApi.as_view(), name="appointment-cancel"),
    path("appointments/<int:pk>/check-in/", apis.CheckInApi.as_view(), name="appointment-check-in"),
    path("appointments/<int:pk>/no-show/", apis.NoShowApi.as_view(), name="appointment-no-show"),
    path("appointments/<int:pk>/complete/", apis.CompleteApi.as_view(), name="appointment-complete"),
    path("appointments/<int:pk>/calendar.ics", apis.CalendarApi.as_view(), name="appointment-calendar"),
    path("appointments/<int:pk>/consent/", consent_apis.AppointmentConsentApi.as_view(), name="appointment-consent"),
    path("me/consents/", consent_apis.MyConsentsApi.as_view(), name="me-consents"),
    path("consents/<int:pk>/withdraw/", consent_apis.ConsentWithdrawApi.as_view(), name="consent-withdraw"),
    path("appointments/<int:pk>/pre-care/", apis.PreCareApi.as_view(), name="appointment-pre-care"),
    path(
        "appointments/<int:pk>/pre-care/acknowledge/",
        apis.PreCareAcknowledgeApi.as_view(),
        name="appointment-pre-care-acknowledge",
    ),
    path("notifications/", apis.NotificationListApi.as_view(), name="notification-list"),
    path("session-records/", apis.SessionRecordListApi.as_view(), name="session-record-list"),
    path("session-records/<int:pk>/", apis.SessionRecordDetailApi.as_view(), name="session-record-detail"),
    path("lots/", apis.LotSearchApi.as_view(), name="lot-search"),
    path("waitlist/", waitlist_apis.WaitlistListApi.as_view(), name="waitlist-list"),
    path("waitlist/<int:pk>/", waitlist_apis.WaitlistDetailApi.as_view(), name="waitlist-detail"),
    path("waitlist/<int:pk>/offer/", waitlist_apis.WaitlistOfferByHandApi.as_view(), name="waitlist-offer-by-hand"),
    path("waitlist/offers/<int:pk>/", waitlist_apis.WaitlistOfferDetailApi.as_view(), name="waitlist-offer-detail"),
    path(
        "waitlist/offers/<int:pk>/accept/",
        waitlist_apis.WaitlistOfferAcceptApi.as_view(),
        name="waitlist-offer-accept",
    ),
    path(
        "waitlist/offers/<int:pk>/decline/",
        waitlist_apis.WaitlistOfferDeclineApi.as_view(),
        name="waitlist-offer-decline",
    ),
    path("me/export/", privacy_apis.MyExportApi.as_view(), name="me-export"),
    path("patients/<int:pk>/export/", privacy_apis.PatientExportApi.as_view(), name="patient-export"),
    path("patients/<int:pk>/erase/", privacy_apis.PatientEraseApi.as_view(), name="patient-erase"),
    path("patients/<int:pk>/erasure/", privacy_apis.PatientErasureApi.as_view(), name="patient-erasure"),
]
