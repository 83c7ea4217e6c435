from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Catalog"

    def ready(self):
        from products.access import sync_steward_permissions

        # Connected for every app: each app's permissions exist only after its own post_migrate.
        post_migrate.connect(sync_steward_permissions, dispatch_uid="sync_steward_permissions")
