"""How the clients reach the emulator (docs/references.md#pointing-the-clients-at-the-emulator): HTTPS with certificate verification
on, the fake AAD authority (route A, run.sh's login), the managed-identity token endpoint
(route B), and the plain-HTTP escape hatch of the SDK."""

from __future__ import annotations

import certifi
import pytest
import requests
from azure.core.exceptions import ServiceRequestError
from azure.mgmt.sql.models import ManagedDatabase

from harness import (
    AZ_ERROR,
    INSTANCE,
    RESOURCE_GROUP,
    assert_az_ok,
    az,
    sql_client,
    unique,
)


def test_certificate_verification_is_on(services):
    # The server's certificate is self-signed: a client trusting only the public CAs refuses it.
    # (retry_total=0: the failure is certain, azure-core's retries would only add seconds)
    sdk = sql_client(services, connection_verify=certifi.where(), retry_total=0)
    with pytest.raises(ServiceRequestError) as caught:
        list(sdk.managed_databases.list_by_instance(RESOURCE_GROUP, INSTANCE))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)

    result = az(
        "sql", "midb", "list", "-g", RESOURCE_GROUP, "--mi", INSTANCE,
        env={"REQUESTS_CA_BUNDLE": certifi.where()},
    )
    assert result.returncode == AZ_ERROR, result.describe()
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.describe()

    # With the generated certificate (REQUESTS_CA_BUNDLE, as run.sh sets it) both work.
    assert_az_ok(az("sql", "midb", "list", "-g", RESOURCE_GROUP, "--mi", INSTANCE))
    list(sql_client(services).managed_databases.list_by_instance(RESOURCE_GROUP, INSTANCE))


def test_generated_certificate_names_localhost_and_the_loopback_address(services):
    port = int(services.arm.rsplit(":", 1)[1])
    for host in ("localhost", "127.0.0.1"):
        response = requests.get(f"https://{host}:{port}/healthz", verify=str(services.cert), timeout=10)
        assert response.status_code == 200, (host, response.text)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://localhost:{port}/healthz", verify=certifi.where(), timeout=10)


def test_sdk_refuses_bearer_tokens_over_plain_http_unless_told(services):
    sdk = sql_client(services, base_url=services.http, retry_total=0)
    with pytest.raises(ServiceRequestError) as caught:
        list(sdk.managed_databases.list_by_instance(RESOURCE_GROUP, INSTANCE))
    assert "Bearer token authentication is not permitted for non-TLS protected (non-https) URLs." in str(
        caught.value
    )
    # enforce_https=False on the call lets it through (the emulator's plain listener).
    names = [
        d.name
        for d in sdk.managed_databases.list_by_instance(
            RESOURCE_GROUP, INSTANCE, enforce_https=False
        )
    ]
    https_names = [d.name for d in sql_client(services).managed_databases.list_by_instance(RESOURCE_GROUP, INSTANCE)]
    assert sorted(names) == sorted(https_names)


def test_az_login_with_the_managed_identity_endpoint(services, tmp_path, sql):
    """Route B: no AAD at all; az gets its token from the App-Service managed-identity
    endpoint the emulator serves on plain HTTP, and discovers the cloud from
    /metadata/endpoints."""
    env = {
        "AZURE_CONFIG_DIR": str(tmp_path / "az-msi"),
        "IDENTITY_ENDPOINT": f"{services.http}/msi/token",
        "IDENTITY_HEADER": "any-value",
    }
    assert_az_ok(az("config", "set", "core.collect_telemetry=false", env=env))
    # Without --skip-endpoint-discovery az reads {arm}/metadata/endpoints.
    assert_az_ok(
        az("cloud", "register", "-n", "LrsEmuMsi", "--endpoint-resource-manager",
           f"{services.arm}/", env=env)
    )
    cloud = assert_az_ok(az("cloud", "show", "-n", "LrsEmuMsi", env=env)).json()
    assert cloud["endpoints"]["resourceManager"] == f"{services.arm}/"
    assert cloud["endpoints"]["activeDirectoryResourceId"] == "https://management.core.windows.net/"
    assert_az_ok(az("cloud", "set", "-n", "LrsEmuMsi", env=env))
    accounts = assert_az_ok(az("login", "--identity", env=env)).json()
    assert [a["id"] for a in accounts] == [services.subscription]
    assert accounts[0]["user"]["type"] == "servicePrincipal"
    assert accounts[0]["user"]["assignedIdentityInfo"] == "MSI"

    # That profile drives the same emulator.
    name = unique("msi")
    sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, name, ManagedDatabase(location="westeurope")
    ).result(timeout=60)
    shown = assert_az_ok(az("sql", "midb", "show", "-g", RESOURCE_GROUP, "--mi", INSTANCE, "-n", name, env=env))
    assert shown.json()["status"] == "Online"
