"""The OWASP filter-evasion vectors (xss_vectors.txt) stored as what people write, as
counsellors' names and as summary and report fields, then shown by the inbox (queue, handoff,
live transcript, audit log, report) and by the widget (the history on reload), in Chromium.

Nothing may run: no dialog, no call to the sentinels (alert, confirm, prompt, print), no request
to another host, no element or attribute parsed from a vector; and each vector is on the page
as text. Once with the Content-Security-Policy bypassed (escaping alone must hold), once with
it (and no violation reported: nothing even tried)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import relay
from bot.gateway.app import create_app
from bot.gateway.security import install_security
from bot.gateway.store.models import AuditEntry, Counsellor, Handoff, now
from bot.settings import get_settings
from tests.connectors.conftest import serve
from tests.gateway.conftest import PASSWORD, PASSWORD_HASH

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser]
VECTORS = (Path(__file__).with_name("xss_vectors.txt")).read_text(encoding="utf-8").splitlines()
SENDER = "xssvictim01"
SENTINELS = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__xss.push(`${name}(${args.join(",")})`); };
}
document.addEventListener("securitypolicyviolation", (event) => {
  window.__xss.push(`CSP ${event.violatedDirective} ${event.blockedURI}`);
});
"""
# Elements and attributes of markup parsed from a vector, the widget's shadow root included:
# the pages have none of their own (no inline handler, style or foreign script anywhere).
INJECTED = """
() => {
  const found = [];
  const never = new Set(["STYLE", "IFRAME", "FRAME", "OBJECT", "EMBED", "BASE", "MATH", "IMG",
                         "NOSCRIPT", "XMP"]);
  const ours = (url) => new URL(url, location.href).origin === location.origin;
  const visit = (root) => {
    for (const element of root.querySelectorAll("*")) {
      for (const attribute of element.attributes) {
        const value = attribute.value.replace(/[\\s\\x00-\\x1f]/g, "").toLowerCase();
        if (attribute.name.startsWith("on")
            || ["style", "background", "dynsrc", "lowsrc"].includes(attribute.name)
            || /^(javascript|vbscript|data):/.test(value)) {
          found.push(`${element.tagName} ${attribute.name}=${attribute.value}`);
        }
      }
      if (never.has(element.tagName)
          || (element.tagName === "SCRIPT" && !(element.src && ours(element.src)))
          || (element.tagName === "META" && element.httpEquiv)
          || (element.tagName === "LINK" && !ours(element.href))
          || (element.tagName === "INPUT" && element.type === "image")) {
        found.push(element.outerHTML.slice(0, 80));
      }
      if (element.shadowRoot) visit(element.shadowRoot);
    }
  };
  visit(document);
  return found;
}
"""


