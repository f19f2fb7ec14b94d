"""What the romaji filters cost (SPEC §18: at most 5 % of a 100,000-person full run).

One CSV of N people with kanji names, kana readings and the readings' romaji in plain columns;
two tenants on it that give every person the same name: `plain` from the romaji columns
(`{family_name}.{given_name}{employee_code}`), `romaji` from the readings through the filters
(`{family_name_yomi|romaji}.{given_name_yomi|romaji}{employee_code}`). Each full run is
`clomo-sync sync --full` into a new SQLite store, the two alternating, RUNS pairs; then the
compose step alone, in this process, over the same people. Medians of wall and CPU seconds.

    .venv/bin/python bench/romaji.py [--users 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sync.compose import romaji
from sync.compose.romaji import to_romaji
from sync.compose.rules import NameRule
from sync.model import DirectoryUser

ROOT = Path(__file__).resolve().parents[1]
# Readings are made of these, as many distinct ones as a large company has: every person's
# reading is shared with about 9 others (family) or 4 (given). Real directories repeat more
# (a few surnames are a large share of any staff), so this is the harder case for a cache.
SYLLABLES = (
    "サ", "ト", "ウ", "スズ", "キ", "タカ", "ハシ", "ナカ", "ムラ", "ヤマ", "ダ", "イ",
    "ノ", "エ", "ホン", "マ", "ハッ", "トリ", "オオ", "キョウ", "ゴク", "ジュン",
    "ペイ", "シン", "イチ", "ユウ", "リュウ", "チヒ", "ロ", "ケン", "ショウ", "ミ", "ッチャ",
)  # fmt: skip
DISTINCT_FAMILY, DISTINCT_GIVEN = 10_000, 25_000
TEMPLATES = {
    "plain": "{family_name}.{given_name}{employee_code}",
    "romaji": "{family_name_yomi|romaji}.{given_name_yomi|romaji}{employee_code}",
}
COLUMNS = ("source_id", "primary_email", "employee_code", "family_name", "given_name",
           "display_name", "emails", "family_name_yomi", "given_name_yomi")  # fmt: skip


def readings(count: int, seed: int) -> list[str]:
    chosen = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        found.setdefault("".join(chosen.choices(SYLLABLES, k=chosen.randint(2, 4))), None)
    return list(found)


def people(count: int) -> list[dict[str, str]]:
    families, givens = readings(DISTINCT_FAMILY, 1), readings(DISTINCT_GIVEN, 2)
    rows = []
    for n in range(count):
        family, given = families[n % len(families)], givens[(n * 7) % len(givens)]
        code = f"{n:06d}"
        rows.append(
            {
                "source_id": f"p-{n:06d}",
                "primary_email": f"p{n}@example.com",
                "employee_code": code,
                "family_name": to_romaji(family),
                "given_name": to_romaji(given),
                "display_name": f"{family} {given}",
                "emails": "",
                "family_name_yomi": family,
                "given_name_yomi": given,
            }
        )
    return rows


def write_files(folder: Path, rows: list[dict[str, str]]) -> None:
    with (folder / "people.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for name, template in TEMPLATES.items():
        (folder / f"{name}.toml").write_text(
            f'[database]\nurl = "sqlite:///{name}.db"\n[mail]\noutbox_dir = "outbox-{name}"\n'
            f'[[tenants]]\nid = "{name}"\nauth_type = "saml"\naccount_name_source = "custom"\n'
            f'custom_template = "{template}"\nmax_disable = 0\nmax_rename = 0\nmax_clear = 0\n'
            '[tenants.source]\nkind = "csv"\npath = "people.csv"\n',
            encoding="utf-8",
        )


def full_run(folder: Path, name: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one full run into a new store. The CPU time (the child's
    user + system) is what the run itself spent: on a shared machine the wall time also holds
    the waits for a core that other work had."""
    (folder / f"{name}.db").unlink(missing_ok=True)
    command = [sys.executable, "-m", "sync", "--config", str(folder / f"{name}.toml")]
    subprocess.run([*command, "db", "upgrade"], check=True, capture_output=True, cwd=ROOT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "sync", "--tenant", name, "--full", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or '"created": ' not in done.stdout:
        raise SystemExit(f"{name}: {done.stdout}{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def compose_seconds(rows: list[dict[str, str]], template: str) -> float:
    users = [DirectoryUser(**{k: v for k, v in row.items() if k != "emails"}) for row in rows]
    rule = NameRule.parse("custom", template, r"[A-Za-z0-9._@+\-]{1,128}")
    romaji.as_written.cache_clear()  # as in a run's new process: nothing remembered yet
    started = time.process_time()
    names = [rule.compose(user) for user in users]
    seconds = time.process_time() - started
    assert len(names) == len(users)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = people(args.users)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_files(folder, rows)
        wall: dict[str, list[float]] = {name: [] for name in TEMPLATES}
        cpu: dict[str, list[float]] = {name: [] for name in TEMPLATES}
        for pair in range(args.runs):
            order = list(TEMPLATES) if pair % 2 == 0 else list(reversed(TEMPLATES))
            for name in order:
                seconds, spent = full_run(folder, name)
                wall[name].append(seconds)
                cpu[name].append(spent)
                print(f"pair {pair + 1}: {name} {seconds:.2f} s, CPU {spent:.2f} s", flush=True)
    for label, times in (("wall", wall), ("CPU", cpu)):
        plain, romaji_ = (statistics.median(times[name]) for name in TEMPLATES)
        print(f"full run {label} time, median of {args.runs}: plain {plain:.2f} s, "
              f"romaji {romaji_:.2f} s, {(romaji_ / plain - 1) * 100:+.1f} %")  # fmt: skip
    compose = {
        name: statistics.median(compose_seconds(rows, t) for _ in range(5))
        for name, t in TEMPLATES.items()
    }
    print(f"compose only (CPU), median of 5: plain {compose['plain']:.3f} s, "
          f"romaji {compose['romaji']:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
