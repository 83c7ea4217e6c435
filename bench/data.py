"""The data the benchmarks use: files, the catalog document, users and the synthetic products."""

import dataclasses
import datetime
import hashlib
import io
import json
import os
import random
import time
import uuid
from pathlib import Path

from bench.config import MiB, mib
from bench.timing import log

PLATFORMS = (
    "SENTINEL-2A",
    "SENTINEL-2B",
    "LANDSAT-8",
    "LANDSAT-9",
    "SPOT-6",
    "SPOT-7",
    "PLEIADES-1A",
    "PLEIADES-1B",
)
LOAD_USERS = [f"load{n:02d}@bench.example" for n in range(32)]
PRODUCT_COLUMNS = (
    "urn, provider_id, label, dataset_id, model, tags, properties, geometry, "
    "bbox_west, bbox_south, bbox_east, bbox_north, footprint, "
    "start_date, end_date, created, updated"
)
# Each product covers a square of FOOTPRINT degrees (a Sentinel-2 tile is about 1°) placed
# at random between these latitudes, where the land lies.
FOOTPRINT = 1.0
LATITUDES = (-60.0, 70.0)
COPY_BATCH = 50_000


# Files ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class StoredFile:
    checksum: str
    size: int
    path: Path


def write_random_file(path, size):
    """Write `size` bytes of random-looking content (one random MiB repeated); its MD5."""
    block = os.urandom(min(size, MiB))
    digest = hashlib.md5()
    with open(path, "wb") as file:
        remaining = size
        while remaining:
            chunk = block[: min(remaining, len(block))]
            file.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def files_store(wanted, *, folder, scratch):
    """{name: StoredFile} written straight into `folder` under their MD5 (as store_file does)."""
    files = {}
    for name, size in wanted.items():
        log(f"writing the {name} file ({mib(size):.2f} MiB)")
        part = scratch / f"{name}.part"
        checksum = write_random_file(part, size)
        path = folder / checksum
        part.rename(path)
        files[name] = StoredFile(checksum, size, path)
    return files


# The catalog ----------------------------------------------------------------------------------


def bench_urn(kind, name):
    return f"URN:{kind}:bench:{uuid.uuid5(uuid.NAMESPACE_URL, name)}:V1"


def catalog_document(files):
    """(document for load_catalog, {product name: URN}): licence, groups, datasets and the few
    products the download benchmarks use, for those of their files that were written."""
    open_data = bench_urn("AIP:DATASET", "open")
    licensed = bench_urn("AIP:DATASET", "licensed")
    archive = bench_urn("AIP:DATASET", "archive")
    full = {"metadata": "FULL_ACCESS", "files": "INHERITED_ACCESS"}
    products, urns = [], {}
    # name → (dataset, file, storage location, dataType)
    layout = {
        "big-local": (open_data, "big", "online", "RAWDATA"),
        "big-remote": (open_data, "big", "remote", "RAWDATA"),
        "big-unchecked": (open_data, "big", "remote-unchecked", "RAWDATA"),
        "small-remote": (open_data, "small", "remote", "RAWDATA"),
        "small-private": (licensed, "small", "online", "RAWDATA"),
        # A public file type: metadata access only, no licence, no quota.
        "small-quicklook": (licensed, "small", "online", "QUICKLOOK_SD"),
    }
    for name, (dataset, file_name, storage, data_type) in layout.items():
        if file_name not in files:
            continue
        stored = files[file_name]
        urn = bench_urn("FEATURE:DATA", name)
        urns[name] = urn
        products.append(
            {
                "id": urn,
                "providerId": name,
                "dataset": dataset,
                "label": f"bench {name}",
                "files": [
                    {
                        "dataType": data_type,
                        "filename": f"{name}.bin",
                        "mimeType": "application/octet-stream",
                        "checksum": stored.checksum,
                        "digestAlgorithm": "MD5",
                        "filesize": stored.size,
                        "storage": storage,
                    }
                ],
            }
        )
    document = {
        "licenses": [
            {"id": "bench-licence", "title": "Bench licence", "text": "Use freely.", "version": 1}
        ],
        "groups": [{"name": "public", "public": True}, {"name": "science"}],
        "datasets": [
            {"id": open_data, "label": "Open data", "access": [{"group": "public", **full}]},
            {
                "id": licensed,
                "label": "Licensed data",
                "license": "bench-licence",
                "access": [{"group": "science", **full}],
            },
            {"id": archive, "label": "Sentinel archive", "access": [{"group": "public", **full}]},
        ],
        "products": products,
    }
    return document, urns


