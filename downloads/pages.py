"""HTML pages for people with a browser: a licence with its Accept button, and the
account page (quota, licences, an API token)."""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from downloads import quotas, selectors, services
from products.models import License
from regards_catalog.auth import issue_token
from regards_catalog.links import local_url


@require_http_methods(["GET", "POST"])
def license_page(request, slug):
    """HTML page of a licence with an Accept button (session login); once accepted, back
    to `next` (the download that asked for the licence) when there is one."""
    license = selectors.license_or_404(slug)
    user = request.user
    next_url = local_url(request, request.GET.get("next", ""))
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        services.license_accept(user=user, license=license)
        if next_url:
            return redirect(next_url)  # a browser follows with a GET: the download starts
    accepted = user.is_authenticated and selectors.license_is_accepted(user=user, license=license)
    return render(
        request, "license.html", {"license": license, "accepted": accepted, "next": next_url}
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_page(request):
    """A logged-in person's page: their access groups, quota and licences, and a button
    that issues an API token (shown once) for scripts, wget and curl."""
    user = request.user
    token = expires = None
    if request.method == "POST":  # CSRF-protected form
        token, expires = issue_token(user)
    quota = quotas.quota_for(user=user)
    versions = selectors.accepted_versions(user)
    context = {
        "token": token,
        "expires": expires,
        "groups": user.access_groups.order_by("name"),
        "quota": quota,
        "limits": quotas.Limits.of(quota),
        "live_slots": quotas.live_slot_count(quota),
        "licenses": [
            (license, selectors.is_accepted(license, versions))
            for license in License.objects.order_by("slug")
        ],
    }
    return render(request, "account.html", context)
