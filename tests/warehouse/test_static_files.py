"""Static files in production: WhiteNoise serves `collectstatic`'s hashed names itself."""

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client

from tests.warehouse.test_settings import PRODUCTION, run_manage

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
TEN_YEARS = 315_360_000


@pytest.fixture
def collected(settings, tmp_path):
    """``collectstatic`` with the production storage into a fresh STATIC_ROOT."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = PRODUCTION_STORAGES
    settings.DEBUG = False
    call_command("collectstatic", "--noinput", verbosity=0)
    return settings.STATIC_ROOT


def test_production_storage_is_the_hashed_compressed_one_when_debug_is_off():
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.STORAGES)", **PRODUCTION
    )

    assert result.returncode == 0, result.stderr
    assert PRODUCTION_STORAGES["staticfiles"]["BACKEND"] in result.stdout


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("admin/css/base.css", "text/css"),
        ("xero/copy.js", "text/javascript"),
        ("xero/health.js", "text/javascript"),
        ("warehouse/favicon.svg", "image/svg+xml"),
    ],
)
def test_hashed_static_file_is_served_with_its_type_and_far_future_caching(
    collected, db, name, content_type
):
    url = staticfiles_storage.url(name)
    assert url != f"/static/{name}", "the name carries no hash"

    response = Client().get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert f"max-age={TEN_YEARS}" in response["Cache-Control"]
    assert "immutable" in response["Cache-Control"]
    assert (
        b"".join(response.streaming_content)
        == (collected / url.removeprefix("/static/")).read_bytes()
    )


def test_static_file_is_sent_compressed_to_a_browser_that_accepts_it(collected, db):
    response = Client().get(
        staticfiles_storage.url("admin/css/base.css"), HTTP_ACCEPT_ENCODING="gzip, br"
    )

    assert response.status_code == 200
    assert response["Content-Encoding"] in ("br", "gzip")
    assert response["Vary"] == "Accept-Encoding"


def test_unhashed_name_is_served_but_not_cached_for_long(collected, db):
    response = Client().get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert "immutable" not in response["Cache-Control"]


def test_missing_static_file_answers_404(collected, db):
    assert Client().get("/static/xero/no-such-file.js").status_code == 404
