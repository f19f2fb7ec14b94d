"""The console says each refusal in Japanese as well as in English (SPEC §12: Japanese and
English). The services word their refusals in English, naming the input; this table gives the
Japanese sentence for each kind of refusal an administrator meets in the console, keeping the
names from the English one. A refusal not in the table gets a general Japanese sentence, and
its English detail beside it, never nothing."""

from __future__ import annotations

import re

_NAME = r"'(?P<name>[^']*)'"
# (what the English refusal says, its Japanese); {name}, {new} and {holder} from the match
_TABLE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), japanese)
    for pattern, japanese in (
        (
            r"is being synced; nothing was changed",
            "同期の実行中のため、何も変更していません。同期が終わってからもう一度お試しください。",
        ),
        (
            rf"cannot rename {_NAME} to '(?P<new>[^']*)': taken by (?P<holder>.+)$",
            "{name} を {new} に変更できません：{holder} が使っている名前です。",
        ),
        (
            rf"cannot rename {_NAME}: ",
            "{name} の名前を変更できません：使えない名前です。",
        ),
        (
            rf"has no account named {_NAME}",
            "{name} という名前のアカウントはありません。",
        ),
        (
            rf"password for {_NAME} refused",
            "このパスワードは使えません（条件は英語の説明をご覧ください）。",
        ),
        (
            r"the confirmation does not match the password",
            "確認用のパスワードが一致しません。",
        ),
        (
            rf"account {_NAME} signs in with",
            "{name} は外部認証でサインインするため、CLOMO のパスワードはありません。",
        ),
        (
            rf"account {_NAME} is disabled",
            "{name} は無効なアカウントのため、リセットリンクは使えません。",
        ),
        (
            rf"account {_NAME} has no primary address",
            "{name} にはメールアドレスがありません。",
        ),
        (
            r"^the memo ",
            "メモに使えない文字が含まれているか、長すぎます。",
        ),
        (
            r"(unknown privilege|permission scheme|--scheme)",
            "権限またはアクセス権スキームの指定が正しくありません。",
        ),
        (
            r"provisioned from the configuration file",
            "このテナントは設定ファイルで管理されているため、ここでは変更できません。",
        ),
        (
            r"is (superseded|expired)",
            "この変更セットは、後の同期で不要になったか期限が切れたため、承認できません。",
        ),
        (
            r"only a pending set can be decided",
            "この変更セットはすでに決定済みのため、承認・却下できません。",
        ),
    )
)
GENERAL = "次の理由により実行できませんでした。"


def in_japanese(refusal: str) -> str:
    """The refusal's Japanese sentence (the general one when the table has none)."""
    for pattern, japanese in _TABLE:
        found = pattern.search(refusal)
        if found:
            return japanese.format(**found.groupdict())
    return GENERAL
