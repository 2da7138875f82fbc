"""The activation page's weight and its static files: fingerprinted names cached for a year, gzip on the wire,
security headers on every file, nothing loaded from another site."""

import gzip
import re
from pathlib import Path

import static_files

ROOT = Path(__file__).resolve().parent.parent
PAGE_BUDGET = 30 * 1024  # bytes on the wire: the page and everything it loads
YEAR = 365 * 24 * 3600


def loaded_urls(html):
    return re.findall(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"', html)


def test_the_activation_page_loads_only_its_own_fingerprinted_files_kept_for_a_year(client):
    urls = [u for u in loaded_urls(client.get("/activate").get_data(as_text=True)) if not u.startswith("data:")]
    assert {u.rsplit("/", 1)[1].split(".")[0] for u in urls} == {"kapu", "htmx"}
    for url in urls:
        assert re.fullmatch(r"/static/[\w/.-]+\.[0-9a-f]{12}\.(css|js)", url), url  # same site, fingerprinted
        response = client.get(url, headers={"Accept-Encoding": "gzip"}, buffered=True)
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in response.headers["Vary"]
        cache = response.headers["Cache-Control"]
        assert "immutable" in cache and int(re.search(r"max-age=(\d+)", cache).group(1)) >= YEAR
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        plain = re.sub(r"\.[0-9a-f]{12}\.", ".", url.removeprefix("/static/"))
        assert gzip.decompress(response.data) == (ROOT / "static" / plain).read_bytes()


def test_the_activation_page_with_everything_it_loads_weighs_at_most_30_kb(client):
    page = client.get("/activate", headers={"Accept-Encoding": "gzip, br"})
    total = len(page.data)
    for url in loaded_urls(page.get_data(as_text=True)):
        if not url.startswith("data:"):
            total += len(client.get(url, headers={"Accept-Encoding": "gzip, br"}, buffered=True).data)
    assert total <= PAGE_BUDGET, f"{total} bytes"


def test_a_plain_name_still_works_but_is_kept_only_briefly(client):
    response = client.get("/static/js/kapu.js", buffered=True)
    assert response.status_code == 200 and response.data == (ROOT / "static/js/kapu.js").read_bytes()
    assert response.headers["Cache-Control"] == f"max-age={static_files.PLAIN_MAX_AGE}, public"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_changed_file_gets_a_new_name_and_the_old_one_stays_served(tmp_path):
    source, target = tmp_path / "static", tmp_path / "data"
    (source / "css").mkdir(parents=True)
    (source / "css/site.css").write_text("body { color: black; }\n" * 40)
    first = static_files.fingerprint(source, target)["css/site.css"]
    (source / "css/site.css").write_text("body { color: navy; }\n" * 40)
    second = static_files.fingerprint(source, target)["css/site.css"]
    assert first != second and re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", second)
    assert (target / first).exists() and (target / second).exists()  # a page still open asks for the old one
    assert gzip.decompress((target / f"{second}.gz").read_bytes()) == (source / "css/site.css").read_bytes()


def test_a_read_only_data_folder_leaves_the_plain_names_working(app_config, monkeypatch):
    from app import create_app

    def refuse(_source, _target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(static_files, "fingerprint", refuse)
    client = create_app(app_config).test_client()
    urls = loaded_urls(client.get("/activate").get_data(as_text=True))
    assert "/static/css/kapu.css" in urls and "/static/vendor/htmx.min.js" in urls
    assert client.get("/static/css/kapu.css", buffered=True).status_code == 200
