"""License moves from downloads to products (state only: the table keeps its name).

downloads.0004 then re-points LicenseAcceptance and deletes downloads.License from the state.
The content type is renamed rather than recreated, so that the permissions given to users and
groups, and the admin's log entries, follow the model.
"""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

# As in downloads.0003 (a migration keeps its own copy, whatever the models say later).
LICENSE_ID = django.core.validators.RegexValidator(
    "^[A-Za-z0-9][A-Za-z0-9._-]*\\Z", "A licence id is made of letters, digits, '.', '_' and '-'."
)


def rename_content_type(apps, schema_editor, *, old_app, new_app):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    if not content_types.filter(app_label=new_app, model="license").exists():
        content_types.filter(app_label=old_app, model="license").update(app_label=new_app)


def to_products(apps, schema_editor):
    rename_content_type(apps, schema_editor, old_app="downloads", new_app="products")


def to_downloads(apps, schema_editor):
    rename_content_type(apps, schema_editor, old_app="products", new_app="downloads")


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0004_trigram_indexes"),
        ("downloads", "0003_restore_requests_and_licence_ids"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="License",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "slug",
                            models.CharField(
                                max_length=100,
                                unique=True,
                                validators=[LICENSE_ID],
                                verbose_name="id",
                            ),
                        ),
                        ("title", models.CharField(max_length=300)),
                        ("url", models.URLField(blank=True, max_length=2000)),
                        ("text", models.TextField(blank=True)),
                        ("version", models.PositiveIntegerField(default=1)),
                        ("updated", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "db_table": "downloads_license",
                        "ordering": ["slug"],
                    },
                ),
                migrations.AlterField(
                    model_name="dataset",
                    name="license",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="datasets",
                        to="products.license",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(to_products, to_downloads),
    ]
