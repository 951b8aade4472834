"""Signing in through MSAL against the stand-in's real token endpoint, over loopback.

PC_AUTHORITY=<the stand-in's http URL> makes pcbatch give MSAL an https placeholder authority and
an http_client that sends that host's requests to the stand-in (and refuses any other host).
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from support import app_env, token_requests

from batch.core.errors import AuthFailed, ConfigError
from batch.wire.auth_msal import certificate_credential
from batch.wire.authority import Authority, LoginHttp, resolve_authority
from batch.wire.credentials import provider_from_env


async def rest_status(sim, sim_client, token: str) -> int:
    return (await sim_client(sim).get_profile(sim.store.ids()[0], token=token)).status


def write_certificate(tmp_path, name="app", password=None, valid_days=30, key=None):
    """A self-signed certificate and its private key in one PEM file; returns (path, cert PEM)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2))
        .not_valid_after(now + timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    encryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path = tmp_path / f"{name}.pem"
    path.write_bytes(key_pem + cert_pem)
    return path, cert_pem


async def test_app_only_credentials_get_a_token_the_rest_api_accepts(sim, sim_client):
    provider = provider_from_env(app_env(sim), "global")
    token = await provider.token()
    assert await rest_status(sim, sim_client, token) == 200
    assert len(token_requests(sim)) == 1


async def test_32_concurrent_workers_cause_one_token_request(sim):
    provider = provider_from_env(app_env(sim), "global")
    tokens = await asyncio.gather(*(provider.token() for _ in range(32)))
    assert len(set(tokens)) == 1
    assert len(token_requests(sim)) == 1


async def test_a_renewal_after_a_401_asks_the_server_once_for_a_new_token(sim, sim_client):
    provider = provider_from_env(app_env(sim), "global")
    refused = await provider.token()
    renewed = await asyncio.gather(*(provider.renew(refused) for _ in range(32)))
    assert len(set(renewed)) == 1 and renewed[0] != refused
    assert await rest_status(sim, sim_client, renewed[0]) == 200
    assert len(token_requests(sim)) == 2


async def test_a_secret_rotated_away_mid_run_aborts_with_a_message_and_no_secret(sim):
    provider = provider_from_env(app_env(sim), "global")
    refused = await provider.token()
    old_secret = sim.config.client_secret
    sim.config.client_secret = "rotated-secret-value"
    with pytest.raises(AuthFailed) as caught:
        await provider.renew(refused)
    message = str(caught.value)
    assert "invalid_client" in message and "check the client secret" in message
    assert old_secret not in message and refused not in message


async def test_a_wrong_secret_is_a_configuration_error_before_anything_is_sent(sim):
    provider = provider_from_env(app_env(sim, PC_CLIENT_SECRET="wrong-secret-xyz"), "global")
    with pytest.raises(ConfigError) as caught:
        await provider.token()
    assert "AADSTS7000215" in str(caught.value)
    assert "wrong-secret-xyz" not in str(caught.value)


async def test_a_certificate_signs_in_when_the_app_registration_trusts_it(
    sim, sim_client, tmp_path
):
    path, cert_pem = write_certificate(tmp_path)
    sim.tokens.trust_certificate(cert_pem)
    env = app_env(sim, PC_CLIENT_SECRET=None, PC_CLIENT_CERTIFICATE_PATH=str(path))
    token = await provider_from_env(env, "global").token()
    assert await rest_status(sim, sim_client, token) == 200


async def test_a_certificate_the_app_registration_does_not_know_is_refused(sim, tmp_path):
    _, trusted = write_certificate(tmp_path, "trusted")
    other, _ = write_certificate(tmp_path, "other")
    sim.tokens.trust_certificate(trusted)
    env = app_env(sim, PC_CLIENT_SECRET=None, PC_CLIENT_CERTIFICATE_PATH=str(other))
    with pytest.raises(ConfigError, match="invalid_client"):
        await provider_from_env(env, "global").token()


async def test_an_encrypted_key_signs_in_with_its_password(sim, sim_client, tmp_path):
    path, cert_pem = write_certificate(tmp_path, password="pem-pass-123")
    sim.tokens.trust_certificate(cert_pem)
    env = app_env(sim, PC_CLIENT_SECRET=None, PC_CLIENT_CERTIFICATE_PATH=str(path))
    with pytest.raises(ConfigError, match="is encrypted: set PC_CLIENT_CERTIFICATE_PASSWORD"):
        provider_from_env(env, "global")
    env["PC_CLIENT_CERTIFICATE_PASSWORD"] = "pem-pass-123"
    token = await provider_from_env(env, "global").token()
    assert await rest_status(sim, sim_client, token) == 200


def test_the_thumbprint_is_the_certificates_sha1_as_entra_lists_it(tmp_path):
    path, cert_pem = write_certificate(tmp_path)
    expected = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA1()).hex().upper()
    credential = certificate_credential(str(path), None)
    assert credential["thumbprint"] == expected
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_text("not a pem"), "holds no PEM certificate"),
        (lambda p: p.write_bytes(write_certificate(p.parent, "c")[1]), "holds no private key"),
        (lambda p: None, "cannot read it"),
    ],
)
def test_an_unusable_certificate_file_is_named_with_what_is_wrong(tmp_path, make, problem):
    path = tmp_path / "given.pem"
    make(path)
    with pytest.raises(ConfigError, match=problem) as caught:
        certificate_credential(str(path), None)
    assert str(path) in str(caught.value)


