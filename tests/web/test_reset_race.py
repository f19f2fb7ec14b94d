"""Two tabs redeeming one reset link at the same moment: one sets the password, the other is told
the link was used (never a 500 "database is locked"). On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from sync.admin.passwords import verify_password
from tests.web.conftest import Pages, form_value, path_of
from tests.web.test_reset_page import stored_hash


def test_two_tabs_redeeming_one_link_at_once(pages: Pages) -> None:
    app = pages.app()
    for name in ("user1", "user2", "user3"):  # three races: each must come out the same way
        link = pages.link(f"{name}@example.com", "account_created")
        tabs = [TestClient(app, follow_redirects=False, raise_server_exceptions=False)] * 2
        forms = []
        for tab, password in zip(tabs, ("First-tab-1", "Second-tab-2"), strict=True):
            page = tab.get(path_of(link))
            assert page.status_code == 200, page.text
            forms.append(
                {
                    "csrf": form_value(page.text, "csrf"),
                    "token": form_value(page.text, "token"),
                    "password": password,
                    "confirmation": password,
                }
            )
        barrier, answers = threading.Barrier(2), {}

        def post(index: int) -> None:
            barrier.wait()
            answers[index] = tabs[index].post(urlsplit(link).path, data=forms[index])

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        statuses = sorted(answer.status_code for answer in answers.values())
        assert statuses == [303, 410], [a.text[:300] for a in answers.values()]
        used = next(a for a in answers.values() if a.status_code == 410)
        assert 'data-reason="used"' in used.text and "already been used" in used.text
        winner = next(i for i, a in answers.items() if a.status_code == 303)
        digest = stored_hash(pages, name)
        assert digest is not None and verify_password(digest, forms[winner]["password"])
