from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from regards_catalog import views
from regards_catalog.forms import AdminLoginForm

handler400 = "regards_catalog.errors.bad_request"
handler403 = "regards_catalog.errors.permission_denied"
handler404 = "regards_catalog.errors.page_not_found"
handler500 = "regards_catalog.errors.server_error"

# The admin's login page is a guessing target like the others: same throttle.
admin.site.login_form = AdminLoginForm

urlpatterns = [
    # First: a path is matched against the patterns in turn, and every download resolves
    # this one (behind the products' patterns it cost 7 % of a small download's CPU). No
    # pattern below matches its paths, so the order changes no answer.
    path("", include("downloads.urls")),
    # Before the admin's URLs, whose catch-all would take it.
    path("admin/usage/", include("downloads.admin_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs", SpectacularRedocView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/rs-authentication/oauth/token", views.TokenView.as_view(), name="oauth-token"),
    # Before products' dataobjects/<urn>, which would take "search.zip" for a product's URN.
    path("api/v1/rs-catalog/", include("downloads.bulk_urls")),
    path("api/v1/rs-catalog/", include("products.urls")),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
]
