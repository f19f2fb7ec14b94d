"""`web`: serve the self-service password pages (docs/web.md)."""

from __future__ import annotations

import logging
import signal
import socket

import click

from sync.entry.cli import App
from sync.errors import UsageError


@click.command("web")
@click.option("--host", default=None, help="Address to listen on [default: web.host, 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on [default: web.port, 8080]; 0 picks a free one.",
)
@click.pass_obj
def web_command(app: App, host: str | None, port: int | None) -> None:
    """Serve the password pages and the administrators' console until stopped (SIGINT, SIGTERM)."""
    import uvicorn

    from sync.entry.web.app import create_app
    from sync.entry.web.paths import reset_paths

    settings = app.settings
    paths = reset_paths(settings)
    if not paths and not any(t.source.kind == "scim" for t in settings.tenants):
        raise UsageError(
            "no tenant has a reset_url with a {token} query parameter, or a scim source, to serve"
        )
    asgi = create_app(settings, app.engine)
    sock = _listen(host or settings.web.host, settings.web.port if port is None else port)
    logging.getLogger("sync.entry.web").setLevel(logging.INFO)
    config = uvicorn.Config(
        asgi,
        access_log=False,  # ours (sync.entry.web.access) leaves out query strings, where tokens are
        log_config=None,
        proxy_headers=bool(settings.web.trusted_proxies),  # none trusted: headers ignored
        forwarded_allow_ips=list(settings.web.trusted_proxies),
        server_header=False,
        lifespan="off",
    )
    bound_host, bound_port = sock.getsockname()[:2]
    where = f"[{bound_host}]" if ":" in bound_host else bound_host
    click.echo(
        f"serving the password pages on http://{where}:{bound_port}/ "
        f"(reset links at {', '.join(sorted(paths))}; the console at /admin/TENANT/)"
    )
    from sync.services.audit_stream import streaming

    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it
    # found: with the default one the process died there, before the audit stream let its lease
    # go. A handler that does nothing lets `run` return (exit status 0).
    signal.signal(signal.SIGTERM, lambda _number, _frame: None)
    with streaming(settings, app.engine):
        uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that `--port 0` can say which port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it a kept-alive connection's small writes waited 40 ms for delayed ACKs
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