def create_user(email, license, max_quota):
    """A user made by `manage.py add_user`, licence accepted, quota set; its API token."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from downloads import quotas, services

    output = io.StringIO()
    call_command("add_user", email, groups="science", stdout=output)
    user = get_user_model().objects.get(email=email)
    services.license_accept(user=user, license=license)
    quota = quotas.quota_for(user=user)
    quotas.quota_limits_set(quota=quota, max_quota=max_quota, rate_limit=-1, max_volume=-1)
    return output.getvalue().strip().splitlines()[-1]


# The synthetic archive for the search benchmark -------------------------------------------------


def product_rows(dataset_id, first, last, rng, now):
    """COPY text lines of products first..last-1: realistic properties, tags, dates and
    footprints (geometry, box and WKB footprint, as Product.set_footprint writes them)."""
    import shapely

    epoch = datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC)
    count = last - first
    wests = [rng.uniform(-180, 180 - FOOTPRINT) for _ in range(count)]
    souths = [rng.uniform(LATITUDES[0], LATITUDES[1] - FOOTPRINT) for _ in range(count)]
    squares = shapely.box(
        wests, souths, [w + FOOTPRINT for w in wests], [s + FOOTPRINT for s in souths]
    )
    footprints = shapely.to_wkb(squares, hex=True, output_dimension=2)
    lines = []
    for index, number in enumerate(range(first, last)):
        platform_name = rng.choice(PLATFORMS)
        start = epoch + datetime.timedelta(seconds=number * 97)
        properties = {
            "cloud_cover": round(rng.uniform(0, 100), 2),
            "platform": platform_name,
            "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orbit": number % 143 + 1,
            "processing_level": rng.choice(("L1C", "L2A")),
        }
        tags = ["optical", platform_name.split("-")[0].lower()]
        urn = f"URN:FEATURE:DATA:bench:{uuid.UUID(int=rng.getrandbits(128))}:V1"
        west, south = wests[index], souths[index]
        east, north = west + FOOTPRINT, south + FOOTPRINT
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        fields = (
            urn,
            f"P-{number:07d}",
            f"{platform_name} scene {number}",
            str(dataset_id),
            "DATA",
            json.dumps(tags),
            json.dumps(properties),
            json.dumps({"type": "Polygon", "coordinates": [ring]}),
            *(repr(value) for value in (west, south, east, north)),
            "\\\\x" + footprints[index],  # bytea's hex form, its backslash escaped for COPY
            start.isoformat(),
            (start + datetime.timedelta(seconds=30)).isoformat(),
            now,
            now,
        )
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


def products_generate(count):
    """COPY `count` synthetic products (one RAWDATA file each) into the archive dataset,
    VACUUM ANALYZE, index cloud_cover; the seconds it took."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from products.models import Dataset

    dataset = Dataset.objects.get(urn=bench_urn("AIP:DATASET", "archive"))
    rng = random.Random(20240601)
    now = datetime.datetime.now(datetime.UTC).isoformat()
    started = time.perf_counter()
    log(f"loading {count:,} products with COPY")
    with transaction.atomic(), connection.cursor() as cursor:
        for first in range(0, count, COPY_BATCH):
            text = product_rows(dataset.pk, first, min(first + COPY_BATCH, count), rng, now)
            cursor.copy_expert(
                f"COPY products_product ({PRODUCT_COLUMNS}) FROM STDIN", io.StringIO(text)
            )
        cursor.execute(
            "INSERT INTO products_datafile (product_id, data_type, filename, mime_type, "
            "checksum, digest_algorithm, filesize, reference, uri, storage, key, types, crc32) "
            "SELECT id, 'RAWDATA', provider_id || '.SAFE.zip', 'application/zip', md5(urn), "
            "'MD5', 734003200, false, '', 'online', '', '[]'::jsonb, '' "
            "FROM products_product WHERE dataset_id = %s",
            [dataset.pk],
        )
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        cursor.execute("VACUUM ANALYZE products_product")
        cursor.execute("VACUUM ANALYZE products_datafile")
    # What a steward does for a property users query with ranges (README, index_property).
    call_command("index_property", "cloud_cover", stdout=io.StringIO())
    # COPY sends no signal: STAC's extent and summaries are computed as after such a load.
    log("summarize_collections (STAC extent and summaries)")
    call_command("summarize_collections", stdout=io.StringIO())
    seconds = time.perf_counter() - started
    log(f"loaded in {seconds:.0f} s")
    return seconds


