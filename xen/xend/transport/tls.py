"""TLS for the HTTPS listener (spec §1.4.1): the server context and a first-start certificate
(and certificates signed by a CA of the administrator's, ``issue``: tools/pool-up's).

With no certificate configured, the daemon makes a self-signed one (EC P-256,
ten years, the host's name and loopback addresses as subject alternative
names) in its state directory, key mode 0600, and logs its SHA-256
fingerprint so that clients can pin it.
"""

import datetime
import ipaddress
import logging
import os
import socket
import ssl

from ..util.files import open_own

log = logging.getLogger("xend.tls")

CERT_NAME = "xend-cert.pem"
KEY_NAME = "xend-key.pem"


def fingerprint(cert_path):
    """The certificate's SHA-256 fingerprint as colon-separated hex."""
    import hashlib
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def ensure_self_signed(state_dir):
    """Paths of the daemon's own certificate and key, made on first use."""
    cert = os.path.join(state_dir, CERT_NAME)
    key = os.path.join(state_dir, KEY_NAME)
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    host = socket.gethostname()
    issue(cert, key, host, [host, "localhost"], ["127.0.0.1", "::1"])
    log.info("generated a self-signed certificate %s, SHA-256 fingerprint %s",
             cert, fingerprint(cert))
    return cert, key


def issue(cert, key, common_name, dns_names, addresses, issuer=None):
    """Write a new EC P-256 key (mode 0600) and its certificate for ten years, naming
    ``dns_names`` and IP ``addresses`` as subject alternative names, to the paths
    ``cert`` and ``key``. ``issuer``: the (certificate, key) paths of the CA that signs
    it; without one it is self-signed and may sign others (a CA of its own)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xend")])
    issuer_name, signer = name, private
    if issuer is not None:
        with open(issuer[0], "rb") as f:
            issuer_name = x509.load_pem_x509_certificate(f.read()).subject
        with open(issuer[1], "rb") as f:
            signer = serialization.load_pem_private_key(f.read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    names = ([x509.DNSName(n) for n in dns_names]
             + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(private.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=0
                                                    if issuer is None else None),
                              critical=True))
    if names:       # a CA's own certificate names no host
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(signer, hashes.SHA256())
    fd = open_own(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    fd = open_own(cert, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))


def pair_problem(cert, key):
    """Why ``cert`` and ``key`` cannot serve TLS, in words (no PEM certificate, no
    PEM private key, an encrypted key, a key that is not the certificate's), or None
    when they can."""
    try:
        with open(cert, "rb") as f:
            cert_text = f.read()
        with open(key, "rb") as f:
            key_text = f.read()
    except OSError as e:
        return e.strerror or str(e)
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        return "the certificate file holds no PEM certificate"
    if b"PRIVATE KEY-----" not in key_text:
        return "the key file holds no PEM private key"
    if b"ENCRYPTED" in key_text:
        return "the private key is encrypted; xend needs it without a passphrase"
    try:
        server_context(cert, key)
    except ssl.SSLError as e:
        if e.reason == "KEY_VALUES_MISMATCH":
            return "the private key is not the certificate's"
        return e.reason or str(e)
    return None


def _no_passphrase():
    # Without a callback OpenSSL would ask for an encrypted key's passphrase on the
    # terminal, holding a daemon (or its reload) forever.
    raise ssl.SSLError("the private key is encrypted; xend needs it without a passphrase")


# The TLS 1.2 suites offered: forward-secret key exchange with an AEAD cipher only. The
# CBC suites OpenSSL would add (AES-SHA, AES-SHA256) are the ones padding-oracle and
# Lucky13-style attacks go after. TLS 1.3 suites are all AEAD; this string leaves them as
# they are.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!DSS"


def server_context(cert, key):
    """A server-side context: TLS 1.2 or later, AEAD ciphers only, the given certificate
    and key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.load_cert_chain(cert, key, password=_no_passphrase)
    return ctx
