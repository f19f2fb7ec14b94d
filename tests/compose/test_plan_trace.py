"""The planner's own words for a watched person (SPEC §18 `explain`), and the people its issues
name. Pure: the planner alone, with a name book and group rules."""

from __future__ import annotations

from sync.compose.collisions import NameBook
from sync.compose.rules import NameRule
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import AccountState, DirectoryUser, IssueReason, Plan
from sync.model.trace import StepKind
from sync.planning.groups import rules_from
from sync.planning.plan import Planner, Policy, profile_of

RULE = NameRule.parse("email_local_part", None, DEFAULT_NAME_PATTERN)
GROUPS = rules_from(["staff"], [("admins", "system_admin", None)])
LOCATOR = (("dn", "uid=x,ou=people,dc=example,dc=com"), ("sAMAccountName", "x"))


def held(name: str, source_id: str) -> AccountState:
    user = DirectoryUser(source_id, True, f"{name}@a.example")
    return AccountState(9, name, name, True, False, profile_of(user).digest())


def plan_of(users: list[DirectoryUser], watch: set[str]) -> tuple[Plan, Planner]:
    accounts = {"old": held("taro", "old")}
    book = NameBook(held={"taro": ("old", "taro")}, reserved={"admin"})
    planner = Planner(accounts, book, Policy(RULE, groups=GROUPS), watch)
    for user in users:
        planner.add(user)
    return planner.finish(full_read=True), planner


def user(
    source_id: str,
    email: str | None,
    groups: set[str],
    display_name: str | None = None,
    employee_code: str | None = None,
) -> DirectoryUser:
    return DirectoryUser(source_id, True, email, groups=frozenset(groups),
                         display_name=display_name, employee_code=employee_code)  # fmt: skip


def kinds_and_texts(planner: Planner, source_id: str) -> list[tuple[StepKind, str]]:
    return [(step.kind, step.text) for step in planner.traces[source_id]]


def test_a_suffixed_name_says_who_held_it_and_the_role_group() -> None:
    _, planner = plan_of(
        [user("new", "Taro@A.Example", {"staff", "admins"}), user("other", "x@a.example", set())],
        {"new"},
    )
    steps = kinds_and_texts(planner, "new")
    kinds = [kind for kind, _ in steps]
    assert kinds[:3] == [StepKind.READ, StepKind.SCOPE, StepKind.ROLE]
    assert "in scope: member of staff" in steps[1][1]
    assert "role system_admin, from group admins" in steps[2][1]
    assert (StepKind.NAME, "lower-cased (lowercase_email_names): 'taro@a.example'") in steps
    assert (StepKind.COLLISION, "'taro' is taken by taro: suffixed to 'taro-2'") in steps
    assert "other" not in planner.traces  # only the watched person is told


def test_out_of_scope_and_issues_name_the_person() -> None:
    plan, planner = plan_of(
        [
            user("gone", "taro@a.example", set()),
            user("reserved", "admin@a.example", {"staff"}, display_name="Admin Person"),
            user("nomail", None, {"staff"}, employee_code="E1", display_name="No Mail"),
        ],
        {"gone", "reserved", "nomail"},
    )
    assert kinds_and_texts(planner, "gone")[1] == (
        StepKind.SCOPE,
        "out of scope: a member of none of staff",
    )
    issues = {issue.source_id: issue for issue in plan.issues}
    assert (StepKind.COLLISION, "'admin' is taken by admin (reserved): suffixed to 'admin-2'") in (
        kinds_and_texts(planner, "reserved")
    )
    assert issues["nomail"].reason == IssueReason.MISSING_ATTRIBUTE
    assert issues["nomail"].person == (("display_name", "No Mail"), ("employee_code", "E1"))
    assert (StepKind.ISSUE, "missing_attribute: primary_email") in kinds_and_texts(
        planner, "nomail"
    )


def test_a_conflict_names_the_person_with_the_locator() -> None:
    located = DirectoryUser(
        "new", True, "taro@b.example", display_name="Taro B", groups=frozenset({"staff"}),
        locator=LOCATOR,
    )  # fmt: skip
    accounts = {"old": held("taro", "old")}
    book = NameBook(held={"taro": ("old", "taro")})
    planner = Planner(accounts, book, Policy(RULE, "reject", groups=GROUPS), {"new"})
    planner.add(located)
    plan = planner.finish(full_read=False)
    [issue] = plan.issues
    assert (issue.reason, issue.detail) == (IssueReason.NAME_CONFLICT, "taro")
    assert issue.person_text() == (
        "Taro B, taro@b.example, dn uid=x,ou=people,dc=example,dc=com, sAMAccountName x"
    )
    assert (StepKind.COLLISION, "'taro' for a new account is taken by taro: name_conflict") in [
        (s.kind, s.text) for s in planner.traces["new"]
    ]


def test_an_ldap_dn_alone_survives_the_wait_for_names() -> None:
    """A claimant's locator is held packed while names are settled (plan._packed): a DN alone
    comes back as the pair it was, in the issue of a claim that lost its name."""
    dn_only = (("dn", "uid=y,ou=people,dc=example,dc=com"),)
    taken = DirectoryUser("new", True, "taro@b.example", groups=frozenset({"staff"}),
                          locator=dn_only)  # fmt: skip
    accounts = {"old": held("taro", "old")}
    book = NameBook(held={"taro": ("old", "taro")})
    planner = Planner(accounts, book, Policy(RULE, "reject", groups=GROUPS), set())
    planner.add(taken)
    [issue] = planner.finish(full_read=False).issues
    assert issue.person == (("email", "taro@b.example"), *dn_only)
