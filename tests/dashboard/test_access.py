"""Nothing with data without a session; sessions, CSRF and roles as the API's (TestClient on a real Central).

Sessions, sign-in and redirects are decided before any query: those tests run on SQLite only; what a role
sees and may change runs on both stores."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from speedledger.central.entrypoints.dashboard.session import SESSION_COOKIE, SESSION_TTL_S
from tests.api.conftest import Tokens
from tests.dashboard.conftest import HOSTILE_NAME, RADAR, Recorded, sign_in
from tests.fixtures.postgres import sqlite_only


def data_urls(recorded: Recorded) -> list[str]:
    return [
        "/",
        "/radars",
        "/radars/live",
        "/infractions",
        f"/infractions/{recorded.issued}",
        f"/infractions/{recorded.issued}/evidence.jpg",
        f"/infractions/{recorded.issued}/export.zip",
        f"/infractions/{recorded.issued}/notice.pdf",
        "/events",
        "/events/live",
        "/live/events",
        "/quarantine",
        "/quarantine/live",
        "/registry",
        f"/registry/owners/{recorded.owner_id}",
        "/registry/vehicles/AB123CD",
    ]


@sqlite_only
def test_every_page_and_data_url_sends_a_stranger_to_sign_in(client: TestClient, recorded: Recorded) -> None:
    for url in data_urls(recorded):
        for cookie in (None, "not-a-token"):
            client.cookies.clear()
            if cookie:
                client.cookies.set(SESSION_COOKIE, cookie)
            response = client.get(url, follow_redirects=False)
            assert (response.status_code, response.headers.get("location")) == (303, "/sign-in"), url
            assert response.content == b"", url
    for url in (f"/infractions/{recorded.issued}/pay", f"/registry/owners/{recorded.owner_id}/erase"):
        assert client.post(url, data={"csrf": "x"}, follow_redirects=False).status_code == 303


@sqlite_only
def test_a_token_of_another_authority_opens_no_session(client: TestClient, recorded: Recorded) -> None:
    foreign = Tokens("another-secret-" + "y" * 32).token(Role.ADMIN)
    response = client.post("/sign-in", data={"token": foreign})
    assert response.status_code == 401
    assert "invalid token" in response.text
    assert SESSION_COOKIE not in response.cookies
    client.cookies.set(SESSION_COOKIE, foreign)
    assert client.get("/radars", follow_redirects=False).status_code == 303


@sqlite_only
def test_the_session_cookie_is_short_lived_httponly_and_strict(client: TestClient, tokens: Tokens) -> None:
    response = client.post("/sign-in", data={"token": tokens.token(Role.AGENCY)}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
    assert 0 < max_age <= SESSION_TTL_S
    assert client.get("/", follow_redirects=False).headers["location"] == "/radars"


@sqlite_only
def test_a_session_never_outlives_its_token(client: TestClient, tokens: Tokens) -> None:
    short = tokens.authority.mint(Role.AGENCY, "brief", ttl_s=120)
    cookie = client.post("/sign-in", data={"token": short}, follow_redirects=False).headers["set-cookie"]
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) <= 120  # type: ignore[union-attr]


@sqlite_only
def test_sign_in_from_another_site_is_refused(client: TestClient, tokens: Tokens) -> None:
    response = client.post(
        "/sign-in", data={"token": tokens.token(Role.ADMIN)}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


@sqlite_only
def test_sign_out_ends_the_session_only_with_its_csrf_token(client: TestClient, tokens: Tokens) -> None:
    csrf = sign_in(client, tokens, Role.AGENCY)
    client.post("/sign-out", data={"csrf": "0" * 64})
    assert client.get("/radars", follow_redirects=False).status_code == 200
    client.post("/sign-out", data={"csrf": csrf})
    assert client.get("/radars", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (Role.OPERATOR, ["/radars", "/quarantine"], ["/infractions", "/events", "/registry"]),
        (Role.REGISTRY, ["/registry", "/registry/vehicles/AB123CD"], ["/radars", "/infractions", "/quarantine"]),
        (Role.AGENCY, ["/radars", "/infractions", "/events", "/quarantine", "/registry"], []),
    ],
)
def test_each_role_sees_the_pages_of_its_permissions(
    client: TestClient, tokens: Tokens, recorded: Recorded, role: Role, allowed: list[str], refused: list[str]
) -> None:
    sign_in(client, tokens, role)
    for url in allowed:
        assert client.get(url).status_code == 200, url
    page = client.get(allowed[0]).text
    navigation = page.split("<nav", 1)[1].split("</nav>", 1)[0]
    for url in refused:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "lacks permission" in response.text
        assert f'href="{url}"' not in navigation, f"{role} is offered {url}"


def test_status_actions_follow_the_role_and_the_lifecycle(
    client: TestClient, tokens: Tokens, recorded: Recorded
) -> None:
    page = f"/infractions/{recorded.issued}"

    def offered() -> set[str]:
        return set(re.findall(rf'action="{page}/(\w+)"', client.get(page).text))

    csrf = sign_in(client, tokens, Role.AGENCY)
    assert offered() == {"pay", "contest", "cancel"}
    assert client.post(f"{page}/launder", data={"csrf": csrf}).status_code == 404
    assert client.post(f"{page}/contest", data={"text": "not me"}).status_code == 403  # no CSRF token
    response = client.post(f"{page}/contest", data={"csrf": csrf, "text": "not me"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, page)
    assert offered() == {"uphold", "cancel"}
    refused = client.post(f"{page}/pay", data={"csrf": csrf, "text": "ref-1"})
    assert refused.status_code == 409  # the lifecycle says no, whatever the page offered
    assert "contested" in refused.text
    assert set(
        re.findall(r'action="/infractions/[^"]+/(\w+)"', client.get(f"/infractions/{recorded.unidentified}").text)
    ) == {
        "cancel",
        "identify",
    }

    client.cookies.clear()
    csrf = sign_in(client, tokens, Role.OPERATOR)
    response = client.post(f"{page}/uphold", data={"csrf": csrf, "text": "operator"})
    assert response.status_code == 403
    assert "lacks permission &#39;infractions:status&#39;" in response.text
    client.cookies.clear()
    sign_in(client, tokens, Role.AGENCY)
    assert "status-contested" in client.get(page).text


def test_identify_charges_an_unidentified_infraction_to_the_owner_at_detection(
    client: TestClient, tokens: Tokens, recorded: Recorded
) -> None:
    csrf = sign_in(client, tokens, Role.ADMIN)
    url = f"/infractions/{recorded.unidentified}/identify"
    unknown = client.post(url, data={"csrf": csrf, "text": "QQ111QQ"})
    assert unknown.status_code == 404 and "QQ111QQ" in unknown.text
    assert client.post(url, data={"csrf": csrf, "text": "ab-123-cd"}, follow_redirects=False).status_code == 303
    assert recorded.owner_id in client.get(f"/infractions/{recorded.unidentified}").text


def test_erasure_is_offered_to_the_registry_and_shreds_the_name(
    client: TestClient, tokens: Tokens, recorded: Recorded
) -> None:
    owner_page = f"/registry/owners/{recorded.owner_id}"
    sign_in(client, tokens, Role.AGENCY)
    assert "/erase" not in client.get(owner_page).text
    client.cookies.clear()
    csrf = sign_in(client, tokens, Role.REGISTRY)
    assert f'action="{owner_page}/erase"' in client.get(owner_page).text
    assert client.post(f"{owner_page}/erase", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    page = client.get(owner_page).text
    assert "personal data erased" in page and "eve@example.org" not in page and "pwned" not in page


def test_hostile_text_is_printed_as_text(client: TestClient, tokens: Tokens, recorded: Recorded) -> None:
    sign_in(client, tokens, Role.ADMIN)
    escaped = "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    for url in (f"/registry/owners/{recorded.owner_id}", f"/infractions/{recorded.issued}"):
        page = client.get(url).text
        assert escaped in page, url
        assert HOSTILE_NAME not in page, url
    reflected = client.get("/infractions", params={"plate": '"><script>alert(1)</script>', "radar_id": RADAR}).text
    assert "<script>alert(1)" not in reflected
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in reflected


def test_pages_allow_only_their_own_scripts(client: TestClient, tokens: Tokens, recorded: Recorded) -> None:
    sign_in(client, tokens, Role.ADMIN)
    for url in ("/sign-in", "/radars", f"/infractions/{recorded.issued}"):
        response = client.get(url)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text  # no inline script: the policy would block it anyway


@sqlite_only
def test_the_dashboard_stays_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert all(path.startswith("/api/") or path in ("/health", "/metrics") for path in paths), paths


@sqlite_only
def test_language_choice_never_redirects_off_site(client: TestClient) -> None:
    for target, expected in (("/radars", "/radars"), ("//evil.example/x", "/"), ("https://evil.example", "/")):
        response = client.get("/language/fr", params={"next": target}, follow_redirects=False)
        assert response.headers["location"] == expected
