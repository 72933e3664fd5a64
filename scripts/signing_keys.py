"""Ed25519 (Discord) and ECDSA P-256 (SendGrid) signing, Python 3.11 standard library only.

Neither provider publishes a library that signs: their libraries only verify.
scripts/sign-events and scripts/provider-vectors sign with these minimal
implementations of the published algorithms, and scripts/provider-vectors
proves every signature with the provider's own verifier. Both are
deterministic (Ed25519 by design, ECDSA with RFC 6979 nonces), so the
committed samples are reproducible. For test keys only: not constant-time.
"""

import base64
import hashlib
import hmac

# --- Ed25519 (RFC 8032, section 6) ----------------------------------------------

_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, -1, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _edwards_add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f, g * h, f * g, e * h)


def _edwards_mul(scalar: int, point):
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _edwards_add(result, point)
        point = _edwards_add(point, point)
        scalar >>= 1
    return result


def _edwards_compress(point) -> bytes:
    z_inverse = pow(point[2], -1, _P)
    x, y = point[0] * z_inverse % _P, point[1] * z_inverse % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed: bytes):
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def _sha512_mod_q(data: bytes) -> int:
    return int.from_bytes(hashlib.sha512(data).digest(), "little") % _Q


def ed25519_public_key(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte private seed."""
    return _edwards_compress(_edwards_mul(_expand(seed)[0], _G))


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """The 64-byte signature of the message."""
    scalar, prefix = _expand(seed)
    public = _edwards_compress(_edwards_mul(scalar, _G))
    nonce = _sha512_mod_q(prefix + message)
    r = _edwards_compress(_edwards_mul(nonce, _G))
    s = (nonce + _sha512_mod_q(r + public + message) * scalar) % _Q
    return r + s.to_bytes(32, "little")


# --- ECDSA P-256 with SHA-256 (FIPS 186-4, RFC 6979 nonces) ----------------------

_FP = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _FP - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_BASE = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
# SubjectPublicKeyInfo DER up to the uncompressed point: id-ecPublicKey, prime256v1.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def _curve_add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _FP == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _FP) % _FP
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, _FP) % _FP
    x = (slope * slope - p[0] - q[0]) % _FP
    return (x, (slope * (p[0] - x) - p[1]) % _FP)


def _curve_mul(scalar: int, point):
    result = None
    while scalar:
        if scalar & 1:
            result = _curve_add(result, point)
        point = _curve_add(point, point)
        scalar >>= 1
    return result


def p256_private_key(seed: bytes) -> int:
    """A private scalar derived from any seed bytes."""
    return int.from_bytes(hashlib.sha256(seed).digest(), "big") % (_N - 1) + 1


def p256_public_key_base64(private: int) -> str:
    """The public key as SendGrid's dashboard shows it: base64 of the DER SubjectPublicKeyInfo."""
    x, y = _curve_mul(private, _BASE)
    return base64.b64encode(_SPKI_PREFIX + b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")).decode()


def _rfc6979_nonce(private: int, digest: bytes) -> int:
    key_bytes = private.to_bytes(32, "big") + (int.from_bytes(digest, "big") % _N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + key_bytes, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + key_bytes, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        nonce = int.from_bytes(v, "big")
        if 1 <= nonce < _N:
            return nonce
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def _der_integer(value: int) -> bytes:
    encoded = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + bytes([len(encoded)]) + encoded


def p256_sign_der(private: int, message: bytes) -> bytes:
    """The DER-encoded ECDSA signature (SEQUENCE of r and s) of SHA-256(message)."""
    digest = hashlib.sha256(message).digest()
    z = int.from_bytes(digest, "big")
    nonce = _rfc6979_nonce(private, digest)
    r = _curve_mul(nonce, _BASE)[0] % _N
    s = pow(nonce, -1, _N) * (z + r * private) % _N
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body
