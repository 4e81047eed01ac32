"""Compact pure-Python Ed25519 (RFC 8032) for devices without a crypto library. MicroPython-safe.

The arithmetic follows RFC 8032 section 6 (extended twisted Edwards coordinates). It is constant-time
in neither CPython nor MicroPython: use it where nothing better exists (the board, the portable-core
test); on Linux the `cryptography` signer in `speedledger.edge.signing` is used instead.
SHA-512 comes from `hashlib` when the port has it (MicroPython builds usually offer only SHA-256).
"""

import binascii
import hashlib

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_MASK64 = 0xFFFFFFFFFFFFFFFF

# SHA-512 round constants (FIPS 180-4, 4.2.3) and initial hash value (5.3.5).
_K512 = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC, 0x3956C25BF348B538,
    0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118, 0xD807AA98A3030242, 0x12835B0145706FBE,
    0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2, 0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235,
    0xC19BF174CF692694, 0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5, 0x983E5152EE66DFAB,
    0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4, 0xC6E00BF33DA88FC2, 0xD5A79147930AA725,
    0x06CA6351E003826F, 0x142929670A0E6E70, 0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED,
    0x53380D139D95B3DF, 0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30, 0xD192E819D6EF5218,
    0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8, 0x19A4C116B8D2D0C8, 0x1E376C085141AB53,
    0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8, 0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373,
    0x682E6FF3D6B2B8A3, 0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B, 0xCA273ECEEA26619C,
    0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178, 0x06F067AA72176FBA, 0x0A637DC5A2C898A6,
    0x113F9804BEF90DAE, 0x1B710B35131C471B, 0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC,
    0x431D67C49C100D4C, 0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)  # fmt: skip
_H512 = (
    0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
    0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
)  # fmt: skip


class SignatureError(ValueError):
    """A signature or public key is malformed or does not verify."""


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (64 - n))) & _MASK64


def _sha512_pure(data: bytes) -> bytes:
    length = len(data)
    padded = bytearray(data)
    padded.append(0x80)
    while len(padded) % 128 != 112:
        padded.append(0)
    padded += (length * 8).to_bytes(16, "big")
    h = list(_H512)
    for block in range(0, len(padded), 128):
        w = [int.from_bytes(padded[block + 8 * i : block + 8 * i + 8], "big") for i in range(16)]
        for i in range(16, 80):
            s0 = _rotr(w[i - 15], 1) ^ _rotr(w[i - 15], 8) ^ (w[i - 15] >> 7)
            s1 = _rotr(w[i - 2], 19) ^ _rotr(w[i - 2], 61) ^ (w[i - 2] >> 6)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & _MASK64)
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            t1 = hh + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)) + ((e & f) ^ (~e & g)) + _K512[i] + w[i]
            t2 = (_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))
            hh, g, f, e = g, f, e, (d + t1) & _MASK64
            d, c, b, a = c, b, a, (t1 + t2) & _MASK64
        state = (a, b, c, d, e, f, g, hh)
        h = [(h[i] + state[i]) & _MASK64 for i in range(8)]
    return b"".join(x.to_bytes(8, "big") for x in h)


def sha512(data: bytes) -> bytes:
    """SHA-512 digest: the port's own when it has one, else the pure-Python fallback."""
    native = getattr(hashlib, "sha512", None)
    if native is not None:
        digest: bytes = native(data).digest()
        return digest
    return _sha512_pure(data)


# A point is (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z.
_IDENTITY = (0, 1, 1, 0)


def _add(p: tuple, q: tuple) -> tuple:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: tuple) -> tuple:
    result = _IDENTITY
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(p: tuple, q: tuple) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int:
    if y >= _P:
        raise SignatureError("non-canonical point encoding (y >= p)")
    # Reduced before the zero test: y = p - 1 gives y*y - 1 = 0 mod p but not 0 (RFC 8032 5.1.3, step 3).
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        if sign:
            raise SignatureError("non-canonical point encoding (x = 0 with the sign bit set)")
        return 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        raise SignatureError("point not on the curve")
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_BASE = (_GX, _GY, 1, _GX * _GY % _P)


def _compress(point: tuple) -> bytes:
    zinv = pow(point[2], _P - 2, _P)
    x = point[0] * zinv % _P
    y = point[1] * zinv % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decompress(data: bytes) -> tuple:
    if len(data) != 32:
        raise SignatureError("a public key or point is 32 bytes")
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return (x, y, 1, x * y % _P)


def check_public_key(public: bytes) -> None:
    """Raise SignatureError unless `public` is the canonical encoding of a curve point A whose [8]A is
    not the identity: a small-order key lets anyone forge signatures (small-order R, S = 0) that verify."""
    if _equal(_multiply(8, _decompress(public)), _IDENTITY):
        raise SignatureError("a small-order point is not a public key")


def _hash_int(data: bytes) -> int:
    return int.from_bytes(sha512(data), "little")


def _expand(seed: bytes) -> tuple:
    if len(seed) != 32:
        raise ValueError("an Ed25519 secret key (seed) is 32 bytes")
    digest = sha512(seed)
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte public key of a 32-byte secret seed."""
    scalar, _ = _expand(seed)
    return _compress(_multiply(scalar, _BASE))


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` under `public`."""
    if len(signature) != 64:
        return False
    try:
        point_a = _decompress(public)
        point_r = _decompress(signature[:32])
    except SignatureError:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = _hash_int(signature[:32] + public + message) % _L
    return _equal(_multiply(s, _BASE), _add(point_r, _multiply(h, point_a)))


class Ed25519Signer:
    """A Signer (see `speedledger.edge.core.ports.Signer`) that needs only hashlib and big integers."""

    def __init__(self, seed: bytes) -> None:
        self._scalar, self._prefix = _expand(seed)
        self.public_key = _compress(_multiply(self._scalar, _BASE))
        self.key_id = binascii.hexlify(hashlib.sha256(self.public_key).digest()).decode()[:16]

    def sign(self, message: bytes) -> bytes:
        r = _hash_int(self._prefix + message) % _L
        encoded_r = _compress(_multiply(r, _BASE))
        h = _hash_int(encoded_r + self.public_key + message) % _L
        s = (r + h * self._scalar) % _L
        return encoded_r + s.to_bytes(32, "little")
