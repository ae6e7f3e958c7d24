"""Certificates for the simulator: a private CA and a server certificate for 127.0.0.1.

The SDK always speaks `wss://`, so the simulator needs TLS; clients trust it through
`c.GeminiLive.ca_file` (or `SSL_CERT_FILE`), never by turning verification off. The CA
is kept in its folder and reused, so a restarted simulator is trusted by a client that
was not restarted.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gemini Live simulator CA")])


@dataclass(frozen=True)
class CertificateFiles:
    ca: Path
    cert: Path
    key: Path


#: the CA outlives many server certificates: clients configured to trust it keep working
CA_DAYS = 3650
CERT_DAYS = 365
#: a certificate that expires sooner than this is replaced at start
RENEW_BEFORE = datetime.timedelta(days=7)


def write_self_signed(directory: str | os.PathLike[str]) -> CertificateFiles:
    """A private CA (ca.pem, its key ca-key.pem) and a certificate for the loopback names
    signed by it (cert.pem, key.pem), in `directory`.

    What the folder already holds is kept: the CA as long as it is valid, so clients that
    trust it (`c.GeminiLive.ca_file`) still trust the simulator after a restart; the
    server certificate as long as that CA issued it and it is valid. A missing or expiring
    certificate is issued again by the kept CA; only a CA without its key is replaced.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca_key_file = folder / "ca-key.pem"
    ca_cert = _valid_cert(files.ca)
    if ca_cert is not None and _issued_here(files, ca_cert):
        return files  # nothing to do: the server certificate is still good
    ca_key = _private_key(ca_key_file) if ca_cert is not None else None
    if ca_cert is None or ca_key is None or ca_cert.public_key() != ca_key.public_key():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _new_ca(ca_key)
        _write(ca_key_file, _key_pem(ca_key), private=True)
        _write(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _new_server_cert(key, ca_cert, ca_key)
    _write(files.key, _key_pem(key), private=True)
    _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


def server_context(cert: str | os.PathLike[str], key: str | os.PathLike[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _valid_cert(path: Path) -> x509.Certificate | None:
    """The certificate in `path` if it is there, readable and valid for a while yet."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    now = _now()
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc - RENEW_BEFORE:
        return None
    return cert


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _issued_here(files: CertificateFiles, ca_cert: x509.Certificate) -> bool:
    """cert.pem is valid, signed by the CA, for our names, and key.pem is its key."""
    cert = _valid_cert(files.cert)
    key = _private_key(files.key)
    if cert is None or key is None or cert.public_key() != key.public_key():
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return set(_names()) <= set(names)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace `path` whole (a reader never sees half a file); keys readable by us only."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    if private:
        partial.chmod(0o600)
    partial.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _names() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(host)) for host in ("127.0.0.1", "::1")]
    return names


def _new_ca(ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(CA_NAME)
        .issuer_name(CA_NAME)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip


def _new_server_cert(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_names()), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