# The download history for the usage dashboard benchmark ----------------------------------------

USAGE_DATASETS = 12
USAGE_USERS = 500
HISTORY_DAYS = 365
# Record outcomes by share of the history (cumulative bounds on one random number per row).
OUTCOME_SHARES = (
    (0.85, "COMPLETED", 200),
    (0.90, "ABORTED", 200),
    (0.91, "OFFLOADED", 200),
    (0.95, "QUOTA_EXCEEDED", 429),
    (0.98, "RATE_LIMITED", 429),
    (1.00, "STORAGE_ERROR", 502),
)


def usage_catalog():
    """(files, user ids) the records point at: a product and file in each of USAGE_DATASETS
    datasets, and USAGE_USERS users."""
    from django.contrib.auth import get_user_model

    from products.models import DataFile, Dataset, Product

    files = []
    for n in range(USAGE_DATASETS):
        dataset = Dataset.objects.create(
            urn=bench_urn("AIP:DATASET", f"usage-{n}"), label=f"Usage dataset {n:02d}"
        )
        product = Product.objects.create(
            urn=bench_urn("FEATURE:DATA", f"usage-{n}"),
            provider_id=f"usage-{n}",
            label=f"usage product {n}",
            dataset=dataset,
        )
        files.append(
            DataFile.objects.create(
                product=product,
                data_type="RAWDATA",
                filename=f"usage-{n}.zip",
                mime_type="application/zip",
                checksum=hashlib.md5(product.urn.encode()).hexdigest(),
                digest_algorithm="MD5",
                filesize=700 * MiB,
                storage="online",
            )
        )
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=email, email=email)
        for email in (f"usage{n:03d}@bench.example" for n in range(USAGE_USERS))
    )
    return files, [user.pk for user in users]


USAGE_TOTALS = (
    "downloads_dailyusage",
    "downloads_dailyuserusage",
    "downloads_dailydatasetuserusage",
)


