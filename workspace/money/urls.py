from django.urls import path

from workspace.money import views

app_name = "money"

urlpatterns = [
    # The chart's money section (workspace/chart/chart.py: SECTIONS).
    path("patients/<int:pk>/money/", views.chart_money, name="chart"),
    path("patients/<int:pk>/money/<int:entry_pk>/receipt.pdf", views.receipt, name="receipt"),
    # Managers: the day's takings, on the Manage menu.
    path("money/takings/", views.takings_page, name="takings"),
    path("money/takings.csv", views.takings_csv, name="takings_csv"),
]
