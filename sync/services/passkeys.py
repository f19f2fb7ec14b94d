"""Passkeys (WebAuthn) as the console's second factor (SPEC §19), by py_webauthn.

The relying party is the console's own host: its id is the host name the browser used, and
every response must come from that page's origin. The challenge of a ceremony is kept with the
session in the store (the caller keeps it), so it is used once and works on any `web` process.
The credential's signature counter is kept: a counter that does not grow (a cloned key) is
refused, as py_webauthn checks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sync.services.second_factor import PASSKEY, Holder, factor_row, new_recovery_codes, record
from sync.store import console_auth as stored
from sync.store.engine import writing

log = logging.getLogger(__name__)

RP_NAME = "CLOMO console"
TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Party:
    """The relying party as the browser sees it: `localhost` and `http://localhost:8080`."""

    id: str
    origin: str


def registration(engine: Engine, holder: Holder, party: Party) -> tuple[str, str]:
    """Options for navigator.credentials.create() as JSON, and their challenge (base64url)
    for the caller to keep with the session."""
    with engine.connect() as conn:
        known = [r["credential_id"] for r in _passkeys(conn, holder)]
    options = generate_registration_options(
        rp_id=party.id,
        rp_name=RP_NAME,
        user_name=holder.name,
        user_id=f"{holder.tenant_id}/{holder.account_id}".encode(),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[_descriptor(c) for c in known],
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def finish_registration(
    engine: Engine, holder: Holder, party: Party, response: str, challenge: str, now: datetime
) -> list[str] | None:
    """Enrols the passkey of the browser's `response` to the ceremony of `challenge`. Returns
    the recovery codes to show when it is the account's first factor (else an empty list), or
    None when the response is not valid (audited as a failure)."""
    try:
        verified = verify_registration_response(
            credential=response,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=party.id,
            expected_origin=party.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        log.info("passkey of %s/%s refused: %s", holder.tenant_id, holder.name, exc)
        with writing(engine) as conn:
            record(conn, holder, "mfa_enrol_failed", PASSKEY, now)
        return None
    with writing(engine) as conn:
        first = not any(
            r["confirmed_at"] is not None
            for r in stored.factors(conn, holder.tenant_id, holder.account_id)
        )
        row = factor_row(
            holder,
            PASSKEY,
            now,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            confirmed_at=now,
        )
        stored.add_factor(conn, row)
        record(conn, holder, "mfa_enrolled", PASSKEY, now)
        return new_recovery_codes(conn, holder, now) if first else []


def authentication(engine: Engine, holder: Holder, party: Party) -> tuple[str, str] | None:
    """Options for navigator.credentials.get() as JSON and their challenge, or None when the
    account has no passkey."""
    with engine.connect() as conn:
        known = [r["credential_id"] for r in _passkeys(conn, holder)]
    if not known:
        return None
    options = generate_authentication_options(
        rp_id=party.id,
        timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(c) for c in known],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verify(
    engine: Engine, holder: Holder, party: Party, response: str, challenge: str, now: datetime
) -> bool:
    """Whether `response` is a valid assertion by one of the account's passkeys for the
    ceremony of `challenge`; its signature counter is kept. Audited either way."""
    with writing(engine) as conn:
        ok = _verified(conn, holder, party, response, challenge, now)
        record(conn, holder, "mfa_verified" if ok else "mfa_failed", PASSKEY, now)
        return ok


def _verified(
    conn: Connection, holder: Holder, party: Party, response: str, challenge: str, now: datetime
) -> bool:
    try:
        presented = assertion_credential_id(response)
        found = next((r for r in _passkeys(conn, holder) if r["credential_id"] == presented), None)
        if found is None:
            return False
        verified = verify_authentication_response(
            credential=response,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=party.id,
            expected_origin=party.origin,
            credential_public_key=base64url_to_bytes(found["public_key"]),
            credential_current_sign_count=found["sign_count"],
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        log.info("passkey assertion of %s/%s refused: %s", holder.tenant_id, holder.name, exc)
        return False
    stored.change_factor(conn, found["id"], sign_count=verified.new_sign_count, used_at=now)
    return True


def assertion_credential_id(response: str) -> str:
    """The credential id (base64url) a browser's JSON response names."""
    value = json.loads(response)["rawId"]
    if not isinstance(value, str):
        raise ValueError("rawId is not a string")
    return bytes_to_base64url(base64url_to_bytes(value))


def _passkeys(conn: Connection, holder: Holder) -> list[dict[str, Any]]:
    rows = stored.factors(conn, holder.tenant_id, holder.account_id)
    return [dict(r) for r in rows if r["kind"] == PASSKEY and r["confirmed_at"] is not None]


def _descriptor(credential_id: object) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(str(credential_id)))
