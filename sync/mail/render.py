"""Turning an outbox row into a MIME message: Japanese and English, plain text and HTML.

Templates are looked up in the tenant's `templates_dir`, then the defaults (config/templates in a
checkout, sync/templates in an installed wheel). User-supplied values are escaped in HTML, and no
header is ever built from a value holding a line break.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = (PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "config" / "templates")
ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class RenderError(ValueError):
    """The message cannot be built safely (a bad address, a header with a line break)."""


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
    env = _environment(letter.templates_dir)
    context = _context(letter)
    subject = env.get_template(f"{letter.kind}.subject.j2").render(context).strip()
    text = env.get_template(f"{letter.kind}.txt.j2").render(context)
    html = env.get_template(f"{letter.kind}.html.j2").render(context)
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


def _context(letter: Letter) -> dict[str, Any]:
    params = json.loads(letter.params_json)
    # user-supplied text: no control characters (a display name cannot break a line of the body)
    context = {k: CONTROL.sub(" ", v) if isinstance(v, str) else v for k, v in params.items()}
    context["expires_hours"] = f"{letter.token_ttl_hours:g}"
    if letter.token is not None and letter.reset_url:
        context["link"] = letter.reset_url.replace("{token}", letter.token)
    return context


def _address(value: str) -> str:
    if not ADDR_SPEC.match(value) or CONTROL.search(value):
        raise RenderError(f"{value!r} is not a plain email address")
    return value


def _encoded(value: str, name: str) -> str:
    """RFC 2047 encoded words, folded so no line passes 78 characters."""
    return Header(value, "utf-8", header_name=name).encode()


def _sender(from_address: str) -> str:
    name, address = parseaddr(_header_value(from_address, "from address"))
    return formataddr((name, _address(address)), charset="utf-8")


def _header_value(value: str, what: str) -> str:
    if CONTROL.search(value):
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
