import hashlib
import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from knox.auth import TokenAuthentication

from products.access import STEWARD_GROUP
from products.models import AccessGroup, DataFile, Dataset, Product
from tests.factories import AccessGroupFactory, DatasetFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def storage(settings, tmp_path):
    """The built-in local locations (online, nearline) under a temporary folder."""
    settings.STORAGE_CONFIG = ""
    settings.STORAGE_DEFAULT_ROOT = tmp_path / "storage"
    return tmp_path / "storage"


def run(*args, **options):
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue().splitlines()


def authenticated_user(token):
    user, _ = TokenAuthentication().authenticate_credentials(token.encode())
    return user


# add_user


def test_add_user_creates_a_user_and_prints_a_working_token_last():
    lines = run("add_user", "alice@example.org", "--password", "demo-password")

    user = User.objects.get()
    assert (user.username, user.email) == ("alice@example.org", "alice@example.org")
    assert user.check_password("demo-password")
    assert not user.is_staff
    assert authenticated_user(lines[-1]) == user
    assert lines[-1] == lines[-1].strip() and " " not in lines[-1]


def test_add_user_without_a_password_creates_a_user_who_cannot_log_in():
    run("add_user", "bob@example.org")

    assert not User.objects.get().has_usable_password()


def test_add_user_updates_an_existing_user_and_issues_a_new_token():
    user = UserFactory(email="alice@example.org")
    first = run("add_user", "alice@example.org")[-1]

    second = run("add_user", "Alice@EXAMPLE.org", "--password", "new-password")[-1]

    assert User.objects.count() == 1
    user.refresh_from_db()
    assert user.check_password("new-password")
    assert first != second
    assert authenticated_user(first) == user
    assert authenticated_user(second) == user


def test_add_user_without_password_keeps_the_existing_one():
    user = UserFactory(email="alice@example.org")

    run("add_user", "alice@example.org")

    user.refresh_from_db()
    assert user.check_password("secret-password")


def test_add_user_adds_the_user_to_access_groups_without_removing_others():
    science, partners, public = (
        AccessGroupFactory(name=n) for n in ("science", "partners", "public")
    )
    user = UserFactory(email="alice@example.org")
    public.members.add(user)

    lines = run("add_user", "alice@example.org", "--groups", "science, partners")

    assert set(user.access_groups.all()) == {science, partners, public}
    assert "access groups: partners, public, science" in lines[0]


def test_add_user_steward_makes_a_staff_member_of_the_stewards_group():
    run("add_user", "steward@example.org", "--steward")

    user = User.objects.get()
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == [STEWARD_GROUP]
    assert not user.is_superuser


def test_add_user_with_an_unknown_group_writes_nothing():
    AccessGroupFactory(name="science")

    with pytest.raises(CommandError, match="unknown access group.*: nope"):
        run("add_user", "alice@example.org", "--groups", "science,nope")

    assert not User.objects.exists()


def test_add_user_refuses_an_invalid_email():
    with pytest.raises(CommandError, match="valid email"):
        run("add_user", "not-an-email")

    assert not User.objects.exists()


# store_file


def write(path, data):
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


def test_store_file_copies_the_file_under_its_checksum_and_prints_it_last(storage, tmp_path):
    checksum = write(tmp_path / "scene.xml", b"<scene/>\n" * 1000)

    lines = run("store_file", str(tmp_path / "scene.xml"))

    assert lines[-1] == checksum
    assert (storage / "online" / checksum).read_bytes() == b"<scene/>\n" * 1000


def test_store_file_uses_the_given_key_and_location(storage, tmp_path):
    checksum = write(tmp_path / "scene.xml", b"<scene/>")

    lines = run(
        "store_file",
        str(tmp_path / "scene.xml"),
        "--location",
        "nearline",
        "--key",
        "2022/scene.xml",
    )

    assert lines[-1] == checksum
    assert (storage / "nearline" / "2022" / "scene.xml").read_bytes() == b"<scene/>"
    assert not (storage / "online").exists()


def test_store_file_refuses_an_unknown_location(storage, tmp_path):
    write(tmp_path / "scene.xml", b"<scene/>")

    with pytest.raises(CommandError, match="unknown storage location 'tape'"):
        run("store_file", str(tmp_path / "scene.xml"), "--location", "tape")


def test_store_file_refuses_a_location_that_is_not_a_local_folder(settings, tmp_path):
    config = tmp_path / "storage.json"
    config.write_text(
        json.dumps(
            {"locations": {"remote": {"backend": "http", "url": "http://127.0.0.1:9/{key}"}}}
        )
    )
    settings.STORAGE_CONFIG = str(config)
    write(tmp_path / "scene.xml", b"<scene/>")

    with pytest.raises(CommandError, match="'remote' is not a local folder"):
        run("store_file", str(tmp_path / "scene.xml"), "--location", "remote")


