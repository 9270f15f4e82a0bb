"""Every answer of the gateway carries the security headers; documents get the exact CSP, the
widget partner sites load cross-origin does not; cookies are Secure, HttpOnly and SameSite;
no error echoes what was sent or how the server failed."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from bot.gateway.security import CSP
from tests.gateway.conftest import sign_in
from tests.security.conftest import (
    AUTH,
    JSON_HEADERS,
    SENDER,
    handoff,
    limits,
    secured,
    signed_in,
)

PARTNER = "https://partner.example"
DOCUMENT_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), geolocation=(), microphone=(), payment=(), usb=()",
}
PUBLIC_PAGES = [
    "/",
    "/?lang=nl",
    "/demo",
    "/inbox/login",
    "/healthz",
    "/static/inbox.css",
    "/static/inbox.js",
    "/openapi.json",
    "/nowhere",
    "/inbox",  # a redirect to the login form
    "/inbox/events",  # 401 when signed out
]
INBOX_PAGES = [
    "/inbox",
    "/inbox?closed=true",
    "/inbox?lang=nl",
    "/inbox/queue",
    "/inbox/handoffs/{id}",
    "/inbox/handoffs/{id}/transcript",
    "/inbox/audit",
    "/inbox/report",
    "/inbox/report.csv",
]
WIDGET = [
    ("GET", "/widget.js"),
    ("GET", "/widget.css"),
    ("GET", "/api/widget/config"),
    ("GET", f"/api/chat/messages?sender_id={SENDER}"),
    ("POST", "/api/chat"),
]


def assert_document_headers(response) -> None:
    found = {name: response.headers.get(name) for name in DOCUMENT_HEADERS}
    assert found == DOCUMENT_HEADERS, response.request.url
    assert "strict-transport-security" not in response.headers  # plain HTTP here


def test_every_page_has_the_headers_and_the_exact_csp(gateway, coordinator):
    client = gateway(follow_redirects=False)
    for path in PUBLIC_PAGES:
        assert_document_headers(client.get(path))
    handoff_id = handoff(client)
    signed_in(client, coordinator)
    for path in INBOX_PAGES:
        response = client.get(path.format(id=handoff_id))
        assert response.status_code == 200, path
        assert_document_headers(response)


def test_the_widget_partner_sites_load_has_nosniff_but_no_csp_nor_framing_rule(gateway):
    client = gateway()
    for method, path in WIDGET:
        body = {"sender_id": SENDER, "text": "Bonjour"} if method == "POST" else None
        response = client.request(method, path, json=body, headers={"Origin": PARTNER})
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-security-policy" not in response.headers
        assert "x-frame-options" not in response.headers
        if path.startswith("/api/"):
            assert response.headers["access-control-allow-origin"] == "*"
            assert response.headers["cache-control"] == "no-store"
    preflight = client.options(
        "/api/chat",
        headers={"Origin": PARTNER, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200 and preflight.headers["x-content-type-options"] == "nosniff"


def test_refusals_and_errors_carry_the_headers_too(gateway):
    client = gateway(limits=limits(ip_per_minute=4), raise_server_exceptions=False)
    refusals = [
        client.post("/api/handoffs", json={}),  # 401: no token
        client.get("/webhooks/telegram"),  # 405
        client.post("/api/chat", content=b"{}", headers={"Content-Type": "text/plain"}),  # 415
        client.post("/api/chat", content=b"x" * 70_000, headers=JSON_HEADERS),  # 413
    ]
    refusals.append(client.get("/api/widget/config"))  # 429: the address spent its 4
    assert [r.status_code for r in refusals] == [401, 405, 415, 413, 429]
    for response in refusals:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert_document_headers(refusals[1])


def test_strict_transport_security_only_over_https(gateway):
    client = gateway()
    assert "strict-transport-security" not in client.get("/").headers
    secure = gateway(base_url="https://relais.example")
    for path in ("/", "/widget.js", "/api/widget/config"):
        assert secure.get(path).headers["strict-transport-security"] == "max-age=31536000"


def test_cookies_are_secure_httponly_samesite_and_scoped_to_the_inbox(
    gateway, gateway_settings, coordinator
):
    settings = dataclasses.replace(gateway_settings, cookie_secure=True)
    client = gateway(settings=settings, base_url="https://relais.example", follow_redirects=False)
    cookies = [client.get("/inbox/login").headers["set-cookie"]]
    cookies += sign_in(client, coordinator).headers.get_list("set-cookie")
    session = next(cookie for cookie in cookies if cookie.startswith("relais_session="))
    assert f"max-age={settings.session_minutes * 60}" in session.lower()
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "secure", "samesite=lax", "path=/inbox"} <= flags, cookie


MARKER = "<script>alert('m4rk3r')</script>"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/{MARKER}", None),
        ("GET", f"/inbox/{MARKER}", None),
        ("GET", f"/api/chat/messages?sender_id={MARKER}", None),
        ("GET", f"/api/chat/messages?sender_id={SENDER}&after={MARKER}", None),
        ("POST", "/api/chat", {"sender_id": MARKER, "text": "hi"}),
        ("POST", "/api/chat", {"sender_id": SENDER, "text": "hi", "language": MARKER}),
        ("POST", "/api/chat", {"sender_id": SENDER, "text": "hi", MARKER: 1}),
        ("POST", "/api/handoffs", {"conversation_id": MARKER}),
        ("GET", f"/inbox/login?lang={MARKER}&failed={MARKER}", None),
        ("GET", f"/?lang={MARKER}", None),
    ],
)
def test_errors_never_echo_the_input(gateway, method, path, body):
    response = gateway().request(method, path, json=body, headers=AUTH)
    assert "m4rk3r" not in response.text
    assert "Traceback" not in response.text


def test_an_unexpected_failure_answers_generically_with_the_help_numbers(gateway_settings):
    app = secured(gateway_settings, None, None)

    @app.get("/api/chat/crash")
    def crash() -> None:
        raise RuntimeError(f"database password in {MARKER}")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/chat/crash")
    assert response.status_code == 500
    assert response.json()["error"] == "engine_down"
    assert "0800 32 123" in response.json()["message"]["fr"]
    assert "password" not in response.text and "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
