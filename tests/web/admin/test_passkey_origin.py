"""A passkey's answers checked by py_webauthn through sync.services.passkeys, from a software
authenticator (a P-256 key, CBOR by cbor2): an assertion made for another origin, or for
another relying party, is refused; the same one for this origin passes once, and its replay
(a signature counter that did not grow) is refused."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from sync.services import passkeys
from sync.services.second_factor import Holder
from sync.services.views import credentials
from sync.timeutil import utc_now
from tests.web.admin.conftest import Console

PARTY = passkeys.Party("localhost", "http://localhost:8443")
UP_UV, ATTESTED = 0x01 | 0x04, 0x40


@dataclass
class SoftAuthenticator:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(
        ec.SECP256R1()))  # fmt: skip
    credential_id: bytes = b"soft-credential-0001"
    count: int = 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})  # fmt: skip

    def create(self, options: str, origin: str) -> str:
        challenge = json.loads(options)["challenge"]
        client = _client_data("webauthn.create", challenge, origin)
        attested = (b"\0" * 16 + struct.pack(">H", len(self.credential_id)) + self.credential_id
                    + self.cose_key())  # fmt: skip
        data = _rp_hash(PARTY.id) + bytes([UP_UV | ATTESTED]) + struct.pack(">I", 0) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
        return json.dumps({
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": bytes_to_base64url(client),
                         "attestationObject": bytes_to_base64url(attestation)},
        })  # fmt: skip

    def get(self, options: str, origin: str, rp_id: str = PARTY.id) -> str:
        challenge = json.loads(options)["challenge"]
        client = _client_data("webauthn.get", challenge, origin)
        self.count += 1
        data = _rp_hash(rp_id) + bytes([UP_UV]) + struct.pack(">I", self.count)
        signed = data + hashlib.sha256(client).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": bytes_to_base64url(client),
                         "authenticatorData": bytes_to_base64url(data),
                         "signature": bytes_to_base64url(signature), "userHandle": None},
        })  # fmt: skip


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    base64url_to_bytes(challenge)  # the options' challenge, as the browser would echo it
    return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                       "crossOrigin": False}).encode()  # fmt: skip


def _rp_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest()


def test_an_assertion_for_another_origin_or_party_is_refused(console: Console) -> None:
    engine = console.pages.engine
    found = credentials(engine, "acme", name="user1")
    assert found is not None
    holder = Holder("acme", found.account_id, found.name)
    device = SoftAuthenticator()

    options, challenge = passkeys.registration(engine, holder, PARTY)
    elsewhere = device.create(options, "http://localhost:9999")
    assert passkeys.finish_registration(engine, holder, PARTY, elsewhere, challenge,
                                        utc_now()) is None  # fmt: skip
    codes = passkeys.finish_registration(engine, holder, PARTY, device.create(options,
                                         PARTY.origin), challenge, utc_now())  # fmt: skip
    assert codes is not None and len(codes) == 10

    def attempt(origin: str, rp_id: str = PARTY.id) -> tuple[bool, str, str]:
        asked = passkeys.authentication(engine, holder, PARTY)
        assert asked is not None
        options, challenge = asked
        answer = device.get(options, origin, rp_id)
        return (
            passkeys.verify(engine, holder, PARTY, answer, challenge, utc_now()),
            answer,
            challenge,
        )

    assert not attempt("https://evil.example")[0]
    assert not attempt("http://localhost:9999")[0]
    assert not attempt(PARTY.origin, rp_id="evil.example")[0]
    ok, answer, challenge = attempt(PARTY.origin)
    assert ok
    # the same assertion again: its counter has not grown past the one kept
    assert not passkeys.verify(engine, holder, PARTY, answer, challenge, utc_now())
