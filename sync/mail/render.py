"""Turning an outbox row into a MIME message: Japanese and English, plain text and HTML.

Templates are looked up in the tenant's `templates_dir`, then the defaults (config/templates in a
checkout, sync/templates in an installed wheel). User-supplied values are cleaned once, in
`clean` (every value of the message's context goes through it before any template sees it), and
escaped in HTML; no header is ever built from a value holding a line break.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.errors import RenderError

if TYPE_CHECKING:
    import jinja2

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = (PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "config" / "templates")
ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+$")
# C0 and C1 controls (U+0085 NEXT LINE among them) and the line and paragraph separators
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# format characters that are kept: the zero-width (non-)joiners belong in some scripts and emoji
KEPT_FORMAT = frozenset("\u200c\u200d")

__all__ = ["Letter", "RenderError", "clean", "render"]


@dataclass(frozen=True, slots=True)
class Letter:
    """What render needs of an outbox row and its tenant."""

    kind: str
    to_address: str
    message_id: str
    params_json: str
    token: str | None
    reset_url: str | None
    token_ttl_hours: float
    templates_dir: Path | None


def render(letter: Letter, from_address: str) -> Message:
    """The message, built with the classic MIME classes: the header registry of
    `EmailMessage` costs ten times as much per message, which matters at 100,000 new accounts."""
    context = _context(letter)
    subject = _filled(letter, "subject", context).strip()
    text = _filled(letter, "txt", context)
    html = _filled(letter, "html", context)
    message = MIMEMultipart("alternative")
    message["Subject"] = _encoded(_header_value(subject, "subject"), "Subject")
    message["From"] = _sender(from_address)
    message["To"] = _address(letter.to_address)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = _header_value(letter.message_id, "message id")
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    return message


def _filled(letter: Letter, part: str, context: dict[str, Any]) -> str:
    """One template filled in; a template that cannot be (missing, broken, or needing a value
    this message lacks) fails this message alone instead of every delivery."""
    import jinja2

    name = f"{letter.kind}.{part}.j2"
    try:
        return _environment(letter.templates_dir).get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name}: {type(exc).__name__}: {exc}") from None


def _context(letter: Letter) -> dict[str, Any]:
    params = json.loads(letter.params_json)
    context = {k: clean(v) if isinstance(v, str) else v for k, v in params.items()}
    context["expires_hours"] = f"{letter.token_ttl_hours:g}"
    if letter.token is not None and letter.reset_url:
        context["link"] = letter.reset_url.replace("{token}", letter.token)
    return context


def clean(value: str) -> str:
    """A user-supplied value as a message may show it: a control character (C0, C1, U+2028/2029)
    becomes a space, so a display name cannot break a line of the subject or body; a format
    character (bidi controls such as U+202E, zero-width spaces) is removed, so it cannot make
    text read in another order than it is."""
    spaced = CONTROL.sub(" ", value)
    return "".join(ch for ch in spaced if ch in KEPT_FORMAT or unicodedata.category(ch) != "Cf")


def _address(value: str) -> str:
    if not ADDR_SPEC.match(value) or clean(value) != value:
        raise RenderError(f"{value!r} is not a plain email address")
    return value


def _encoded(value: str, name: str) -> str:
    """RFC 2047 encoded words, folded so no line passes 78 characters."""
    return Header(value, "utf-8", header_name=name).encode()


def _sender(from_address: str) -> str:
    name, address = parseaddr(_header_value(from_address, "from address"))
    return formataddr((name, _address(address)), charset="utf-8")


def _header_value(value: str, what: str) -> str:
    if clean(value) != value:
        raise RenderError(f"the {what} contains a line break or control character")
    return value


@lru_cache(maxsize=64)
def _environment(templates_dir: Path | None) -> jinja2.Environment:
    # imported here: a sync run loads the templates only after its write, so Jinja's memory
    # is not added to the run's peak
    import jinja2

    search = [str(d) for d in (templates_dir, *DEFAULT_DIRS) if d is not None]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
