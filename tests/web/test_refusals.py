"""Each refusal the console shows has its Japanese sentence (SPEC §12), keeping the names."""

from __future__ import annotations

import pytest

from sync.entry.web.refusals import GENERAL, in_japanese


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("cannot rename 'user4' to 'user2': taken by u-00002 (user2)",
         "user4 を user2 に変更できません：u-00002 (user2) が使っている名前です。"),
        ("tenant 'acme' has no account named 'ghost'",
         "ghost という名前のアカウントはありません。"),
        ("tenant 'acme' is being synced; nothing was changed: try again after the run",
         "同期の実行中のため、何も変更していません。同期が終わってからもう一度お試しください。"),
        ("the confirmation does not match the password", "確認用のパスワードが一致しません。"),
        ("change set 1a2b3c4d is expired (expired: not decided within 72 hours): only a pending "
         "set can be decided",
         "この変更セットは、後の同期で不要になったか"
         "期限が切れたため、承認できません。"),
        ("change set 1a2b3c4d is approved by admin:user1: only a pending set can be decided",
         "この変更セットはすでに決定済みのため、承認・却下できません。"),
        ("something no table names", GENERAL),
    ],
)  # fmt: skip
def test_a_refusal_is_said_in_japanese(english: str, japanese: str) -> None:
    assert in_japanese(english) == japanese
