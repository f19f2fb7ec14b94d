"""A bearer token given to requests as its auth, the one way the API sources send theirs.

Given no auth, requests looks the request's host up in ~/.netrc (or $NETRC) and sends a login it
finds there as Basic auth, in place of an `Authorization` header set by hand: a machine whose
.netrc names the SmartHR site or Microsoft Graph would have sent that instead of the token.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
import requests.auth


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer …` from `token()`, asked at each request (a token may be renewed
    between them)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        return request
