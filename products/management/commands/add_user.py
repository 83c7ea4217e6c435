from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from products.services import user_upsert
from regards_catalog.auth import issue_token


class Command(BaseCommand):
    help = (
        "Create or update a user (identified by email), add it to access groups, and print "
        "a new API token alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", help="set this password (default: leave it as it is)")
        parser.add_argument(
            "--groups", default="", help="comma-separated access groups to add the user to"
        )
        parser.add_argument(
            "--steward",
            action="store_true",
            help="make the user a data steward (admin access to the catalog)",
        )

    def handle(self, *args, email, password, groups, steward, **options):
        names = [name.strip() for name in groups.split(",") if name.strip()]
        try:
            user = user_upsert(email=email, password=password, groups=names, steward=steward)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        token, expiry = issue_token(user)
        groups = ", ".join(user.access_groups.values_list("name", flat=True)) or "none"
        role = " (data steward)" if steward else ""
        self.stdout.write(f"user {user.email}{role}; access groups: {groups}")
        self.stdout.write(f"API token, valid until {expiry:%Y-%m-%d %H:%M %Z}:")
        self.stdout.write(token)
