"""Static files through WhiteNoise: fingerprinted names cached for a year, gzip copies made once, plain names too.

`url_for('static', filename='css/kapu.css')` gives `/static/css/kapu.<sha256 prefix>.css`: a changed file gets a
new name, so browsers may keep every named version for good. The fingerprinted copies and their gzip versions
(whitenoise.compress) are written once into the data folder (`KAPU_DATA_DIR/static/`), since the shipped folder
may be read-only or a temporary unpack folder; WhiteNoise then serves them before Flask sees the request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from whitenoise import WhiteNoise
from whitenoise.base import decode_path_info
from whitenoise.compress import Compressor

import logs

FINGERPRINTED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
PLAIN_MAX_AGE = 60  # seconds: a file asked for by its plain name may change with the next release

log = logging.getLogger("kapu")


def install(app, headers: dict[str, str]):
    """Serve app.static_folder through WhiteNoise in front of *app*, each answer carrying *headers*."""
    source = Path(app.static_folder)
    copies = Path(app.instance_path) / "static"
    try:
        names = fingerprint(source, copies)
    except OSError as error:  # a read-only data folder: plain names only, still correct, cached briefly
        log.warning("static files keep their plain names: cannot write %s (%s)", copies, error.strerror)
        names = {}

    def add_headers(response_headers, _path, _url):
        for name, value in headers.items():
            response_headers[name] = value

    server = WhiteNoise(
        app.wsgi_app,
        max_age=PLAIN_MAX_AGE,
        allow_all_origins=False,
        add_headers_function=add_headers,
        immutable_file_test=lambda _path, url: bool(FINGERPRINTED.search(url)),
    )
    server.add_files(source, prefix="static/")
    if names:
        server.add_files(copies, prefix="static/")
    app.wsgi_app = logs.StaticAccessLog(server, lambda path: decode_path_info(path) in server.files)

    @app.url_defaults
    def _fingerprinted(endpoint, values):
        if endpoint == "static":
            values["filename"] = names.get(values.get("filename"), values.get("filename"))


def fingerprint(source: Path, target: Path) -> dict[str, str]:
    """{plain name: fingerprinted name} of every file under *source*; missing copies (and .gz) written to *target*."""
    names = {}
    compressor = Compressor(use_brotli=False, quiet=True)
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.suffix in (".gz", ".br"):
            continue
        plain = path.relative_to(source).as_posix()
        data = path.read_bytes()
        stem, _dot, extension = plain.rpartition(".")
        named = f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.{extension}"
        names[plain] = named
        copy = target / named
        if not copy.exists():
            _write_with_gzip(copy, data, compressor)
    return names


def _write_with_gzip(copy: Path, data: bytes, compressor: Compressor):
    """The copy and its .gz appear whole (written aside, then renamed): servers starting together may race here."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=copy.parent) as scratch:
        staged = Path(scratch) / copy.name
        staged.write_bytes(data)
        for compressed in compressor.compress(str(staged)):
            os.replace(compressed, copy.parent / Path(compressed).name)
        os.replace(staged, copy)
