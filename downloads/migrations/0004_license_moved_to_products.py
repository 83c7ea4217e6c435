"""License now lives in products (products.0005); only the state changes here."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("downloads", "0003_restore_requests_and_licence_ids"),
        ("products", "0005_license"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="licenseacceptance",
                    name="license",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="acceptances",
                        to="products.license",
                    ),
                ),
                migrations.DeleteModel(name="License"),
            ],
            database_operations=[],
        ),
    ]