def test_a_key_of_another_certificate_or_an_expired_certificate_is_refused(tmp_path):
    key_file, _ = write_certificate(tmp_path, "one")
    _, other_cert = write_certificate(tmp_path, "two")
    mixed = tmp_path / "mixed.pem"
    key_pem = key_file.read_bytes().split(b"-----BEGIN CERTIFICATE-----")[0]
    mixed.write_bytes(key_pem + other_cert)
    with pytest.raises(ConfigError, match="does not belong to its certificate"):
        certificate_credential(str(mixed), None)
    expired, _ = write_certificate(tmp_path, "old", valid_days=-1)
    with pytest.raises(ConfigError, match="expired on"):
        certificate_credential(str(expired), None)


async def test_a_refresh_token_signs_in_a_public_client(sim, sim_client):
    env = app_env(sim, PC_CLIENT_SECRET=None, PC_REFRESH_TOKEN=sim.config.refresh_token)
    token = await provider_from_env(env, "global").token()
    assert await rest_status(sim, sim_client, token) == 200


async def test_a_refresh_token_signs_in_a_confidential_client_with_its_secret(sim, sim_client):
    env = app_env(sim, PC_REFRESH_TOKEN=sim.config.refresh_token)
    token = await provider_from_env(env, "global").token()
    assert await rest_status(sim, sim_client, token) == 200
    bad = app_env(sim, PC_CLIENT_SECRET="wrong", PC_REFRESH_TOKEN=sim.config.refresh_token)
    with pytest.raises(ConfigError, match="invalid_client"):
        await provider_from_env(bad, "global").token()


async def test_renewals_use_the_newest_refresh_token_the_server_answered(sim, sim_client):
    env = app_env(sim, PC_CLIENT_SECRET=None, PC_REFRESH_TOKEN=sim.config.refresh_token)
    provider = provider_from_env(env, "global")
    first = await provider.token()
    sim.config.refresh_token = "the-original-one-no-longer-works"
    renewed = await provider.renew(first)
    assert renewed != first
    assert await rest_status(sim, sim_client, renewed) == 200


async def test_an_expired_refresh_token_says_to_get_a_new_one(sim):
    env = app_env(sim, PC_CLIENT_SECRET=None, PC_REFRESH_TOKEN="expired-refresh-token")
    with pytest.raises(ConfigError) as caught:
        await provider_from_env(env, "global").token()
    assert "invalid_grant" in str(caught.value) and "pcbatch login" in str(caught.value)
    assert "expired-refresh-token" not in str(caught.value)


async def test_an_unknown_tenant_is_named(sim):
    env = app_env(sim, PC_TENANT_ID="not-our-tenant")
    with pytest.raises(ConfigError, match="not-our-tenant"):
        await provider_from_env(env, "global").token()


async def test_an_unreachable_login_server_is_named(unused_tcp_port):
    env = {
        "PC_TENANT_ID": "t",
        "PC_CLIENT_ID": "c",
        "PC_CLIENT_SECRET": "s",
        "PC_AUTHORITY": f"http://127.0.0.1:{unused_tcp_port}",
    }
    with pytest.raises(ConfigError, match=f"could not reach the login server .*{unused_tcp_port}"):
        await provider_from_env(env, "global").token()


async def test_msal_logs_no_token_or_secret_even_when_everything_logs_at_debug(sim, caplog):
    caplog.set_level(logging.DEBUG)
    provider = provider_from_env(app_env(sim), "global")
    token = await provider.token()
    await provider.renew(token)
    assert caplog.records, "nothing was logged at all"
    for secret in (sim.config.client_secret, *sim.tokens.issued_access_tokens()):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("cloud", "pc_authority", "root", "loopback"),
    [
        ("global", None, "https://login.microsoftonline.com", None),
        ("usgov", None, "https://login.microsoftonline.us", None),
        ("china", None, "https://login.chinacloudapi.cn", None),
        ("usgov", "https://login.microsoftonline.us/", "https://login.microsoftonline.us", None),
        ("china", "http://127.0.0.1:8479", "https://127.0.0.1:8479", "http://127.0.0.1:8479"),
        ("global", "http://localhost:9", "https://localhost:9", "http://localhost:9"),
        ("global", "http://[::1]:9", "https://[::1]:9", "http://[::1]:9"),
    ],
)
def test_the_cloud_picks_the_authority_and_pc_authority_overrides_it(
    cloud, pc_authority, root, loopback
):
    env = {"PC_AUTHORITY": pc_authority} if pc_authority else {}
    authority = resolve_authority(env, cloud)
    assert (authority.root, authority.loopback) == (root, loopback)
    assert authority.explicit == bool(pc_authority)
    assert authority.url("contoso") == f"{root}/contoso"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("http://login.example.com", "plain http:// on a non-loopback host"),
        ("http://10.0.0.5:8479", "plain http:// on a non-loopback host"),
        ("https://login.microsoftonline.com/contoso", "without a tenant"),
        ("https://user:pw@login.microsoftonline.com", "must not carry a user"),
        ("ftp://login.microsoftonline.com", "must be the https:// URL"),
        ("https://login.microsoftonline.com:99999", "is not a URL"),
    ],
)
def test_a_pc_authority_that_could_leak_or_mislead_is_refused(given, problem):
    with pytest.raises(ConfigError, match=problem):
        resolve_authority({"PC_AUTHORITY": given}, "global")


def test_the_loopback_http_client_sends_nothing_to_any_other_host():
    client = LoginHttp(Authority("https://127.0.0.1:9", loopback="http://127.0.0.1:9"))
    for url in (
        "https://login.microsoftonline.com/common/discovery/instance",
        "https://127.0.0.1:99/t/oauth2/v2.0/token",
        "https://127.0.0.1:9.evil.example/t",
    ):
        with pytest.raises(requests.ConnectionError, match="refused to send"):
            client.get(url)
    client.close()
