from django.urls import path

from downloads import views

# Included under /api/v1/; the paths mirror REGARDS's services.
urlpatterns = [
    path(
        "rs-catalog/downloads/<str:aip_id>/files/<str:checksum>",
        views.DownloadView.as_view(),
        name="download-file",
    ),
    path("rs-catalog/licenses", views.LicenseListView.as_view(), name="license-list"),
    path(
        "rs-catalog/licenses/<str:slug>", views.LicenseDetailView.as_view(), name="license-detail"
    ),
    path(
        "rs-catalog/licenses/<str:slug>/accept",
        views.LicenseAcceptView.as_view(),
        name="license-accept",
    ),
    path("rs-storage/quota/current", views.CurrentQuotaView.as_view(), name="quota-current"),
    path("rs-storage/quota/<str:email>", views.UserQuotaView.as_view(), name="quota-user"),
]
