"""The client address of anonymous quotas and records (SPEC §3 Quotas, §8): REMOTE_ADDR, or
behind a trusted proxy the right-most untrusted address of X-Forwarded-For."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from downloads.models import DownloadRecord, Quota
from regards_catalog.settings import env_networks
from tests.helpers import body_of, download_url

pytestmark = pytest.mark.django_db

CLIENT = "203.0.113.7"
NGINX = "127.0.0.1"  # the default TRUSTED_PROXIES: loopback


def networks(*texts):
    return [ipaddress.ip_network(text) for text in texts]


def xff(value):
    return {} if value is None else {"HTTP_X_FORWARDED_FOR": value}


def counted_address(client, data_file, **meta):
    """Download the file anonymously; the address its quota row and its record hold."""
    response = client.get(download_url(data_file), **meta)
    assert response.status_code == 200, response.content
    body_of(response)
    quota = Quota.objects.get(user=None)
    assert quota.current_quota == 1
    record = DownloadRecord.objects.get()
    assert record.client_address == quota.client_address
    return quota.client_address


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "expected"),
    [
        (CLIENT, None, CLIENT),
        (NGINX, None, NGINX),  # nginx's own requests, or a local client without the proxy
        (NGINX, CLIENT, CLIENT),  # nginx with X-Forwarded-For $remote_addr
        (NGINX, f"10.9.9.9, {CLIENT}", CLIENT),  # $proxy_add_x_forwarded_for: a forged entry
        (NGINX, f"10.9.9.9,{CLIENT}", CLIENT),
        (NGINX, f"{CLIENT}, 198.51.100.1", "198.51.100.1"),  # an untrusted proxy: its word
        (NGINX, f"{CLIENT}, {NGINX}", CLIENT),  # trusted proxies are skipped
        (NGINX, "127.0.0.1, ::1", "127.0.0.1"),  # all trusted: the left-most hop
    ],
    ids=[
        "direct",
        "proxy-itself",
        "through-nginx",
        "forged-then-appended",
        "no-blank",
        "untrusted-proxy",
        "two-trusted-hops",
        "all-trusted",
    ],
)
def test_the_address_is_the_right_most_untrusted_one(
    api_client, stored_file, remote_addr, forwarded_for, expected
):
    address = counted_address(
        api_client, stored_file(), REMOTE_ADDR=remote_addr, **xff(forwarded_for)
    )

    assert address == expected


@pytest.mark.parametrize("forged", ["10.9.9.9", "127.0.0.1", f"{CLIENT}, 10.9.9.9", "garbage"])
def test_a_direct_clients_own_header_is_never_believed(api_client, stored_file, forged):
    address = counted_address(api_client, stored_file(), REMOTE_ADDR="198.51.100.20", **xff(forged))

    assert address == "198.51.100.20"


def test_a_chain_of_trusted_networks_is_walked_to_the_client(api_client, stored_file, settings):
    settings.TRUSTED_PROXIES = networks("127.0.0.1/32", "10.0.0.0/8")
    chain = f"6.6.6.6, {CLIENT}, 10.1.2.3, 10.200.0.1"  # 6.6.6.6: what the client wrote

    assert (
        counted_address(api_client, stored_file(), REMOTE_ADDR="10.0.0.2", **xff(chain)) == CLIENT
    )


def test_without_trusted_proxies_the_header_is_ignored(api_client, stored_file, settings):
    settings.TRUSTED_PROXIES = []

    assert counted_address(api_client, stored_file(), REMOTE_ADDR=NGINX, **xff(CLIENT)) == NGINX


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "expected"),
    [
        ("::1", "2001:DB8::7", "2001:db8::7"),  # IPv6 nginx, IPv6 client, written canonically
        ("::1", f"2001:db8::66, {CLIENT}", CLIENT),
        ("2001:db8::7", "10.9.9.9", "2001:db8::7"),  # a direct IPv6 client
        ("::ffff:127.0.0.1", CLIENT, CLIENT),  # a dual-stack socket's view of nginx
        (NGINX, "::ffff:203.0.113.7", CLIENT),  # one client, one quota row
    ],
    ids=["v6-through-nginx", "v6-proxy-v4-client", "v6-direct", "mapped-proxy", "mapped-client"],
)
def test_ipv6(api_client, stored_file, remote_addr, forwarded_for, expected):
    address = counted_address(
        api_client, stored_file(), REMOTE_ADDR=remote_addr, **xff(forwarded_for)
    )

    assert address == expected


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("", NGINX),
        ("unknown", NGINX),  # what some proxies write for a hidden address
        ("not an address", NGINX),
        (f"{CLIENT}:4711", NGINX),  # a port
        ("[2001:db8::7]", NGINX),  # brackets
        ("fe80::1%eth0", NGINX),  # a zone, which no database column stores
        ("203.0.113.256", NGINX),
        ("10.0.0.0/8", NGINX),
        (" , ", NGINX),
        ("1" * 10_000, NGINX),
        ("\u00e9\u00e9", NGINX),
        (f"garbage, {CLIENT}", CLIENT),  # malformed entries left of the client are not read
        (f"{CLIENT}, garbage", NGINX),  # a malformed entry ends the walk
        (f"{CLIENT}, , 127.0.0.1", NGINX),
    ],
)
def test_malformed_entries_never_become_the_address(
    api_client, stored_file, forwarded_for, expected
):
    address = counted_address(api_client, stored_file(), REMOTE_ADDR=NGINX, **xff(forwarded_for))

    assert address == expected


@pytest.mark.parametrize("remote_addr", ["", "garbage", "unix:/run/gunicorn.sock"])
def test_a_peer_without_an_ip_address_is_counted_as_one_unknown_caller(
    api_client, stored_file, remote_addr
):
    response = api_client.get(download_url(stored_file()), REMOTE_ADDR=remote_addr, **xff(CLIENT))

    assert response.status_code == 200
    body_of(response)
    assert DownloadRecord.objects.get().client_address is None
    assert Quota.objects.get(user=None).client_address == "0.0.0.0"


def test_trusted_proxies_are_read_as_addresses_and_networks(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1 ,::1")

    assert env_networks("TRUSTED_PROXIES", []) == networks("10.0.0.0/8", "192.0.2.1/32", "::1/128")


@pytest.mark.parametrize("value", ["10.0.0.0/33", "nginx", "10.0.0.1/8"])
def test_a_bad_trusted_proxy_fails_loudly(monkeypatch, value):
    monkeypatch.setenv("TRUSTED_PROXIES", value)

    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        env_networks("TRUSTED_PROXIES", [])
