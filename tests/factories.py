import hashlib
import uuid
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from downloads.models import (
    DownloadRecord,
    LicenseAcceptance,
    Quota,
    RestoreRequest,
)
from products.access import STEWARD_GROUP
from products.models import AccessGroup, AccessRight, DataFile, Dataset, License, Product


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    username = factory.SelfAttribute("email")
    password = factory.django.Password("secret-password")

    @factory.post_generation
    def steward(user, create, extracted, **kwargs):
        if extracted:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user.groups.add(Group.objects.get_or_create(name=STEWARD_GROUP)[0])


class LicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = License

    slug = factory.Sequence(lambda n: f"license-{n}")
    title = factory.Sequence(lambda n: f"Licence {n}")
    url = factory.LazyAttribute(lambda o: f"https://licenses.example.org/{o.slug}")
    text = "You may use these data for science."
    version = 1


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    urn = factory.LazyFunction(lambda: f"URN:AIP:DATASET:test:{uuid.uuid4()}:V1")
    label = factory.Sequence(lambda n: f"Dataset {n}")
    license = None


class AccessGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessGroup
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"group-{n}")
    public = False

    @factory.post_generation
    def members(group, create, extracted, **kwargs):
        if extracted:
            group.members.add(*extracted)


class AccessRightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessRight

    group = factory.SubFactory(AccessGroupFactory)
    dataset = factory.SubFactory(DatasetFactory)
    metadata_access = AccessRight.MetadataAccess.FULL_ACCESS
    file_access = AccessRight.FileAccess.INHERITED_ACCESS


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    urn = factory.LazyFunction(lambda: f"URN:FEATURE:DATA:test:{uuid.uuid4()}:V1")
    provider_id = factory.Sequence(lambda n: f"PRODUCT-{n:05d}")
    label = factory.Sequence(lambda n: f"Product {n}")
    dataset = factory.SubFactory(DatasetFactory)
    tags = factory.LazyFunction(list)
    properties = factory.LazyFunction(dict)


class DataFileFactory(factory.django.DjangoModelFactory):
    """A file record; pass `content=b"..."` to derive checksum and size from real bytes."""

    class Meta:
        model = DataFile
        exclude = ("content",)

    content = factory.Sequence(lambda n: f"file content {n}\n".encode())
    product = factory.SubFactory(ProductFactory)
    data_type = DataFile.DataType.RAWDATA
    filename = factory.Sequence(lambda n: f"file-{n}.dat")
    mime_type = "application/octet-stream"
    checksum = factory.LazyAttribute(lambda o: hashlib.md5(o.content).hexdigest())
    digest_algorithm = "MD5"
    filesize = factory.LazyAttribute(lambda o: len(o.content))
    storage = "online"
    key = ""


class LicenseAcceptanceFactory(factory.django.DjangoModelFactory):
    """A user's acceptance of a licence, by default of its current version."""

    class Meta:
        model = LicenseAcceptance

    user = factory.SubFactory(UserFactory)
    license = factory.SubFactory(LicenseFactory)
    version = factory.SelfAttribute("license.version")


class QuotaFactory(factory.django.DjangoModelFactory):
    """A user's quota under the default limits; give `client_address` (and no user) for an
    anonymous caller's."""

    class Meta:
        model = Quota

    client_address = None
    user = factory.Maybe(
        "client_address", yes_declaration=None, no_declaration=factory.SubFactory(UserFactory)
    )


class RestoreRequestFactory(factory.django.DjangoModelFactory):
    """A pending restore of a nearline file."""

    class Meta:
        model = RestoreRequest

    data_file = factory.SubFactory(DataFileFactory, storage="nearline")
    status = RestoreRequest.Status.PENDING


class DownloadRecordFactory(factory.django.DjangoModelFactory):
    """A completed download of a whole file; give `user` or `client_address` to say by whom."""

    class Meta:
        model = DownloadRecord

    data_file = factory.SubFactory(DataFileFactory)
    product = factory.SelfAttribute("data_file.product")
    dataset = factory.SelfAttribute("data_file.product.dataset")
    product_urn = factory.SelfAttribute("data_file.product.urn")
    checksum = factory.SelfAttribute("data_file.checksum")
    filename = factory.SelfAttribute("data_file.filename")
    status_code = 200
    bytes_expected = factory.SelfAttribute("data_file.filesize")
    bytes_sent = factory.SelfAttribute("data_file.filesize")
    outcome = DownloadRecord.Outcome.COMPLETED
    started = factory.LazyFunction(timezone.now)


class RunningDownloadFactory(DownloadRecordFactory):
    """A download in progress, holding a slot of `quota` (its record's lease);
    `seconds_left` below zero makes one whose lease has run out."""

    class Params:
        seconds_left = 60

    quota = factory.SubFactory(QuotaFactory)
    user = factory.LazyAttribute(lambda o: o.quota.user if o.quota else None)
    outcome = DownloadRecord.Outcome.IN_PROGRESS
    bytes_sent = 0
    lease_expires = factory.LazyAttribute(
        lambda o: timezone.now() + timedelta(seconds=o.seconds_left)
    )