def test_store_file_refuses_a_missing_file(storage, tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        run("store_file", str(tmp_path / "missing.xml"))


def test_store_file_refuses_a_key_outside_the_location(storage, tmp_path):
    write(tmp_path / "scene.xml", b"<scene/>")

    with pytest.raises(CommandError, match="'..' component"):
        run("store_file", str(tmp_path / "scene.xml"), "--key", "../escape")

    assert not (storage / "escape").exists()


# load_demo


def test_load_demo_twice_gives_the_same_catalog_and_new_tokens(storage):
    first = run("load_demo")
    rows = sorted(DataFile.objects.values_list("product__urn", "checksum", "storage", "key"))
    second = run("load_demo")

    assert Dataset.objects.count() == 4
    assert Product.objects.count() == 10
    assert (
        sorted(DataFile.objects.values_list("product__urn", "checksum", "storage", "key")) == rows
    )
    assert "datasets: 0 created, 4 updated" in "\n".join(second)

    tokens = {}
    for lines in (first, second):
        for line in lines:
            if not re.fullmatch(r"\S+@\S+ [0-9a-f]+", line):
                continue  # the summary and the example curl lines
            email, token = line.split(" ")
            assert authenticated_user(token).email == email
            tokens.setdefault(email, set()).add(token)
    assert set(tokens) == {"alice@example.org", "bob@example.org", "steward@example.org"}
    assert all(len(issued) == 2 for issued in tokens.values())


def test_load_demo_stores_every_file_with_its_checksum(storage):
    run("load_demo")

    stored = DataFile.objects.filter(reference=False)
    assert stored.count() > 10
    for data_file in stored:
        path = storage / data_file.storage / data_file.storage_key
        assert hashlib.md5(path.read_bytes()).hexdigest() == data_file.checksum, path
        assert path.stat().st_size == data_file.filesize
    assert DataFile.objects.filter(reference=True, uri__startswith="https://example.org/").exists()


def test_load_demo_holds_the_datasets_of_the_spec(storage):
    run("load_demo")

    rights = {
        dataset.label: sorted(
            dataset.access_rights.values_list("group__name", "metadata_access", "file_access")
        )
        for dataset in Dataset.objects.all()
    }
    licensed = Dataset.objects.get(license__slug="cc-by-4.0")
    assert licensed.license.version == 1
    assert rights[licensed.label] == [
        ("public", "FULL_ACCESS", "NO_ACCESS"),
        ("science", "FULL_ACCESS", "INHERITED_ACCESS"),
    ]
    assert [("science", "RESTRICTED_ACCESS", "NO_ACCESS")] in rights.values()
    assert list(rights.values()).count([("public", "FULL_ACCESS", "INHERITED_ACCESS")]) == 2
    assert AccessGroup.objects.get(name="public").public
    nearline = Dataset.objects.filter(products__files__storage="nearline").distinct()
    assert nearline.count() == 1
    assert rights[nearline.get().label] == [("public", "FULL_ACCESS", "INHERITED_ACCESS")]
    assert Dataset.objects.filter(license=None).count() == 3


def test_load_demo_creates_the_demo_users(storage):
    run("load_demo")

    alice, bob, steward = (
        User.objects.get(email=f"{name}@example.org") for name in ("alice", "bob", "steward")
    )
    assert list(alice.access_groups.values_list("name", flat=True)) == ["science"]
    assert not bob.access_groups.exists()
    assert steward.is_staff and steward.groups.filter(name=STEWARD_GROUP).exists()
    assert all(user.check_password("demo-password") for user in (alice, bob, steward))


def test_summarize_collections_redoes_what_sql_changed_behind_its_back(db):
    dataset = DatasetFactory()
    ProductFactory(dataset=dataset, properties={"cloud_cover": 5})
    call_command("summarize_collections", stdout=io.StringIO())
    Product.objects.filter(dataset=dataset).update(properties={"cloud_cover": 7})  # no signal

    quiet = io.StringIO()
    call_command("summarize_collections", stdout=quiet)
    everything = io.StringIO()
    call_command("summarize_collections", "--all", stdout=everything)

    assert quiet.getvalue().strip() == "summarized 0 dataset(s)"
    assert everything.getvalue().strip() == "summarized 1 dataset(s)"
    dataset.refresh_from_db()
    assert dataset.summaries["cloud_cover"] == {"minimum": 7, "maximum": 7}
