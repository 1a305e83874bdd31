from django.urls import path

from portal.account import consents
from portal.book import attend, consent, deposit, flow, precare, views, waitlist

app_name = "site"

urlpatterns = [
    path("", views.home, name="home"),
    path("treatments/", views.treatments, name="treatments"),
    path("treatments/<slug:slug>/", views.treatment, name="treatment"),
    path("practitioners/<int:pk>/photo/<str:name>", views.practitioner_photo, name="practitioner_photo"),
    path("book/", flow.book, name="book"),
    path("accounts/register/", views.register, name="register"),
    path("accounts/register/check/", views.register_check, name="register_check"),
    path("me/health/", views.questionnaire, name="questionnaire"),
    # The patient's signed consent forms (portal/account/consents.py).
    path("me/consents/", consents.consent_list, name="consents"),
    path("me/consents/<int:pk>.pdf", consents.consent_pdf, name="consent_pdf"),
    # The waitlist (portal/book/waitlist.py); joining is a step of /book/.
    path("me/waitlist/", waitlist.my_waitlist, name="waitlist"),
    path("me/waitlist/<int:pk>/leave/", waitlist.leave, name="waitlist_leave"),
    path("waitlist/offers/<int:offer_id>/", waitlist.offer, name="waitlist_offer"),
    path("appointments/", views.appointments, name="appointments"),
    path("appointments/<int:pk>/", views.appointment, name="appointment"),
    path("appointments/<int:pk>/calendar.ics", views.appointment_ics, name="appointment_ics"),
    path("appointments/<int:pk>/cancel/", views.cancel, name="cancel"),
    # Paying a deposit online (portal/book/deposit.py): the provider's checkout comes back here.
    path("appointments/<int:pk>/deposit/pay/", deposit.pay, name="deposit_pay"),
    path("appointments/<int:pk>/deposit/done/", deposit.done, name="deposit_done"),
    path("appointments/<int:pk>/deposit/cancelled/", deposit.cancelled, name="deposit_cancelled"),
    path("appointments/<int:pk>/deposit/release/", deposit.release, name="deposit_release"),
    path("packages/<int:offer_id>/buy/", deposit.package_buy, name="package_buy"),
    path("packages/bought/<str:uid>/", deposit.package_done, name="package_done"),
    path("appointments/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("appointments/<int:pk>/pre-care/", precare.pre_care_confirm, name="pre_care_confirm"),
    path("pre-care/<str:token>/", precare.pre_care, name="pre_care"),
    path("appointments/<int:pk>/consent/", consent.appointment_consent, name="appointment_consent"),
    # The reminder email's "I'm coming" link (portal/book/attend.py): the signed token is the proof.
    path("visits/confirm/<str:token>/", attend.confirm_visit, name="visit_confirm"),
]
