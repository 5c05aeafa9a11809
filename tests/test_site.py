"""registry site: the catalog site built from a real registry with mkdocs --strict, checked as HTML and in
Debian's Chromium (driven by Playwright) against a loopback server."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from registry_tools.cli.main import cli
from registry_tools.site.readme import render_readme

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import CountingServer, signed_dist  # noqa: F401  (fixtures)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>alert("x")</script>'


def run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def site(signed_dist):  # noqa: F811
    """The signed small registry, one community description made hostile, and its site built into www/site."""
    repo, www, key = signed_dist
    index_path = www / "registry.json"
    index = json.loads(index_path.read_text())
    community = next(iter(index["community_packs"]))
    index["community_packs"][community]["description"] += " " + HOSTILE
    index_path.write_text(json.dumps(index))
    result = run("registry", "site", "--registry", str(www), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["out"] == str((www / "site").resolve()) and summary["packs"] == 2
    return www, www / "site", index


def text_of(page_html):
    return html.unescape(re.sub(r"<[^>]+>", "", page_html))


def community_name(index):
    return next(iter(index["community_packs"]))


def all_packs(index):
    return {**index["domains"], **index["community_packs"]}


def test_generated_pages_search_index_and_no_outside_urls(site):
    www, out, index = site
    packs = all_packs(index)
    assert json.loads((out / "registry.json").read_text()) == index
    assert 'id="arw-catalog"' in (out / "catalog" / "index.html").read_text()
    home = (out / "index.html").read_text()
    assert f"{len(packs)} packs." in home and "community" in home and "official" in home

    for name, entry in packs.items():
        page = (out / "packs" / name / "index.html").read_text()
        latest = entry["latest_version"]
        assert f"aws-research-wizard config install {name}@{latest}" in text_of(page)
        assert f"aws-research-wizard deploy --domain {name}@{latest}" in text_of(page)
        assert '<div class="arw-sizes">' in page and "Monthly cost (USD)" in page
        for size in entry["releases"][latest]["sizes"].values():
            assert f"<code>{size['instance_type']}</code>" in page and f"${size['monthly_usd']:,.2f}" in page
        for version, release in entry["releases"].items():
            assert release["checksum"] in page and release["created"][:10] in page
            # Download links resolve from the page to the archive in the registry.
            href = re.search(rf'href="([^"]*{re.escape(Path(release["download_url"]).name)})"', page).group(1)
            assert (out / "packs" / name / href).resolve() == (www / release["download_url"]).resolve(), version
        assert "signed with the registry's Ed25519 key" in text_of(page)

    genomics = (out / "packs" / "genomics" / "index.html").read_text()
    assert "README (1.2.0)" in genomics and 'class="arw-readme"' in genomics
    # what is inside, from the archive's domain.yaml: software, demo workflows, data sources
    for expected in ("Software, workflows and data", "Demo workflows", "qc-1000genomes-exome", "s3://1000genomes/",
                     "gatk4=4.6.1.0", 'href="https://registry.opendata.aws/1000-genomes/"'):
        assert expected in genomics, expected

    # What changed from each previous version: the client's diff, newest first, the newest unfolded.
    changes = text_of(genomics[genomics.index('id="changes"'):])
    assert changes.index("1.2.0 (from 1.1.0)") < changes.index("1.1.0 (from 1.0.0)")
    for expected in ("+ large: r7i.12xlarge, 48 vCPUs, 384 GiB memory", "+ large  $2,397.90",
                     "~ samtools 1.19 -> 1.21", "+ nvcr.io/nvidia/clara/clara-parabricks 4.4.0-1",
                     "~ InstanceType allowed values: +g5.12xlarge", "Resources (+0 -0 ~2)"):
        assert expected in changes, expected
    assert genomics.count("<details open>") == 1
    assert "first version" in text_of((out / "packs" / community_name(index) / "index.html").read_text())

    # Untrusted pack text is escaped, never executed.
    community = next(iter(index["community_packs"]))
    hostile_page = (out / "packs" / community / "index.html").read_text()
    assert HOSTILE not in hostile_page and "&lt;script&gt;alert(" in hostile_page

    # mkdocs-material's search covers the pack pages.
    search = json.loads((out / "search" / "search_index.json").read_text())
    word = max(re.findall(r"[A-Za-z]{6,}", packs["genomics"]["description"]), key=len)
    assert any(doc["location"].startswith("packs/genomics/") and word in doc["text"] for doc in search["docs"])
    sections = {doc["location"] for doc in search["docs"] if doc["location"].startswith("packs/genomics/")}
    assert "packs/genomics/#software-workflows-and-data" in sections
    assert not sections & {"packs/genomics/#versions", "packs/genomics/#changes", "packs/genomics/#readme"}

    # Works offline: no script or stylesheet from anywhere but the site itself.
    for page in out.rglob("*.html"):
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", page.read_text()):
            for url in re.findall(r"https?://[^\s\"'>]+", tag):
                assert url.startswith(("http://127.0.0.1", "https://127.0.0.1")), (page, tag)


def test_rebuild_replaces_only_a_site(site, tmp_path):
    www, out, index = site
    (out / "stale.html").write_text("old")
    assert run("registry", "site", "--registry", str(www)).exit_code == 0
    assert not (out / "stale.html").exists() and (out / "catalog" / "index.html").is_file()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x")
    refused = run("registry", "site", "--registry", str(www), "--out", str(precious))
    assert refused.exit_code == 1 and "not a site built by this command" in refused.output
    assert (precious / "thesis.tex").read_text() == "x"


def test_user_errors_are_clear(tmp_path):
    missing = run("registry", "site", "--registry", str(tmp_path))
    assert missing.exit_code == 1 and "registry.json not found" in missing.output
    assert "Traceback" not in missing.output
    (tmp_path / "registry.json").write_text("{not json")
    broken = run("registry", "site", "--registry", str(tmp_path))
    assert broken.exit_code == 1 and "not readable JSON" in broken.output
    (tmp_path / "registry.json").write_text('{"domains": {}, "community_packs": {}}')
    inside = run("registry", "site", "--registry", str(tmp_path), "--out", str(tmp_path.parent))
    assert inside.exit_code == 1 and "would replace the registry" in inside.output


def test_readme_rendering_is_safe():
    rendered = render_readme("# Title\n\n## Usage\n\n<script>alert(1)</script>\n\n"
                             "[bad](javascript:alert(1)) [rel](cloudformation.json) [ok](https://example.org/x)\n\n"
                             "![logo](https://example.org/logo.png)\n\n```bash\necho '<b>'\n```\n")
    assert "<script>" not in rendered and "alert(1)" not in rendered and "raw HTML omitted" in rendered
    assert 'href="javascript:' not in rendered and 'href="cloudformation.json"' not in rendered
    assert '<a href="https://example.org/x" rel="nofollow noopener">ok</a>' in rendered
    assert "<img" not in rendered and "<p>logo</p>" in rendered
    assert "<h1>" not in rendered and "<h3>Usage</h3>" in rendered and "&lt;b&gt;" in rendered


def test_readme_rendering_rewrites_only_tags_cmark_wrote():
    # Text that looks like the tags being rewritten is escaped by cmark, so it is never touched.
    rendered = render_readme('Title\n=====\n\n`<a href="x">` and <h1> &lt;img src="y" alt="z" /&gt;\n\n'
                             '![alt "quoted" *em*](logo.png "t") [a](https://x.org "title") [b](docs/#x)\n\n###### deep\n')
    assert "<h1>" not in rendered and "Title" not in rendered  # a leading setext title is dropped too
    assert "<code>&lt;a href=&quot;x&quot;&gt;</code>" in rendered and "&lt;img src=&quot;y&quot;" in rendered
    assert "alt &quot;quoted&quot; em" in rendered and "<img" not in rendered
    assert '<a href="https://x.org" title="title" rel="nofollow noopener">a</a>' in rendered and "<a>b</a>" in rendered
    assert "<h6>deep</h6>" in rendered


# --- in the browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).is_file():
        message = f"Chromium not found at {CHROMIUM}; install Debian's chromium to run browser tests"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run them: .ci/run installs it)")
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture
def served_site(site):
    www, out, index = site
    server = CountingServer(www)
    url = server.start()
    yield url + "site/", index
    server.stop()


def screenshot(page, name: str) -> None:
    """With ARW_SCREENSHOTS=1, keep what the browser shows as docs/images/NAME (the README shows them)."""
    if os.environ.get("ARW_SCREENSHOTS") == "1":
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=str(Path(__file__).resolve().parents[1] / "docs" / "images" / name))


def test_catalog_filters_and_pack_pages_in_chromium(served_site, page):
    base, index = served_site
    packs = all_packs(index)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
            else outside.append(r.url))
    page.set_default_timeout(15_000)

    page.goto(base + "catalog/")
    page.wait_for_selector("#arw-catalog[data-ready=true]")
    rows = page.locator("#arw-catalog tbody tr")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.pack)")) == sorted(packs)
    assert page.locator("#arw-count").inner_text() == f"{len(packs)} of {len(packs)} packs"
    assert not page.locator(".arw-more").is_visible()  # every row is shown: nothing more to show

    visible = "#arw-catalog tbody tr:not([hidden])"
    page.fill("#arw-filter", "genom")
    assert page.locator(visible).evaluate_all("rows => rows.map(r => r.dataset.pack)") == ["genomics"]
    page.fill("#arw-filter", "no pack is called this")
    assert page.locator(visible).count() == 0
    page.fill("#arw-filter", "")
    assert page.locator(visible).count() == len(packs)

    community = next(iter(index["community_packs"]))
    category = next(c for c in packs[community]["categories"] if c not in packs["genomics"]["categories"])
    page.select_option("#arw-category", category)
    assert page.locator(visible).evaluate_all("rows => rows.map(r => r.dataset.pack)") == [community]
    page.select_option("#arw-category", "")
    page.select_option("#arw-trust", "official")
    assert page.locator(visible).evaluate_all("rows => rows.map(r => r.dataset.pack)") == ["genomics"]
    page.select_option("#arw-trust", "")
    screenshot(page, "catalog.png")

    page.click("#arw-catalog a[href$='packs/genomics/']")
    page.wait_for_url("**/packs/genomics/")
    screenshot(page, "pack-page.png")
    latest = packs["genomics"]["latest_version"]
    assert page.get_by_text(f"aws-research-wizard config install genomics@{latest}").count() >= 1
    assert page.locator(".arw-sizes tbody tr").count() == len(packs["genomics"]["releases"][latest]["sizes"])
    # What changed: the newest change unfolded, older ones a click away.
    newest, older = page.locator(".arw-changes details").nth(0), page.locator(".arw-changes details").nth(1)
    assert newest.locator(".arw-diff").is_visible() and not older.locator(".arw-diff").is_visible()
    older.locator("summary").click()
    assert older.get_by_text("+ large: r7i.12xlarge").is_visible()
    older.locator("summary").click()
    page.locator("#changes").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('changes').scrollIntoView()")
    screenshot(page, "pack-changes.png")
    # The hostile description showed as text and ran nothing.
    page.goto(base + f"packs/{community}/")
    assert HOSTILE in page.locator("article").inner_text()

    # Material's search finds a pack by a word from its description.
    word = max(re.findall(r"[A-Za-z]{6,}", packs["genomics"]["description"]), key=len)
    page.goto(base)
    page.wait_for_load_state("networkidle")  # the search worker has fetched its index
    hit = page.locator(".md-search-result__item a[href*='packs/genomics/']")
    for _ in range(3):  # a query typed while the worker still builds its index can be dropped: type it again
        page.fill("input.md-search__input", "")
        page.type("input.md-search__input", word)
        try:
            hit.first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    assert hit.count() >= 1, f"search found no pack page for {word!r}"

    assert outside == []


def test_a_registry_with_absolute_download_urls_still_shows_readmes(signed_dist, tmp_path):  # noqa: F811
    """Release builds use --base-url: archive links are absolute, the archives are still beside the index."""
    _, www, _ = signed_dist
    index = json.loads((www / "registry.json").read_text())
    for section in ("domains", "community_packs"):
        for entry in index[section].values():
            for release in entry["releases"].values():
                release["download_url"] = "https://packs.example.org/" + release["download_url"]
    (www / "registry.json").write_text(json.dumps(index))
    result = run("registry", "site", "--registry", str(www), "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    genomics = (tmp_path / "site" / "packs" / "genomics" / "index.html").read_text()
    assert 'class="arw-readme"' in genomics and "qc-1000genomes-exome" in genomics
    assert 'href="https://packs.example.org/packs/genomics-' in genomics


def test_pack_pages_are_the_same_when_written_by_worker_processes(signed_dist, tmp_path):  # noqa: F811
    from registry_tools.site.build import build_site

    _, www, _ = signed_dist
    serial = build_site(www, tmp_path / "serial", workers=1)
    forked = build_site(www, tmp_path / "forked", workers=2)
    assert serial.pages == forked.pages and serial.notes == forked.notes
    for page in (tmp_path / "serial").rglob("*"):
        if page.is_file():
            twin = tmp_path / "forked" / page.relative_to(tmp_path / "serial")
            assert twin.read_bytes() == page.read_bytes(), page


def test_a_missing_archive_is_named_in_what_changed(signed_dist, tmp_path):  # noqa: F811
    _, www, _ = signed_dist
    (www / "packs" / "genomics-1.1.0.tar.gz").unlink()
    result = run("registry", "site", "--registry", str(www), "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    changes = text_of((tmp_path / "site" / "packs" / "genomics" / "index.html").read_text())
    changes = changes[changes.index("What changed"):]
    assert "1.2.0 (from 1.1.0): not compared, version 1.1.0: its archive is not beside the index" in changes
    assert "1.1.0 (from 1.0.0): not compared" in changes


def test_large_catalog_shows_rows_in_pages_and_filters_them_all(signed_dist, page):  # noqa: F811
    """120 packs: the table starts with the first 50, "Show more" adds 50, and the filter searches every pack,
    shown or not."""
    _, www, _ = signed_dist
    index = json.loads((www / "registry.json").read_text())
    genomics = index["domains"]["genomics"]
    index["domains"] = {f"pack_{n:03d}": {**genomics, "name": f"Pack {n:03d}", "description": f"Synthetic {n:03d}"}
                        for n in range(119)}
    (www / "registry.json").write_text(json.dumps(index))
    result = run("registry", "site", "--registry", str(www))
    assert result.exit_code == 0, result.output
    server = CountingServer(www)
    base = server.start() + "site/"
    try:
        page.set_default_timeout(15_000)
        page.goto(base + "catalog/")
        page.wait_for_selector("#arw-catalog[data-ready=true]")
        rows = page.locator("#arw-catalog tbody tr")
        assert page.locator("#arw-count").inner_text() == "120 of 120 packs (first 50 shown)"
        shown = rows.evaluate_all("rows => rows.map(r => r.dataset.pack)")
        assert shown[:3] == [community_name(index), "pack_000", "pack_001"] and len(shown) == 50  # by title
        # Clicked where it is: scrolling it into view would let the scroll observer add rows first.
        page.locator(".arw-more").dispatch_event("click")
        assert rows.count() == 100 and "first 100 shown" in page.locator("#arw-count").inner_text()
        page.locator(".arw-more").scroll_into_view_if_needed()  # near the end of the table: the rest appear
        page.wait_for_function("() => document.querySelectorAll('#arw-catalog tbody tr').length === 120")
        assert not page.locator(".arw-more").is_visible()
        page.evaluate("window.scrollTo(0, 0)")
        page.fill("#arw-filter", "synthetic 118")  # the last pack by title: not shown before filtering
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.pack)") == ["pack_118"]
    finally:
        server.stop()
