import json
import pathlib

from .base import Location
from .http import HttpLocation
from .local import LocalLocation
from .s3 import S3Location

# Field name -> accepted types, per backend; anything else in the file is a typo to report.
_FIELDS = {
    "local": {"root": str, "tier": str, "cache": str, "accel_prefix": str},
    "http": {
        "url": str,
        "tier": str,
        "headers": dict,
        "timeout": (int, float),
        "connect_timeout": (int, float),
        "retries": int,
        "restore_url": str,
        "cache_url": str,
        "evict_url": str,
        "restore_timeout": (int, float),
        "verify": bool,
        "accel_prefix": str,
    },
    "s3": {
        "bucket": str,
        "prefix": str,
        "tier": str,
        "endpoint_url": str,
        "region": str,
        "access_key": str,
        "secret_key": str,
        "verify": bool,
        "redirect": bool,
        "timeout": (int, float),
        "connect_timeout": (int, float),
        "retries": int,
    },
}
_REQUIRED = {"local": "root", "http": "url", "s3": "bucket"}


def load_locations(config_path: str | None, default_root: pathlib.Path) -> dict[str, Location]:
    """The locations named in the JSON file at config_path, or the built-in local ones."""
    if not config_path:
        default_root = pathlib.Path(default_root)
        return {
            "online": LocalLocation("online", root=default_root / "online", tier="online"),
            "nearline": LocalLocation(
                "nearline",
                root=default_root / "nearline",
                tier="nearline",
                cache=default_root / "cache",
            ),
        }

    path = pathlib.Path(config_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"storage config {path}: cannot read it ({exc.strerror})") from exc
    except ValueError as exc:
        raise ValueError(f"storage config {path}: invalid JSON ({exc})") from exc
    locations = data.get("locations") if isinstance(data, dict) else None
    if not isinstance(locations, dict) or not locations:
        raise ValueError(f'storage config {path}: expected {{"locations": {{name: {{...}}}}}}')

    result = {}
    for name, fields in locations.items():
        try:
            result[name] = _location(name, fields, path.parent.absolute())
        except ValueError as exc:
            raise ValueError(f"storage config {path}: location {name!r}: {exc}") from exc
    return result


def _location(name: str, fields: object, folder: pathlib.Path) -> Location:
    if not isinstance(fields, dict):
        raise ValueError("expected an object")
    fields = dict(fields)
    backend = fields.pop("backend", None)
    if backend not in _FIELDS:
        raise ValueError(f"field 'backend' must be 'local', 'http' or 's3', not {backend!r}")
    if _REQUIRED[backend] not in fields:
        raise ValueError(f"field {_REQUIRED[backend]!r} is required")
    for field, value in fields.items():
        kind = _FIELDS[backend].get(field)
        if kind is None:
            raise ValueError(f"unknown field {field!r} for backend {backend!r}")
        # bool is an int in Python, but "retries": true is a mistake.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ValueError(f"field {field!r} has the wrong type: {value!r}")
        if value == "":
            raise ValueError(f"field {field!r} is empty")

    if backend == "http":
        headers = fields.get("headers", {})
        if not all(isinstance(v, str) for v in headers.values()):
            raise ValueError("field 'headers' must map names to strings")
        return HttpLocation(name, **fields)
    if backend == "s3":
        return S3Location(name, **fields)
    # Relative folders are relative to the config file, not to wherever the server starts.
    for field in ("root", "cache"):
        if field in fields:
            fields[field] = folder / fields[field]
    return LocalLocation(name, **fields)
