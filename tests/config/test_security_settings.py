"""Deployment defaults: the production settings module, security headers on every page,
no inline script in any template, mail kept out of the log, schema and docs behind a login."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

ROOT = Path(settings.BASE_DIR)
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def _run_django(code: str, settings_module: str, **env: str) -> subprocess.CompletedProcess:
    """Python in a fresh process with only the given environment (no inherited settings)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": settings_module, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production_env() -> dict[str, str]:
    return {
        "SECRET_KEY": "x" * 30 + "-production-secret-key-with-enough-entropy-9f3a",
        "ALLOWED_HOSTS": "sb.example.com",
        "DATABASE_URL": settings.DATABASES["default"].get("URL", "postgres://app@db.internal/switchboard"),
        "REDIS_URL": "redis://cache.internal:6379/0",
        "FERNET_KEYS": settings.FERNET_KEYS[0],
    }


def test_production_settings_pass_check_deploy():
    result = _run_django(
        "from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING')",
        "config.settings.production",
        **_production_env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_production_never_reads_var_local_env():
    # var/local.env (written by `make run`) has DATABASE_URL and DJANGO_DEBUG=true; production
    # must fail on the missing variable rather than pick them up from there.
    assert (ROOT / "var" / "local.env").exists()
    env = _production_env()
    del env["DATABASE_URL"]
    result = _run_django("pass", "config.settings.production", **env)
    assert result.returncode != 0
    assert "Set the DATABASE_URL environment variable" in result.stderr


def test_production_debug_is_off_even_when_asked_for():
    result = _run_django(
        "from django.conf import settings; print(settings.DEBUG, settings.SECURE_HSTS_SECONDS > 0, "
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT)",
        "config.settings.production",
        DJANGO_DEBUG="true",
        **_production_env(),
    )
    assert result.stdout.split() == ["False", "True", "True", "True", "True"], result.stderr[-2000:]


def test_development_mail_goes_to_files_under_var():
    result = _run_django(
        "from django.conf import settings; print(settings.EMAIL_BACKEND); print(settings.EMAIL_FILE_PATH)",
        "config.settings.base",
    )
    backend, path = result.stdout.split()
    assert backend == "django.core.mail.backends.filebased.EmailBackend"
    assert Path(path) == ROOT / "var" / "mail"


@pytest.mark.django_db
def test_pages_carry_csp_without_inline_script(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["style-src"]
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_pages_carry_a_permissions_policy(client):
    policy = client.get(reverse("login"))["Permissions-Policy"]
    assert "camera=()" in policy and "geolocation=()" in policy and "microphone=()" in policy


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_template_has_no_inline_script_or_handler(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to static/js/"
    assert not INLINE_HANDLER.search(text), "inline on…= handler: use a data- attribute and static/js/"
    assert "javascript:" not in text


@pytest.mark.django_db
def test_schema_needs_a_login_or_an_api_key(client, api, api_key_a):
    assert client.get("/api/schema/").status_code == 401
    assert api(api_key_a).get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200


@pytest.mark.django_db
def test_docs_send_a_visitor_to_the_login_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_docs_load_for_a_logged_in_user_without_inline_script(login, member_a):
    client = login(member_a)
    page = client.get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(page)
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(api_a):
    response = api_a.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.django_db
def test_oversized_api_body_gets_the_api_error_shape(api_a):
    body = b'{"body": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = api_a.generic("POST", "/api/v1/messages/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
