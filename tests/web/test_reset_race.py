"""Two tabs redeeming one reset link at the same moment: one sets the password, the other is told
the link was used (never a 500 "database is locked"). On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from httpx import Response
from starlette.testclient import TestClient

from sync.services.passwords import verify_password
from tests.web.conftest import Pages, form_value, path_of
from tests.web.test_reset_page import stored_hash


def test_two_tabs_redeeming_one_link_at_once(pages: Pages) -> None:
    tab = TestClient(pages.app(), follow_redirects=False, raise_server_exceptions=False)
    for name in ("user1", "user2", "user3"):  # three races: each must come out the same way
        link = pages.link(f"{name}@example.com", "account_created")
        forms = [_opened(tab, link, password) for password in ("First-tab-1", "Second-tab-2")]
        answers = _at_once(tab, urlsplit(link).path, forms)
        assert sorted(a.status_code for a in answers) == [303, 410], [a.text for a in answers]
        used = next(a for a in answers if a.status_code == 410)
        assert 'data-reason="used"' in used.text and "already been used" in used.text
        winner = next(form for form, a in zip(forms, answers, strict=True) if a.status_code == 303)
        digest = stored_hash(pages, name)
        assert digest is not None and verify_password(digest, winner["password"])


def _opened(tab: TestClient, link: str, password: str) -> dict[str, Any]:
    """The form of the page the link opens, filled in."""
    page = tab.get(path_of(link))
    assert page.status_code == 200, page.text
    token = form_value(page.text, "token")
    csrf = form_value(page.text, "csrf")
    return {"csrf": csrf, "token": token, "password": password, "confirmation": password}


def _at_once(tab: TestClient, path: str, forms: list[dict[str, Any]]) -> list[Response]:
    """Posts every form in its own thread, all released together."""
    barrier = threading.Barrier(len(forms))
    answers: list[Response | None] = [None] * len(forms)

    def post(index: int) -> None:
        barrier.wait()
        answers[index] = tab.post(path, data=forms[index])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]
