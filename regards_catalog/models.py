from django.db import models


class LoginFailureCount(models.Model):
    """Failed logins of one account or one client address in one throttling window.

    `failures` changes only through conditional UPDATEs (regards_catalog.throttling), never
    by reading then writing in Python; rows of past windows are deleted as logins come.
    """

    class Kind(models.TextChoices):
        ACCOUNT = "account"
        ADDRESS = "address"

    kind = models.CharField(max_length=7, choices=Kind.choices)
    key = models.CharField(max_length=254)  # the email (or username) in lower case, or the address
    window = models.DateTimeField(db_index=True)  # when the window began
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key", "window"], name="one_login_failure_count_per_window"
            )
        ]

    def __str__(self):
        return f"{self.failures} failed logins of {self.kind} {self.key} since {self.window}"
