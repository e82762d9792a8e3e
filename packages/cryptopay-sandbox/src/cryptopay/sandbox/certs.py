"""A throw-away RSA key and self-signed certificate, so tests can exercise SecurityCredential end to end."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = ["SandboxCertificate", "decrypt_credential", "make_test_certificate"]


@attrs.frozen
class SandboxCertificate:
    """A certificate (what the adapter encrypts with) and its private key (what the sandbox decrypts with)."""

    certificate_pem: bytes
    private_key_pem: bytes = attrs.field(repr=False)


def make_test_certificate(common_name: str = "cryptopay sandbox") -> SandboxCertificate:
    """A fresh 2048-bit RSA key and a one-day self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SandboxCertificate(certificate.public_bytes(serialization.Encoding.PEM), key_pem)


def decrypt_credential(credential: str, private_key_pem: bytes) -> str | None:
    """The initiator password inside a SecurityCredential, or None if it does not decrypt with this key."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    try:
        return key.decrypt(base64.b64decode(credential, validate=True), padding.PKCS1v15()).decode()
    except ValueError:
        return None
