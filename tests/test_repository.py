"""The repository stands on its own: no machine's absolute paths, and every cited source is in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|mnt)/[\w.-]+|[A-Z]:\\\\[\w]")
URL = re.compile(r"https?://[^\s,;)\"'>\]]+")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:  # not a git checkout (an unpacked source tree): look at what is here
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


def test_no_file_names_an_absolute_path_of_some_machine():
    offenders = []
    for path in _tracked_text_files():
        if path.suffix in {".png", ".parquet"} or path == Path(__file__).resolve() or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for match in ABSOLUTE.finditer(text):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert not offenders, "absolute paths of a machine in the repository:\n" + "\n".join(offenders)


def test_every_source_cited_by_a_scenario_is_on_the_sources_page():
    page = SOURCES.read_text()
    missing = set()
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        for url in URL.findall(path.read_text()):
            url = url.rstrip(".")
            if url not in page:
                missing.add(f"{path.relative_to(ROOT)}: {url}")
    assert not missing, "cited in a scenario but not in docs/sources.md:\n" + "\n".join(sorted(missing))


def test_network_files_point_at_the_sources_page():
    for path in sorted((ROOT / "scenarios" / "network").glob("*.yaml")):
        assert "docs/sources.md" in path.read_text(), path.name
