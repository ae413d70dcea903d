"""Pytest fixtures of the fake CRM servers (loaded by ``tests/conftest.py``).

``fake_sf_org``: a running :class:`~fakes.salesforce_org.FakeSalesforceOrg` with a small
deterministic dataset, fresh for each test (its CA is made once per session).
``sf_jwt_key``: a private key file whose public key the org trusts for the JWT bearer flow
(consumer key ``fake-consumer-key``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset
from fakes.sf_org import Org

__all__ = ["fake_sf_org", "sf_jwt_key", "register_jwt_app"]


@pytest.fixture
def fake_sf_org() -> Iterator[FakeSalesforceOrg]:
    """A fake Salesforce org on https://127.0.0.1:PORT (small dataset, multi-currency, six
    products, four quarters of quotas, ten campaigns, 30 survey responses, territories)."""
    fake = FakeSalesforceOrg.start(dataset=Dataset(products=6, forecast_quarters=4,
                                                   campaigns=10, surveys=30, territories=True))
    try:
        yield fake
    finally:
        fake.stop()


def register_jwt_app(org: Org, folder: Path, consumer_key: str = "fake-consumer-key") -> Path:
    """Make an RSA key pair, register its public key with ``org`` as connected app
    ``consumer_key`` and return the path of the private key PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "jwt.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    org.jwt_apps[consumer_key] = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path


@pytest.fixture
def sf_jwt_key(fake_sf_org: FakeSalesforceOrg, tmp_path: Path) -> Path:
    """A PEM private key registered with ``fake_sf_org`` as connected app
    ``fake-consumer-key``."""
    return register_jwt_app(fake_sf_org.org, tmp_path)
