"""The `clomo-sync` command line (SPEC §7).

Exit status: 0 success, 1 a tenant's run failed, 2 usage or configuration error, 3 a run was
blocked by a safety threshold.

Command modules import only click and light modules at the top: pydantic, SQLAlchemy and the
rest are imported inside the commands, so `--help` answers at once
(tests/cli/test_cli_help.py checks it).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sync.config.env import config_path
from sync.errors import ConfigError, StopRun, UsageError
from sync.ops import progress

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from sync.config.settings import Settings, TenantSettings
    from sync.model.actor import Actor

EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED = 1, 2, 3


@dataclass
class App:
    """What every command shares: the configuration, loaded once, and the store, opened once."""

    config: Path
    metrics_file: Path | None = None
    _settings: Settings | None = None
    _engine: Engine | None = field(default=None, repr=False)

    _file_settings: Settings | None = None
    # a dry run's: the store is only read (sync.store.engine.open_reader), nothing provisioned
    read_only: bool = False

    @property
    def file_settings(self) -> Settings:
        """The configuration file as written (its tenants not yet read from the store)."""
        if self._file_settings is None:
            from sync.config.settings import load_settings
            from sync.ops.logs import redact_settings

            self._file_settings = load_settings(self.config)
            redact_settings(self._file_settings)
        return self._file_settings

    @property
    def settings(self) -> Settings:
        """The configuration with the store's tenants (SPEC §11: every command reads them)."""
        if self._settings is None:
            from sync.ops.logs import redact_settings
            from sync.services.tenants import as_provisioned, with_store_tenants

            if self.read_only:  # a dry run: the store's tenants as provisioning would leave them
                self._settings = as_provisioned(self.file_settings, self.engine)
            else:
                self._settings = with_store_tenants(self.file_settings, self.engine)
            redact_settings(self._settings)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from sync.services import storage

            url = self.file_settings.database.url
            self._engine = storage.for_reading(url) if self.read_only else storage.for_writing(url)
        return self._engine

    @property
    def operator(self) -> Actor:
        """Who runs this command, for the audit: $USER (SPEC §10), else the login name."""
        import getpass

        from sync.model.actor import Actor

        name = os.environ.get("USER")
        if not name:
            try:
                name = getpass.getuser()
            except (OSError, KeyError):  # no login name on this machine
                name = "unknown"
        return Actor.admin(name)

    def tenant(self, tenant_id: str) -> TenantSettings:
        """The configured tenant; an unknown id is a usage error (exit 2) naming the known ones.
        Every command taking --tenant goes through here."""
        return self.settings.tenant(tenant_id)

    def write_metrics(self) -> None:
        """`--metrics-file`: the Prometheus textfile, rewritten after runs."""
        if self.metrics_file is not None:
            from sync.ops.metrics import write_metrics

            write_metrics(self.metrics_file, self.engine, self.settings)


def _print_version(ctx: click.Context) -> None:
    from sync.services.about import about

    click.echo("\n".join(about()))
    ctx.exit()


@click.group()
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help="Configuration file [default: $CLOMO_SYNC_CONFIG, then config/clomo-sync.toml].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to standard error.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text or as JSON objects, one per line.",
)
@click.option(
    "--metrics-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="PATH",
    help="Write Prometheus text-format metrics here after each run (node exporter textfile).",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_version(ctx) if value else None,
    help="Show the version and the LDAP read path in use, and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    verbose: bool,
    log_format: str,
    metrics_file: Path | None,
) -> None:
    """Keeps each tenant's CLOMO accounts in step with its user directory."""
    from sync.ops.logs import configure_logging

    configure_logging(log_format, logging.INFO if verbose else logging.WARNING)
    progress.enable(log_format == "text")
    ctx.obj = App(config_path(config), metrics_file)


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 tenant`, `2 tenants`, `0 emails` (`many` for words not made plural by an s)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def main() -> None:
    sys.exit(run())


def run(argv: list[str] | None = None) -> int:
    """Runs one command; maps the worker's errors to SPEC §7's exit statuses."""
    try:
        cli.main(args=argv, prog_name="clomo-sync", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_FAILED
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"configuration error: {problem}", err=True)
        return EXIT_USAGE
    except UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except StopRun as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILED
    return 0


def _register() -> None:
    from sync.entry.cli import (
        accounts,
        audit,
        changes,
        explain,
        fleet,
        maintenance,
        ops,
        syncing,
        tenants,
        web,
    )

    cli.add_command(syncing.sync_command)
    cli.add_command(syncing.deliver_command)
    cli.add_command(explain.explain_command)
    cli.add_command(accounts.accounts)
    cli.add_command(maintenance.runs)
    cli.add_command(changes.changes)
    cli.add_command(maintenance.config_group)
    cli.add_command(maintenance.db)
    cli.add_command(ops.scheduler_command)
    cli.add_command(ops.health_command)
    cli.add_command(web.web_command)
    cli.add_command(tenants.tenants_group)
    cli.add_command(fleet.worker_command)
    cli.add_command(audit.audit_group)


_register()