def download_records_generate(count):
    """INSERT … SELECT FROM generate_series `count` download records over the last
    HISTORY_DAYS days, in the order they happened (as the service appends them), then
    restore requests and a few running downloads; VACUUM ANALYZE. The seconds it took.

    A fifth are anonymous; users and datasets are skewed (the first ones download most),
    sizes up to the 700 MiB file; the outcomes as OUTCOME_SHARES.
    """
    from django.db import connection, transaction

    started = time.perf_counter()
    log(f"loading {count:,} download records with INSERT … generate_series")
    files, user_ids = usage_catalog()
    outcome = (
        "CASE "
        + " ".join(f"WHEN r < {bound} THEN '{name}'" for bound, name, _ in OUTCOME_SHARES)
        + " END"
    )
    status = (
        "CASE "
        + " ".join(f"WHEN r < {bound} THEN {code}" for bound, _, code in OUTCOME_SHARES)
        + " END"
    )
    delivered = f"r < {OUTCOME_SHARES[2][0]}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2024)")
        cursor.execute(
            f"""
            INSERT INTO downloads_downloadrecord (
                user_id, client_address, product_id, data_file_id, dataset_id, product_urn,
                checksum, filename, status_code, range_start, bytes_expected, bytes_sent,
                outcome, error, started, ended, quota_id, lease_expires)
            SELECT
                CASE WHEN a < 0.2 THEN NULL
                     ELSE (%(users)s::int[])[1 + floor(u * u * %(user_count)s)::int] END,
                CASE WHEN a < 0.2 THEN ('10.0.' || (n %% 200) || '.' || (n %% 250))::inet END,
                (%(products)s::int[])[f], (%(files)s::int[])[f], (%(datasets)s::int[])[f],
                (%(urns)s::text[])[f], (%(checksums)s::text[])[f], 'usage.zip',
                {status}, 0, %(size)s,
                CASE WHEN {delivered} THEN floor(b * %(size)s)::bigint ELSE 0 END,
                {outcome}, '', at, at + interval '30 seconds', NULL, NULL
            FROM (
                SELECT n, random() AS r, random() AS u, random() AS a, random() AS b,
                       1 + floor(power(random(), 2) * %(file_count)s)::int AS f,
                       now() - (%(count)s - n) * (%(days)s * interval '1 day') / %(count)s AS at
                FROM generate_series(1, %(count)s) AS n
            ) AS draws
            ORDER BY n
            """,
            {
                "users": user_ids,
                "user_count": len(user_ids),
                "products": [f.product_id for f in files],
                "files": [f.pk for f in files],
                "datasets": [f.product.dataset_id for f in files],
                "urns": [f.product.urn for f in files],
                "checksums": [f.checksum for f in files],
                "file_count": len(files),
                "size": files[0].filesize,
                "count": count,
                "days": HISTORY_DAYS,
            },
        )
        restores_generate(cursor, files, user_ids)
        running_downloads_generate(files, user_ids)
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in ["downloads_downloadrecord", "downloads_restorerequest", "auth_user"]:
            cursor.execute(f"VACUUM ANALYZE {table}")
        # The daily totals its triggers kept as each record went in (migration 0008). One
        # transaction updated each row thousands of times, and none of the dead versions
        # could be pruned before it committed: a day's rows end up scattered over pages of
        # dead space. In service each update commits at once and is pruned in its page.
        for table in USAGE_TOTALS:
            cursor.execute(f"VACUUM (FULL, ANALYZE) {table}")
    seconds = time.perf_counter() - started
    log(f"loaded in {seconds:.0f} s")
    return seconds


def restores_generate(cursor, files, user_ids, count=20_000):
    """Finished restores over the history (DONE or FAILED; those may repeat on a file)."""
    cursor.execute(
        """
        INSERT INTO downloads_restorerequest (data_file_id, requested_by_id, status, error,
            attempts, requested, started, finished, available_until, purged)
        SELECT (%(files)s::int[])[1 + n %% %(file_count)s], (%(users)s::int[])[1 + n %% 50],
               CASE WHEN n %% 10 = 0 THEN 'FAILED' ELSE 'DONE' END, '', 1, at, at, at, at, true
        FROM (SELECT n, now() - n * (%(days)s * interval '1 day') / %(count)s AS at
              FROM generate_series(1, %(count)s) AS n) AS restores
        """,
        {
            "files": [f.pk for f in files],
            "file_count": len(files),
            "users": user_ids,
            "days": HISTORY_DAYS,
            "count": count,
        },
    )


def running_downloads_generate(files, user_ids, count=40):
    """Downloads running now, each holding a slot of one of 10 users' quotas."""
    from django.utils import timezone

    from downloads.models import DownloadRecord, Quota

    quotas = Quota.objects.bulk_create(Quota(user_id=pk) for pk in user_ids[:10])
    now = timezone.now()
    DownloadRecord.objects.bulk_create(
        DownloadRecord(
            user_id=quotas[n % 10].user_id,
            product_id=files[n % len(files)].product_id,
            data_file=files[n % len(files)],
            dataset_id=files[n % len(files)].product.dataset_id,
            product_urn=files[n % len(files)].product.urn,
            checksum=files[n % len(files)].checksum,
            filename="usage.zip",
            status_code=200,
            bytes_expected=files[0].filesize,
            outcome=DownloadRecord.Outcome.IN_PROGRESS,
            started=now,
            quota=quotas[n % 10],
            lease_expires=now + datetime.timedelta(minutes=10),
        )
        for n in range(count)
    )