def seed(sessions: sessionmaker[Session]) -> int:
    """Counsellors named by the vectors, one handoff claimed by each, a showcase handoff whose
    summary, transcript and conversation are all vectors; returns the showcase's id."""
    with sessions() as session:
        viewer = Counsellor(
            username="cora",
            display_name=VECTORS[0],
            role="coordinator",
            password_hash=PASSWORD_HASH,
        )
        named = [
            Counsellor(username=f"c{n}", display_name=vector, partner_id="ced", password_hash="x")
            for n, vector in enumerate(VECTORS)
        ]
        session.add_all([viewer, *named])
        session.flush()
        for n, (vector, counsellor) in enumerate(zip(VECTORS, named, strict=True)):
            conversation = relay.conversation_for(session, f"web:person{n:04d}", "fr")
            conversation.sector = VECTORS[n // 5]  # five of each: the report shows them
            conversation.needs = VECTORS
            handoff = Handoff(
                reference=f"BXL-2026-{n + 1:06d}",
                conversation=conversation,
                sequence=1,
                partner_id="ced",
                reason="asked",
                priority=n % 5,
                summary={"text": {"fr": vector, "nl": vector}},
                transcript=[],
                status="claimed",
                claimed_by=counsellor.id,
            )
            session.add(handoff)
            session.flush()
            session.add(
                AuditEntry(counsellor_id=counsellor.id, action="claim", handoff_id=handoff.id)
            )
        showcase = showcase_handoff(session, viewer)
        session.commit()
        return showcase.id


def showcase_handoff(session: Session, viewer: Counsellor) -> Handoff:
    conversation = relay.conversation_for(session, f"web:{SENDER}", "fr")
    conversation.mode, conversation.owner_id = "human", viewer.id
    fields = ("reason", "urgency", "needs", "circumstances", "story", "sector", "commune")
    summary: dict[str, Any] = {
        "text": {"fr": " ".join(VECTORS), "nl": VECTORS[-1]},
        **{name: VECTORS[i] for i, name in enumerate(fields)},
        "contact": {"preference": VECTORS[8], "phone": VECTORS[9]},
        "recommended": [{"id": "m1", "name": {"fr": VECTORS[10]}}],
        "distress": {"level": VECTORS[11], "cues": VECTORS[12:15]},
        "partner": VECTORS[15],
        "labels": {"fr": {"region": VECTORS[16]}},
    }
    handoff = Handoff(
        reference="BXL-2026-999999",
        conversation=conversation,
        sequence=1,
        partner_id="ced",
        reason="distress",
        priority=0,
        summary=summary,
        transcript=[
            {"author": author, "text": v, "at": v}
            for author, v in zip(
                ["person", "bot", VECTORS[2]] * len(VECTORS), VECTORS, strict=False
            )
        ],
        status="claimed",
        claimed_by=viewer.id,
        created_at=now() - timedelta(minutes=5),
    )
    session.add(handoff)
    session.flush()
    for vector in VECTORS:
        relay.record(session, conversation.id, "person", [{"text": vector}])
        relay.record(
            session, conversation.id, "counsellor", [{"text": vector}], counsellor_id=viewer.id
        )
    buttons = [{"title": vector, "payload": vector} for vector in VECTORS]
    relay.record(session, conversation.id, "bot", [{"text": VECTORS[-2], "buttons": buttons}])
    return handoff


@dataclass
class Site:
    url: str
    sessions: sessionmaker[Session]
    showcase: int


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """The whole gateway (no engine: nothing here asks the bot) on a free port."""
    var = tmp_path_factory.mktemp("xss")
    settings = dataclasses.replace(
        get_settings(),
        var_dir=var,
        database_url=f"sqlite:///{var / 'gateway.db'}",
        cookie_secure=False,
    )
    app = create_app(settings)
    install_security(app, settings)
    showcase = seed(app.state.sessions)
    with serve(app) as url:
        yield Site(url, app.state.sessions, showcase)


@dataclass
class Visitor:
    page: Page
    origin: str
    happened: list[str] = field(default_factory=list)

    def assert_inert(self, path: str) -> None:
        """Nothing ran nor loaded from elsewhere, no markup came from a vector."""
        self.page.wait_for_timeout(300)  # an onerror or onload would have fired by now
        ran = self.page.evaluate("window.__xss")
        injected = self.page.evaluate(INJECTED)
        assert (ran, injected, self.happened) == ([], [], []), path

    @staticmethod
    def assert_shown(expected: list[str], texts: list[str]) -> None:
        """Each vector is on the page as text (white space aside: charts wrap their labels)."""
        shown = ["".join(text.split()) for text in texts]
        missing = [v for v in expected if not any("".join(v.split()) in text for text in shown)]
        assert missing == []


@pytest.fixture(params=[True, False], ids=["csp-bypassed", "csp-enforced"])
def visitor(request, browser, site) -> Iterator[Visitor]:
    context = browser.new_context(base_url=site.url, locale="fr-BE", bypass_csp=request.param)
    context.add_init_script(SENTINELS)
    page = context.new_page()
    visitor = Visitor(page, site.url)
    page.on("dialog", lambda dialog: visitor.happened.append(f"dialog {dialog.message}"))
    page.on("pageerror", lambda error: visitor.happened.append(f"error {error}"))
    context.on(
        "request",
        lambda r: r.url.startswith(site.url) or visitor.happened.append(f"request {r.url}"),
    )
    yield visitor
    context.close()


def test_the_widget_shows_the_history_as_text(visitor, site):
    page = visitor.page
    page.add_init_script(f'localStorage.setItem("relais-sender-id", "{SENDER}")')
    page.goto("/")
    buttons = page.locator(".msg--bot .buttons button")
    buttons.last.wait_for()
    visitor.assert_inert("/")
    assert page.locator(".msg--user").all_text_contents() == VECTORS
    counsellor = page.locator(".msg--counsellor").all_text_contents()
    visitor.assert_shown(VECTORS, counsellor)
    assert buttons.all_text_contents() == VECTORS


def test_the_inbox_pages_show_names_summaries_and_reports_as_text(visitor, site):
    page = visitor.page
    page.goto("/inbox/login")
    page.get_by_label("Identifiant").fill("cora")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.locator(".queue").wait_for()
    visitor.assert_inert("/inbox")
    visitor.assert_shown(VECTORS, page.locator(".queue td").all_text_contents())
    assert VECTORS[0] in page.locator(".bar__who").inner_text()
    for path in ("/inbox/audit", "/inbox/report"):
        page.goto(path)
        visitor.assert_inert(path)
        visitor.assert_shown(VECTORS[:3], [page.locator("main").inner_text()])
    page.goto(f"/inbox/handoffs/{site.showcase}")
    visitor.assert_inert("handoff")
    visitor.assert_shown(VECTORS, page.locator(".transcript .line__text").all_text_contents())
    fields = page.locator(".fields dd").all_text_contents()
    visitor.assert_shown(VECTORS[:7] + VECTORS[8:17], fields)  # as showcase_handoff puts them

    # The person writes again: inbox.js puts the new transcript in place with innerHTML.
    with site.sessions() as session:
        conversation = relay.conversation_for(session, f"web:{SENDER}")
        for vector in VECTORS:
            relay.record(session, conversation.id, "person", [{"text": f"encore {vector}"}])
        session.commit()
    page.locator(".line__text", has_text=f"encore {VECTORS[-1]}").wait_for(timeout=15_000)
    visitor.assert_inert("live transcript")
    live = page.locator(".transcript .line__text").all_text_contents()
    visitor.assert_shown([f"encore {vector}" for vector in VECTORS], live)
