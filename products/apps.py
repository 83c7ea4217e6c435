from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Catalog"

    def ready(self):
        from products.access import sync_steward_permissions
        from products.models import Product
        from products.signals import products_changed

        # Connected for every app: each app's permissions exist only after its own post_migrate.
        post_migrate.connect(sync_steward_permissions, dispatch_uid="sync_steward_permissions")
        post_save.connect(products_changed, sender=Product, dispatch_uid="products_changed_save")
        post_delete.connect(products_changed, sender=Product, dispatch_uid="products_changed_del")
