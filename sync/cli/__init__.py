"""The `clomo-sync` command line (SPEC §7).

Exit status: 0 success, 1 a tenant's run failed, 2 usage or configuration error, 3 a run was
blocked by a safety threshold.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from sqlalchemy import Engine

from sync.config import Settings, config_path, load_settings
from sync.errors import ConfigError, StopRun, UsageError
from sync.store.engine import open_store

EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED = 1, 2, 3


@dataclass
class App:
    """What every command shares: the configuration, loaded once, and the store, opened once."""

    config: Path
    _settings: Settings | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_store(self.settings.database.url)
        return self._engine


@click.group()
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help="Configuration file [default: $CLOMO_SYNC_CONFIG, then config/clomo-sync.toml].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to standard error.")
@click.version_option(package_name="clomo-sync")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: bool) -> None:
    """Keeps each tenant's CLOMO accounts in step with its user directory."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = App(config_path(config))


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
    from sync.cli import accounts, admin, syncing, web

    cli.add_command(syncing.sync_command)
    cli.add_command(syncing.deliver_command)
    cli.add_command(accounts.accounts)
    cli.add_command(admin.runs)
    cli.add_command(admin.config_group)
    cli.add_command(admin.db)
    cli.add_command(web.web_command)


_register()
