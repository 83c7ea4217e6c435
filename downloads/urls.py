from django.urls import path

from downloads import views

urlpatterns = [
    path(
        "downloads/<str:aip_id>/files/<str:checksum>",
        views.DownloadView.as_view(),
        name="download-file",
    ),
]
