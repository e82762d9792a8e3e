"""SecurityCredential: the initiator password RSA-encrypted (PKCS#1 v1.5, not OAEP) with Safaricom's certificate."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

from cryptopay.core.errors import InvalidInput

if TYPE_CHECKING:  # imported where used: cryptography's X.509 costs ~0.07 s, and most processes never read one
    from cryptography import x509

__all__ = ["load_certificate", "security_credential"]


def load_certificate(path: str | Path) -> x509.Certificate:
    """Read an X.509 certificate in PEM or DER form."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read the M-Pesa certificate {path}: {error.strerror}") from None
    try:
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError:
        raise InvalidInput(f"{path} is not an X.509 certificate") from None


def security_credential(initiator_password: str, certificate: x509.Certificate) -> str:
    """base64(RSA-PKCS1v15-encrypt(password)); a new ciphertext each time, all of them valid."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidInput("the M-Pesa certificate must hold an RSA public key")
    return base64.b64encode(key.encrypt(initiator_password.encode(), padding.PKCS1v15())).decode("ascii")
