"""report.html in a real browser (Debian's chromium driven by playwright, no browser download)."""

import shutil

import pandas as pd
import pytest

from implicit_bias.report import collect, verdicts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_the_report_page_reads_as_a_researcher_would_read_it(finished, browser):
    results = finished / "results"
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((results / "report" / "report.html").as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])")
    assert images and all(loaded for _, loaded in images), images
    # one section per claim of the config
    claims = pd.read_csv(results / "report" / "claims.csv")
    sections = page.evaluate("Array.from(document.querySelectorAll('section.claim')).map(s => s.id)")
    assert sorted(sections) == sorted(set(claims["claim"]))
    # the page opens with the claim table: a row per claim, linking to its section, with reached / extrapolated
    first = page.evaluate("document.querySelector('table').id")
    links = page.evaluate("Array.from(document.querySelectorAll('#claims a')).map(a => a.getAttribute('href'))")
    assert first == "claims" and sorted(links) == sorted(f"#{c}" for c in set(claims["claim"]))
    # the headline's counts are claims.csv's verdicts
    expected = verdicts(collect([results / "report" / "claims.csv"]))["verdict"].value_counts()
    for status in ("pass", "fail", "inconclusive", "observation"):
        shown = page.inner_text(f"[data-count='{status}']")
        assert int(shown) == int(expected.get(status, 0)), status
    # a collapsed table of checks opens
    closed = page.query_selector("section.claim details:not([open])")
    assert closed is not None and not closed.evaluate("d => d.open")
    closed.query_selector("summary").click()
    assert closed.evaluate("d => d.open")
    page.screenshot(path=str(results / "report" / "report.png"), full_page=True)
    assert (results / "report" / "report.png").stat().st_size > 50_000


def _open(browser, path, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def test_the_page_works_inside_the_snakemake_report_archive_and_on_a_phone(finished, browser, tmp_path):
    """The figures are embedded: inside `snakemake --report report.zip` (where ../figures/ does not exist)
    every image loads; at 420 px nothing widens the page; a figure enlarges when clicked."""
    import zipfile

    from tests.helpers import snakemake

    done = snakemake(finished, "--report", str(tmp_path / "report.zip"))
    assert done.returncode == 0, done.stderr[-2000:]
    zipfile.ZipFile(tmp_path / "report.zip").extractall(tmp_path / "unzipped")
    # the project's page, as the archive holds it (report/data/raw/<hash>/report.html, beside no figures)
    (inside,) = [p for p in (tmp_path / "unzipped").rglob("report.html") if "raw" in p.parts]
    assert not list(inside.parent.glob("*.png")) and not (inside.parent.parent / "figures").exists()
    for path, width in ((inside, 1400), (finished / "results" / "report" / "report.html", 420)):
        page, errors = _open(browser, path, width)
        assert errors == [], (path, errors)
        images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert images and all(images), path
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
    image = page.query_selector("figure img")
    image.click()
    assert "big" in image.get_attribute("class")
    page.screenshot(path=str(finished / "results" / "report" / "report_420.png"))
