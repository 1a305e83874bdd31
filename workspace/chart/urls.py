from django.urls import path

from workspace.chart import access_log, consent_pdf, lots, money_actions, privacy, views

app_name = "chart"

urlpatterns = [
    path("patients/", views.patients, name="patients"),
    # A visit's money at the desk (workspace/chart/money_actions.py).
    path("appointments/<int:pk>/deposit/", money_actions.deposit_record, name="deposit_record"),
    path("ledger/<int:pk>/waive/", money_actions.fee_waive, name="fee_waive"),
    path("ledger/<int:pk>/refund/", money_actions.desk_refund, name="desk_refund"),
    path("patients/new/", views.patient_new, name="patient_new"),
    path("patients/<int:pk>/", views.patient, name="patient"),
    # The chart's sections, one page each (workspace/chart/chart.py: SECTIONS).
    path("patients/<int:pk>/assessments/", views.assessments, name="assessments"),
    path("patients/<int:pk>/photos/", views.photos, name="photos"),
    path("patients/<int:pk>/plans/", views.plans, name="plans"),
    path("patients/<int:pk>/records/", views.records, name="records"),
    path("patients/<int:pk>/appointments/", views.appointments, name="appointments"),
    path("patients/<int:pk>/history/", views.history, name="history"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/contact/", views.patient_channels, name="patient_channels"),
    path("patients/<int:pk>/export/", privacy.export, name="export"),
    path("patients/<int:pk>/erase/", privacy.erase, name="erase"),
    path("patients/<int:pk>/declarations/new/", views.declaration_new, name="declaration_new"),
    path("patients/<int:pk>/assessments/new/", views.assessment_new, name="assessment_new"),
    path(
        "patients/<int:pk>/assessments/<int:assessment_pk>/correct/",
        views.assessment_correct,
        name="assessment_correct",
    ),
    path("patients/<int:pk>/plans/new/", views.plan_new, name="plan_new"),
    path(
        "patients/<int:pk>/photos/<int:photo_pk>/<str:variant>/",
        views.photo_file,
        name="photo",
    ),
    path("patients/<int:pk>/consents/<int:signature_pk>.pdf", consent_pdf.consent_pdf, name="consent_pdf"),
    path(
        "patients/<int:pk>/consents/<int:signature_pk>/withdraw/",
        views.consent_withdraw,
        name="consent_withdraw",
    ),
    path("patients/<int:pk>/access-log/", access_log.patient_access_log, name="access_log_patient"),
    path("access-log/", access_log.staff_access_log, name="access_log"),
    path("lots/", lots.lots, name="lots"),
    path("assessments/score/", views.assessment_score, name="assessment_score"),
    path("plans/<int:pk>/cancel/", views.plan_cancel, name="plan_cancel"),
    path("appointments/<int:pk>/record/", views.session_record, name="session_record"),
]
