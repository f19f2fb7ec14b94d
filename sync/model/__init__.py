"""The domain's ground floor (ARCHITECTURE.md): typed, named objects and closed vocabularies that
every layer above shares and none of which knows a database, a network or a clock."""

from sync.model.account import Account
from sync.model.changes import (
    ENDED,
    GONE,
    INACTIVE,
    NO_DATES,
    OUT_OF_SCOPE,
    AccountState,
    Change,
    Dates,
    Plan,
    sends_invitation,
)
from sync.model.directory import (
    DIRECTORY_ATTRIBUTES,
    PROFILE_ATTRIBUTES,
    SINGLE_ATTRIBUTES,
    TEXT_ATTRIBUTES,
    DirectoryUser,
    user_from,
)
from sync.model.enums import AccountStatus, Action, IssueReason, Role, RunStatus
from sync.model.issues import Person, UserIssue, person_label, person_text
from sync.model.profile import PROFILE_FIELDS, Profile, ProfileValues, digest_of

__all__ = [
    "DIRECTORY_ATTRIBUTES",
    "ENDED",
    "GONE",
    "INACTIVE",
    "NO_DATES",
    "OUT_OF_SCOPE",
    "PROFILE_ATTRIBUTES",
    "PROFILE_FIELDS",
    "SINGLE_ATTRIBUTES",
    "TEXT_ATTRIBUTES",
    "Account",
    "AccountState",
    "AccountStatus",
    "Action",
    "Change",
    "Dates",
    "DirectoryUser",
    "IssueReason",
    "Person",
    "Plan",
    "Profile",
    "ProfileValues",
    "Role",
    "RunStatus",
    "UserIssue",
    "digest_of",
    "person_label",
    "person_text",
    "sends_invitation",
    "user_from",
]
