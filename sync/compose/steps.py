"""The naming rule's way to one person's name, told step by step for `explain` (SPEC §18).

The name itself is always NameRule.compose's: these steps only say which value the rule read and
what each normalisation made of it, with the same functions compose uses, so the last value told
is the one compose returns (tests/compose/test_name_steps.py holds that)."""

from __future__ import annotations

from sync.compose.normalize import normalize_email, normalize_text
from sync.compose.rules import EMAIL_SOURCES, Composed, NameRule, local_part
from sync.model import DirectoryUser


def name_steps(rule: NameRule, user: DirectoryUser) -> list[str]:
    """What the rule read and each normalisation, ending with compose's verdict."""
    if rule.source == "custom":
        steps = _template_steps(rule, user)
    elif rule.source == "employee_code":
        steps = _text_steps("employee_code", user.employee_code)
    else:
        attribute = (
            "primary_email" if rule.source == "email_local_part" else EMAIL_SOURCES[rule.source]
        )
        steps = _email_steps(rule, attribute, user.attribute(attribute))
    verdict = rule.compose(user)
    if isinstance(verdict, Composed):
        steps.append(f"the name pattern {rule.pattern.pattern!r} allows {verdict.name!r}")
    else:
        steps.append(f"no name: {verdict.reason}: {verdict.detail}")
    return steps


def _said(value: str | None) -> str:
    return "nothing" if value is None else repr(value)


def _text_steps(attribute: str, raw: str | None) -> list[str]:
    steps = [f"rule {attribute!r} reads {attribute} = {_said(raw)}"]
    normal = normalize_text(raw)
    if raw is not None and normal != raw:
        steps.append(f"NFKC and trimmed: {_said(normal)}")
    return steps


def _email_steps(rule: NameRule, attribute: str, raw: str | None) -> list[str]:
    steps = [f"rule {rule.source!r} reads {attribute} = {_said(raw)}"]
    address = normalize_email(raw)
    if raw is not None and address != raw:
        steps.append(f"NFKC, trimmed, domain lower-cased: {_said(address)}")
    if address is None:
        return steps
    if rule.lowercase_email and address != address.lower():
        address = address.lower()
        steps.append(f"lower-cased (lowercase_email_names): {address!r}")
    if rule.source == "email_local_part":
        steps.append(f"the part before the @: {_said(local_part(address))}")
    return steps


def _template_steps(rule: NameRule, user: DirectoryUser) -> list[str]:
    fields = [field for _, field in rule.template if field]
    template = "".join(lit + (f"{{{field}}}" if field else "") for lit, field in rule.template)
    steps = [f"rule 'custom' fills the template {template!r}"]
    for field in fields:
        if field == "email_local_part":
            address = normalize_email(user.primary_email)
            value = local_part(address) if address else None
            steps.append(
                f"{{email_local_part}} from primary_email {_said(user.primary_email)}: "
                f"{_said(value)}"
            )
            continue
        raw = user.attribute(field)
        normal = normalize_text(raw)
        shown = f" (NFKC and trimmed: {_said(normal)})" if raw is not None and normal != raw else ""
        steps.append(f"{{{field}}} = {_said(raw)}{shown}")
    return steps
