"""Admin pages of the downloads app that belong to no model: the usage dashboard.

Included before the admin's own URLs (regards_catalog/urls.py), whose catch-all would
answer them otherwise; admin_view gives them the admin's staff login and never-cache.
"""

from django.contrib import admin
from django.urls import path

from downloads import usage_views

urlpatterns = [
    path("", admin.site.admin_view(usage_views.usage_page), name="admin-usage"),
    path("csv", admin.site.admin_view(usage_views.usage_csv), name="admin-usage-csv"),
]
