from django.urls import path

from treatments import apis

urlpatterns = [
    path("treatments/", apis.TreatmentListApi.as_view(), name="treatment-list"),
    path("treatments/<slug:slug>/", apis.TreatmentDetailApi.as_view(), name="treatment-detail"),
    # screening/ and plans/ are routed by booking.urls: their answers add the gap rules (booking.spacing).
    # Clinical records.
    path("assessments/", apis.AssessmentListApi.as_view(), name="assessment-list"),
    path("assessments/<int:pk>/", apis.AssessmentDetailApi.as_view(), name="assessment-detail"),
    path("assessments/<int:pk>/history/", apis.AssessmentHistoryApi.as_view(), name="assessment-history"),
    path("assessments/<int:pk>/photos/", apis.PhotoUploadApi.as_view(), name="assessment-photos"),
    path("photos/<int:pk>/image", apis.PhotoImageApi.as_view(), name="photo-image"),
    path("photos/<int:pk>/thumbnail", apis.PhotoThumbnailApi.as_view(), name="photo-thumbnail"),
    path("plans/<int:pk>/", apis.PlanDetailApi.as_view(), name="plan-detail"),
    path("plans/<int:pk>/cancel/", apis.PlanCancelApi.as_view(), name="plan-cancel"),
    path("plans/<int:pk>/history/", apis.PlanHistoryApi.as_view(), name="plan-history"),
    path("consents/<int:pk>.pdf", apis.ConsentPdfApi.as_view(), name="consent-pdf"),
    path("me/progress/", apis.MyProgressApi.as_view(), name="me-progress"),
    path("patients/<int:pk>/progress/", apis.PatientProgressApi.as_view(), name="patient-progress"),
]
