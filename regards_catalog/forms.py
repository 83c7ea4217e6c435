"""Django's login forms (the login page, the admin's) with the password check behind the
login throttle, as the token endpoint's."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from regards_catalog.auth import client_address
from regards_catalog.exceptions import TooManyLoginAttempts
from regards_catalog.throttling import attempt_login


class ThrottledLoginMixin:
    throttled = None  # the TooManyLoginAttempts that refused this login, if one did

    def clean(self):
        """AuthenticationForm.clean, with authenticate() behind the login throttle."""
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = attempt_login(
                    username=username,
                    address=client_address(self.request),
                    authenticate=lambda: authenticate(
                        self.request, username=username, password=password
                    ),
                )
            except TooManyLoginAttempts as refusal:
                self.throttled = refusal
                raise ValidationError(str(refusal.detail), code=refusal.default_code) from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
