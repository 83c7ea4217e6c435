"""Admin of the catalog for data stewards (SPEC §6): groups, rights, datasets, products, files.

Products and files run to millions of rows: their lists never count the whole table,
never list every distinct value in a filter, and pick related rows through autocomplete.
"""

from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from products.models import PRODUCT_URN, AccessGroup, AccessRight, DataFile, Dataset, Product
from regards_catalog.storage import locations

admin.site.site_header = admin.site.site_title = "REGARDS Catalog administration"
admin.site.index_title = "Catalog, licences and quotas"


@admin.register(AccessGroup)
class AccessGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "public", "member_count"]
    list_filter = ["public"]
    search_fields = ["name", "members__email"]
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members", distinct=True))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, group):
        return group.member_count


class AccessRightInline(admin.TabularInline):
    model = AccessRight
    extra = 0
    fields = ["group", "metadata_access", "file_access"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["label", "urn", "license", "products", "updated"]
    list_filter = ["license"]
    list_select_related = ["license"]
    search_fields = ["urn", "label"]
    readonly_fields = ["created", "updated"]
    raw_id_fields = ["description_file"]  # a select would list every file of the catalog
    inlines = [AccessRightInline]

    @admin.display(description="products")
    def products(self, dataset):
        # A link rather than a count: counting products of every dataset on the page
        # would scan the products table.
        url = reverse("admin:products_product_changelist")
        return format_html('<a href="{}?dataset__id__exact={}">products</a>', url, dataset.pk)


@admin.register(AccessRight)
class AccessRightAdmin(admin.ModelAdmin):
    list_display = ["group", "dataset", "metadata_access", "file_access"]
    list_filter = ["metadata_access", "file_access", "group"]
    list_select_related = ["group", "dataset"]
    search_fields = ["group__name", "dataset__label", "dataset__urn"]
    autocomplete_fields = ["dataset"]


class DataFileInline(admin.TabularInline):
    model = DataFile
    extra = 0
    fields = ["data_type", "filename", "mime_type", "checksum", "filesize", "storage", "reference"]
    show_change_link = True


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["provider_id", "label", "urn", "dataset", "start_date"]
    list_filter = ["dataset"]
    list_select_related = ["dataset"]
    search_fields = ["urn", "provider_id", "label"]
    autocomplete_fields = ["dataset"]
    readonly_fields = ["created", "updated"]
    inlines = [DataFileInline]
    list_per_page = 50
    # The paginator counts the filtered list; never count all products a second time.
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        # Stewards mostly paste a product id: answer it from the unique index instead
        # of scanning every row with three ILIKEs.
        term = search_term.strip()
        if PRODUCT_URN.fullmatch(term):
            return queryset.filter(urn=term), False
        return super().get_search_results(request, queryset, search_term)


class StorageLocationFilter(admin.SimpleListFilter):
    """The configured locations, rather than a DISTINCT over every file."""

    title = "storage location"
    parameter_name = "storage"
    NONE = "-"  # references are stored nowhere

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(locations())] + [(self.NONE, "none (reference)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(storage="" if value == self.NONE else value)


@admin.register(DataFile)
class DataFileAdmin(admin.ModelAdmin):
    list_display = ["filename", "data_type", "product", "filesize", "storage", "checksum"]
    list_filter = ["data_type", StorageLocationFilter, "reference"]
    list_select_related = ["product"]
    search_fields = ["checksum", "filename"]
    autocomplete_fields = ["product"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_per_page = 50
    show_full_result_count = False
