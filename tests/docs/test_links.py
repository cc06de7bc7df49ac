"""README links work on a package index: all absolute, all pointing at pages the site has.

The site's base URL is kept once per file (mkdocs.yml ``site_url``, pyproject.toml
``[project.urls]``, the README's link block); these tests hold the three to one value.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SITE_URL: str = yaml.safe_load(
    "\n".join(line for line in (ROOT / "mkdocs.yml").read_text().splitlines() if line.startswith("site_url"))
)["site_url"]
INLINE = re.compile(r"\]\(([^)\s]+)\)")
REFERENCE = re.compile(r"^\[[^\]]+\]:\s*(\S+)", re.M)


def _links(text: str) -> list[str]:
    return INLINE.findall(text) + REFERENCE.findall(text)


def _page_exists(url: str) -> bool:
    path = url.removeprefix(SITE_URL).split("#")[0].strip("/")
    if Path(path).suffix in {".png", ".svg", ".jpg"}:  # a file the site serves as it is
        return (ROOT / "docs" / path).is_file()
    if not path:
        return (ROOT / "docs" / "index.md").is_file()
    if path.startswith("images/"):  # the site serves docs/images as they are (README screenshots)
        return (ROOT / "docs" / path).is_file()
    return (ROOT / "docs" / f"{path}.md").is_file() or (ROOT / "docs" / path / "index.md").is_file()


def test_every_readme_link_is_absolute() -> None:
    links = _links(README)
    assert links, "the README links to the site"
    relative = [link for link in links if not re.match(r"https?://", link)]
    assert relative == [], "relative links break on a package index: link to the site instead"


def test_every_site_link_of_the_readme_names_a_page() -> None:
    site_links = [link for link in _links(README) if link.startswith(SITE_URL)]
    assert len(site_links) >= 10
    assert [link for link in site_links if not _page_exists(link)] == []
    for page in ("getting-started/", "engines/postgres/", "configuration/", "cli/", "reference/api/"):
        assert f"{SITE_URL}{page}" in site_links


def test_the_project_urls_use_the_same_site() -> None:
    urls: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Documentation"] == SITE_URL
    for name, url in urls.items():
        assert url.startswith(SITE_URL), f"[project.urls] {name} = {url} is not on {SITE_URL}"
        assert _page_exists(url), f"[project.urls] {name} = {url} names no page of the site"
