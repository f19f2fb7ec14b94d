"""The Dockerfile and jobs/: each parses, and every clomo-sync command line in them is accepted
by the real command-line parser (no Docker engine or cluster runs here)."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import tomllib
from typing import Any

import pytest
import yaml

from sync.config.settings import Settings
from sync.entry.cli import run as run_cli
from sync.planning.schedule import schedule_trigger
from tests.ops.conftest import REPO

JOBS = REPO / "jobs"
README_INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q ."
VENV_BIN = "/opt/clomo-sync/.venv/bin/clomo-sync"


def accepted(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Asks the real parser: with --help appended, every group option is checked and converted,
    each command name resolved, and the last command's options matched by name and arity."""
    capsys.readouterr()
    code = run_cli([*args, "--help"])
    out, err = capsys.readouterr()
    assert code == 0, f"clomo-sync {shlex.join(args)}: {err}"
    return out.splitlines()[0]  # "Usage: clomo-sync COMMAND ..." of the command reached


def test_an_unknown_option_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above can fail."""
    with pytest.raises(AssertionError):
        accepted(["sync", "--everything"], capsys)
    with pytest.raises(AssertionError):
        accepted(["--log-format", "xml", "sync"], capsys)
    with pytest.raises(AssertionError):
        accepted(["schedule"], capsys)


def dockerfile() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile(capsys: pytest.CaptureFixture[str]) -> None:
    steps = dockerfile()
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM"
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", steps[0][1])
    assert set(keywords) <= {
        "FROM", "ENV", "WORKDIR", "COPY", "RUN", "USER", "VOLUME", "HEALTHCHECK", "STOPSIGNAL",
        "ENTRYPOINT", "CMD", "ARG", "LABEL", "EXPOSE",
    }  # fmt: skip
    assert (README_INSTALL) in (REPO / "README.md").read_text(encoding="utf-8")
    assert ("RUN", README_INSTALL) in steps  # installed exactly as the README says
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") > keywords.index("RUN")
    entrypoint = json.loads(dict(steps)["ENTRYPOINT"])
    command = json.loads(dict(steps)["CMD"])
    assert entrypoint == ["clomo-sync"] and command == ["scheduler"]
    assert accepted(command, capsys).startswith("Usage: clomo-sync scheduler")
    health = dict(steps)["HEALTHCHECK"]
    check = json.loads(health.split(" CMD ", 1)[1])
    assert check[0] == "clomo-sync"
    assert accepted(check[1:], capsys).startswith("Usage: clomo-sync health")
    for copied in (v.split()[:-1] for k, v in steps if k == "COPY"):
        for source in copied:
            assert (REPO / source).exists(), source
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and ".git" in ignored


def test_crontab_line(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        line
        for line in (JOBS / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^\w+=", line)
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 6)
    schedule_trigger(" ".join(fields[:5]), "UTC")  # five valid crontab fields
    assert fields[5] == "clomo"  # /etc/cron.d lines name the user
    assert "%" not in fields[6]  # cron would turn it into a newline
    words = shlex.split(fields[6])
    start = words.index(VENV_BIN)
    end = next(i for i, w in enumerate(words) if i > start and w.startswith(">"))
    assert accepted(words[start + 1 : end], capsys).startswith("Usage: clomo-sync sync")


def manifests() -> list[dict[str, Any]]:
    documents = []
    for path in sorted((JOBS / "kubernetes").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return documents


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_kubernetes_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    documents = manifests()
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) >= {"ConfigMap", "CronJob", "Deployment", "StatefulSet", "Service"}
    for document in documents:
        assert document["apiVersion"] and document["metadata"]["name"]
    cronjob = kinds["CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    schedule_trigger(cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"])
    config = yaml.safe_dump(kinds["ConfigMap"]["data"])
    settings = _settings_from(kinds["ConfigMap"]["data"]["clomo-sync.toml"])
    assert settings.database.url.startswith("postgresql+psycopg://"), config
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > settings.fleet.stop_timeout_seconds
    assert deployment["spec"]["replicas"] >= 2
    budget = kinds["PodDisruptionBudget"]["spec"]
    assert budget["selector"] == deployment["spec"]["selector"]
    assert budget["maxUnavailable"] < deployment["spec"]["replicas"]
    ports = [p["containerPort"] for c in containers(deployment) for p in c.get("ports", [])]
    assert settings.fleet.metrics_port in ports
    reached = []
    for document in documents:
        if document["kind"] not in ("CronJob", "Deployment"):
            continue
        for container in containers(document):
            assert container["image"].startswith("clomo-sync:")
            assert "command" not in container  # the image's ENTRYPOINT is clomo-sync
            reached.append(accepted(container["args"], capsys))
            for probe in ("livenessProbe", "readinessProbe"):
                if probe in container:
                    argv = container[probe]["exec"]["command"]
                    assert argv[0] == "clomo-sync"
                    reached.append(accepted(argv[1:], capsys))
    assert any(r.startswith("Usage: clomo-sync worker") for r in reached)
    assert any(r.startswith("Usage: clomo-sync sync") for r in reached)
    assert any(r.startswith("Usage: clomo-sync health") for r in reached)
    names = {d["metadata"]["name"] for d in documents if d["kind"] == "Service"}
    assert "@postgres:5432/" in settings.database.url and "postgres" in names


def _settings_from(toml_text: str) -> Settings:
    return Settings.model_validate(tomllib.loads(toml_text))


def test_compose_file(capsys: pytest.CaptureFixture[str]) -> None:
    compose = yaml.safe_load((JOBS / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    scheduler = services["worker"]  # the fleet: two workers
    assert (JOBS / scheduler["build"]["context"] / scheduler["build"]["dockerfile"]).is_file()
    assert scheduler["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert accepted(scheduler["command"], capsys).startswith("Usage: clomo-sync worker")
    assert scheduler["deploy"]["replicas"] == 2
    assert accepted(services["sync"]["command"], capsys).startswith("Usage: clomo-sync sync")
    check = scheduler["healthcheck"]["test"]
    assert check[:2] == ["CMD", "clomo-sync"]
    assert accepted(check[2:], capsys).startswith("Usage: clomo-sync health")
    url = scheduler["environment"]["CLOMO_SYNC_DATABASE__URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((JOBS / "systemd" / name).read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize(
    ("name", "command"),
    [("clomo-sync.service", "sync"), ("clomo-sync-scheduler.service", "scheduler")],
)
def test_systemd_services(name: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    service = unit(name)
    assert service["Service"]["User"] == "clomo"
    words = shlex.split(service["Service"]["ExecStart"])
    assert words[0] == VENV_BIN
    assert accepted(words[1:], capsys).startswith(f"Usage: clomo-sync {command}")
    assert service["Service"]["WorkingDirectory"].startswith("/")


def test_systemd_timer() -> None:
    timer = unit("clomo-sync.timer")
    assert timer["Timer"]["Unit"] == "clomo-sync.service"
    assert (JOBS / "systemd" / timer["Timer"]["Unit"]).is_file()
    assert timer["Install"]["WantedBy"] == "timers.target"
    # systemd's own parser of calendar expressions (the systemd package is on these machines)
    checked = subprocess.run(
        ["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Next elapse" in checked.stdout
