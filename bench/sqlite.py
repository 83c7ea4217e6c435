"""A SQLite copy of the download benchmark's catalog, for the SQLite row of benchmark 3:
SQLite is `make run`'s database. `python -m bench.sqlite CATALOG.json` fills the database
that DATABASE_URL names and prints the token of a user who may download the private file.
"""

import os
import subprocess
import sys

from bench.config import ROOT


def sqlite_catalog(bench):
    """(environment of a catalog server on SQLite, a token for its private file)."""
    folder = bench.tmp / "sqlite"
    folder.mkdir(exist_ok=True)
    env = {"DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "VAR_DIR": str(folder)}
    filled = subprocess.run(
        [sys.executable, "-m", "bench.sqlite", str(bench.tmp / "catalog.json")],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return env, filled.stdout.strip().splitlines()[-1]


def main(catalog):
    import django

    django.setup()
    from django.core.management import call_command

    from bench.data import create_user
    from products.models import License

    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_catalog", catalog, verbosity=0)
    print(create_user("small@bench.example", License.objects.get(slug="bench-licence"), -1))


if __name__ == "__main__":
    main(sys.argv[1])
