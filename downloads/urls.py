from django.urls import include, path

from downloads import pages, views

# The API paths mirror REGARDS's services.
api = [
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
    path("rs-catalog/availability/files", views.AvailabilityView.as_view(), name="availability"),
    path(
        "rs-catalog/availability/files/<str:product_id>",
        views.ProductAvailabilityView.as_view(),
        name="availability-product",
    ),
    path("rs-catalog/restore", views.RestoreView.as_view(), name="restore"),
    path(
        "rs-catalog/restore/<str:product_id>",
        views.ProductRestoreView.as_view(),
        name="restore-product",
    ),
    path("rs-storage/quota/current", views.CurrentQuotaView.as_view(), name="quota-current"),
    path("rs-storage/quota/<str:email>", views.UserQuotaView.as_view(), name="quota-user"),
]

urlpatterns = [
    path("api/v1/", include(api)),
    path("licenses/<str:slug>", pages.license_page, name="license-page"),
    path("account", pages.account_page, name="account"),
]
