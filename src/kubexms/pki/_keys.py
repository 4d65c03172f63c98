"""Private keys: made, written (PEM, unencrypted, as kubeadm writes them) and read back."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubexms.pki._options import KeyType

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

RSA_KEY_BITS = 2048


def new_private_key(key_type: KeyType) -> PrivateKey:
    """A fresh RSA 2048 or ECDSA P-256 key."""
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def key_type_of(key: PrivateKey | PublicKey) -> KeyType:
    """``rsa`` or ``ecdsa``."""
    return "rsa" if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) else "ecdsa"


def private_key_pem(key: PrivateKey) -> bytes:
    """The key as kubeadm writes it: ``RSA PRIVATE KEY`` or ``EC PRIVATE KEY``, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_key_pem(key: PrivateKey | PublicKey) -> bytes:
    """The public half as a ``PUBLIC KEY`` PEM block (what ``sa.pub`` holds)."""
    public = (
        key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    )
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(data: bytes) -> PrivateKey:
    """A PEM private key; ValueError if it is not an unencrypted RSA or EC key."""
    try:
        # RSA consistency checks cost ~0.2 s per key and every run reads some 20 keys it wrote
        # itself; a key that does not match its certificate is still caught (key_matches).
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"not a readable unencrypted PEM private key ({error})") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}; expected RSA or ECDSA")
    return key


def key_matches(certificate: x509.Certificate, key: PrivateKey) -> bool:
    """Whether ``key`` is the private half of the certificate's public key."""
    certified = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return certified == public_key_pem(key)
