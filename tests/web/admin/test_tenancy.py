"""No tenant's data through another tenant's console: every route tried with the other
tenant's path, ids and names, signed in and anonymous (SPEC §12)."""

from __future__ import annotations

import json

import pytest

from tests.web.admin.conftest import Console, csrf_of

GET_ROUTES = ("", "/", "/settings", "/accounts", "/accounts/user1", "/runs", "/changes")
POST_ROUTES = ("/settings/preview", "/settings/save", "/accounts/user1/edit",
               "/accounts/user1/reset", "/runs/resync")  # fmt: skip


@pytest.fixture
def beta_ids(console: Console) -> tuple[str, str]:
    """(a run id of beta, a pending change set of beta): beta renames too many at once."""
    ws = console.pages.ws
    ws.extra_tenants[0].update(account_name_source="employee_code", max_rename=1)
    ws.configure()
    blocked = ws.cli("sync", "--tenant", "beta", "--json")
    assert blocked.code == 3, blocked.out
    report = json.loads(blocked.out)
    return report["run_id"], report["held"][0]["change_set"]


def test_a_stranger_is_sent_to_the_tenants_sign_in(
    console: Console, beta_ids: tuple[str, str]
) -> None:
    run_id, set_id = beta_ids
    client = console.client()
    csrf = csrf_of(client.get("/admin/beta/login").text)
    gets = [*GET_ROUTES, f"/runs/{run_id}", f"/changes/{set_id}"]
    posts = [*POST_ROUTES, f"/changes/{set_id}/approve", f"/changes/{set_id}/reject"]
    for path in gets:
        answer = client.get("/admin/beta" + path)
        assert answer.status_code in (302, 303), path
        assert answer.headers["location"] in ("/admin/beta/login", "/admin/beta/accounts"), path
    for path in posts:
        answer = client.post("/admin/beta" + path, data={"csrf": csrf, "name": "x"})
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/beta/login"), path
    assert _set_status(console, set_id) == "pending"


def test_another_tenants_administrator_is_a_stranger_here(
    console: Console, beta_ids: tuple[str, str]
) -> None:
    """Signed in to acme: beta's pages send to beta's sign-in; beta's ids and names through
    acme's pages are unknown (404), and nothing of beta changes."""
    run_id, set_id = beta_ids
    client = console.signed_in("acme", "user1")
    csrf = csrf_of(client.get("/admin/acme/accounts").text)
    for path in [*GET_ROUTES, f"/runs/{run_id}", f"/changes/{set_id}"]:
        answer = client.get("/admin/beta" + path)
        assert answer.status_code in (302, 303), path
        if path not in ("", "/"):
            assert answer.headers["location"] == "/admin/beta/login", path
    for path in [*POST_ROUTES, f"/changes/{set_id}/approve", f"/changes/{set_id}/reject"]:
        answer = client.post("/admin/beta" + path, data={"csrf": csrf, "name": "hijack"})
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/beta/login"), path

    assert client.get(f"/admin/acme/runs/{run_id}").status_code == 404
    assert client.get(f"/admin/acme/changes/{set_id}").status_code == 404
    for decision in ("approve", "reject"):
        answer = client.post(f"/admin/acme/changes/{set_id}/{decision}", data={"csrf": csrf})
        assert answer.status_code == 404
    assert _set_status(console, set_id) == "pending"
    # user7 exists only in beta
    assert client.get("/admin/acme/accounts/user7").status_code == 404
    edit = client.post("/admin/acme/accounts/user7/edit", data={"csrf": csrf, "memo": "x"})
    assert edit.status_code == 404
    reset = client.post("/admin/acme/accounts/user7/reset", data={"csrf": csrf})
    assert reset.status_code == 404
    listing = client.get("/admin/acme/accounts?q=user7").text
    assert "none-found" in listing
    runs = client.get("/admin/acme/runs").text
    assert run_id not in runs
    assert set_id not in client.get("/admin/acme/changes").text
    beta = console.pages.ws.cli("accounts", "show", "--tenant", "beta", "user7", "--json")
    assert json.loads(beta.out)["memo"] is None


def test_an_unknown_tenant_is_not_found(console: Console) -> None:
    client = console.signed_in()
    for path in ("/admin/nobody/login", "/admin/nobody/accounts", "/admin/ACME/accounts",
                 "/admin/" + "a" * 300 + "/login"):  # fmt: skip
        assert client.get(path).status_code == 404, path


def _set_status(console: Console, set_id: str) -> str:
    shown = console.pages.ws.cli("changes", "list", "--tenant", "beta", "--json")
    sets: dict[str, str] = {s["id"]: s["status"] for s in json.loads(shown.out)}
    return sets[set_id]
