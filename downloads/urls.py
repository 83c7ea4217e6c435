from django.urls import include, path

from downloads import pages, views

# The API paths mirror REGARDS's services.
api = [
    path(
        "rs-catalog/downloads/<str:aip_id>/files/<str:checksum>",
        views.DownloadView.as_view(),
        name="download-file",
    ),
    path(
        "rs-catalog/downloads/<str:aip_id>/files/<str:checksum>/link",
        views.DownloadLinkView.as_view(),
        name="download-link",
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
    path("rs-admin/license", views.ProjectLicenseView.as_view(), name="project-license"),
    path(
        "rs-admin/license/reset",
        views.ProjectLicenseResetView.as_view(),
        name="project-license-reset",
    ),
    # The REGARDS web frontend asks rs-admin-public for the same.
    path("rs-admin-public/license", views.ProjectLicenseView.as_view()),
    path("rs-admin-public/license/reset", views.ProjectLicenseResetView.as_view()),
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
    # The fixed paths come before quota/<email>, which would take "max" or "currents" for
    # an email.
    path("rs-storage/quota", views.OwnQuotaLimitsView.as_view(), name="quota-limits"),
    path("rs-storage/quotas", views.QuotaLimitsListView.as_view(), name="quota-list"),
    path("rs-storage/quota/max", views.MaxQuotaView.as_view(), name="quota-max"),
    path("rs-storage/quota/current", views.CurrentQuotaView.as_view(), name="quota-current"),
    path("rs-storage/quota/currents", views.CurrentQuotaListView.as_view(), name="quota-currents"),
    path(
        "rs-storage/quota/current/<str:email>",
        views.UserCurrentQuotaView.as_view(),
        name="quota-user-current",
    ),
    path("rs-storage/quota/<str:email>", views.UserQuotaView.as_view(), name="quota-user"),
    # The REGARDS web frontend asks rs-access-project for the same answers.
    path(
        "rs-access-project/quota/current",
        views.CurrentQuotaView.as_view(),
        name="project-quota-current",
    ),
    path(
        "rs-access-project/quota/<str:email>",
        views.UserQuotaView.as_view(),
        name="project-quota-user",
    ),
]

urlpatterns = [
    path("api/v1/", include(api)),
    path("licenses/<str:slug>", pages.license_page, name="license-page"),
    path("account", pages.account_page, name="account"),
]
