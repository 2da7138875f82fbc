"""200 % zoom (WCAG 1.4.4), reflow at 320 px (1.4.10) and the text-spacing override (1.4.12) on the activation,
login and account pages, with and without errors, and on the desk pages, in both languages: no horizontal
scrolling, nothing clipped by its box, no two pieces of text on top of each other. Every other public page is
checked at 320 px. A data table may scroll sideways inside its own named, focusable region (1.4.10's exception).

A 1280 px screen at 200 % zoom lays a page out at 640 CSS px (device scale 2); 320 px is 400 %. The context
bypasses CSP only to inject the spacing style sheet (the page's own CSP forbids inline styles)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.browser import LANGUAGES, PASSWORD_FORM, checked_page, in_language, log_in, submit
from tests.support.helpers import OFFICE, STAFF_PASSWORD, add_staff, register_citizen

pytestmark = pytest.mark.browser

ZOOMS = {"200%": {"width": 640, "height": 720}, "400%": {"width": 320, "height": 640}}

# The WCAG 1.4.12 test style sheet: what a reader's own style sheet may set, all at once.
TEXT_SPACING = """
* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }
p, li, dd, dt, label, .hint { margin-bottom: 2em !important; }
"""

# Every visible box in <body>: clipped when its content is wider/taller than a box that hides overflow,
# outside the viewport horizontally, or overlapping another box that is neither its ancestor nor descendant.
FIND_PROBLEMS = """
() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    problems.push(`page scrolls sideways: ${doc.scrollWidth} > ${doc.clientWidth}`);
  }
  const classes = (e) => typeof e.className === 'string' && e.className.trim()
                         ? '.' + e.className.trim().split(/\\s+/).join('.') : '';
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + classes(e) +
                      ' "' + (e.innerText || e.value || '').trim().slice(0, 30) + '"';
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return r.width > 1 && r.height > 1 && r.right > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const boxes = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (!shown(e) || ['SCRIPT', 'STYLE', 'OPTION'].includes(e.tagName)) continue;
    const s = getComputedStyle(e);
    const hides = (v) => v !== 'visible';
    // A data table may scroll sideways (1.4.10's exception), only inside its own region a keyboard can reach.
    const scroller = e.matches('.table-scroll');
    const inScroller = e.parentElement && e.parentElement.closest('.table-scroll');
    if (scroller && (e.tabIndex !== 0 || !e.getAttribute('aria-label') || e.getAttribute('role') !== 'region')) {
      problems.push(`a scrolling table needs a named, focusable region: ${name(e)}`);
    }
    if (e.tagName !== 'INPUT' && e.tagName !== 'TEXTAREA') {
      if (!scroller && hides(s.overflowX) && e.scrollWidth > e.clientWidth + 1) {
        problems.push(`clipped sideways: ${name(e)}`);
      }
      if (hides(s.overflowY) && e.scrollHeight > e.clientHeight + 1) problems.push(`clipped below: ${name(e)}`);
    }
    const r = e.getBoundingClientRect();
    if (!inScroller && (r.right > doc.clientWidth + 1 || r.left < -1)) {
      problems.push(`outside the page: ${name(e)} ${r.left}..${r.right}`);
    }
    // Only the boxes that carry text or take input can cover one another in a way a reader notices.
    if (e.matches('h1, h2, h3, p, label, input, textarea, select, button, a, dt, dd, li, .hint, .field-error')) {
      boxes.push([e, r]);
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1 && h > 1) problems.push(`overlap: ${name(a)} and ${name(b)}`);
    }
  }
  return problems;
}
"""


@pytest.fixture(params=list(ZOOMS))
def zoomed_page(request, browser, base_url):
    yield from checked_page(browser, base_url, bypass_csp=True, viewport=ZOOMS[request.param], device_scale_factor=2)


def check_layout(page):
    """No problem at the zoom alone, nor with the text-spacing style sheet on top."""
    for spaced in (False, True):
        if spaced:
            page.add_style_tag(content=TEXT_SPACING)
            assert page.locator("main h1").evaluate("e => getComputedStyle(e).letterSpacing") != "normal"
        problems = page.evaluate(FIND_PROBLEMS)
        what = "with the text-spacing style sheet" if spaced else "zoomed"
        assert not problems, f"{page.url} {what}:\n" + json.dumps(problems, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_activation_page(zoomed_page, registered, language):
    page = zoomed_page
    page.goto(in_language(registered.link, language))
    check_layout(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_activation_page_with_errors_and_a_shown_password(zoomed_page, language):
    page = zoomed_page
    page.goto(in_language("/activate", language))
    page.locator("#username").fill("nincs.ilyen")
    page.locator("#password").fill("rövidke")
    response = submit(page, page.locator("#activation-form button[type=submit]").click)
    assert response.status == 422
    page.locator("button[aria-controls=password]").click()
    check_layout(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_page_with_errors(zoomed_page, language):
    page = zoomed_page
    page.goto(in_language("/login", language))
    response = submit(page, page.locator("main form button[type=submit]").click)
    assert response.status == 422
    check_layout(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_account_page_with_errors(zoomed_page, citizen, language):  # noqa: F811
    page = zoomed_page
    log_in(page, citizen.username)
    page.goto(in_language("/account", language))
    form = page.locator(PASSWORD_FORM)
    form.locator("input[type=password]").first.fill("nem ez a jelszavam")
    response = submit(page, form.locator("button[type=submit]").click)
    assert response.status >= 400
    check_layout(page)


# Reflow (1.4.10) on every public page, not only the forms above: 320 px wide, in both languages.
PUBLIC_PAGES = ["/", "/register", "/forgotten-password", "/notices", "/help", "/help/activation", "/no-such-page"]


@pytest.fixture
def narrow_page(browser, base_url):
    yield from checked_page(browser, base_url, bypass_csp=True, viewport=ZOOMS["400%"], device_scale_factor=2)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_reflows_at_320_px(narrow_page, path, language):
    narrow_page.goto(in_language(path, language))
    check_layout(narrow_page)


@pytest.fixture
def desk_staff(live_app):
    """A clerk of an office with a pending registration at it, and an admin."""
    from domain import offices

    with live_app.app_context():
        offices.seed_demo_offices()
    clerk, admin = f"ugyintezo.{uuid.uuid4().hex[:8]}", f"admin.{uuid.uuid4().hex[:8]}"
    add_staff(live_app, clerk, "clerk", office=OFFICE)
    add_staff(live_app, admin, "admin")
    citizen = f"kiss.anna.{uuid.uuid4().hex[:8]}"
    register_citizen(
        live_app, citizen, f"{citizen}@example.hu", channel="office", office=OFFICE, full_name="Kiss Anna Erzsébet"
    )
    return clerk, admin


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_desk_pages(zoomed_page, desk_staff, language):
    page = zoomed_page
    clerk, admin = desk_staff
    log_in(page, clerk, STAFF_PASSWORD, lands_on="/desk", heading="Registration desk")
    page.goto(in_language("/desk", language))
    assert page.locator(".table-scroll tbody tr").count() >= 1
    check_layout(page)
    page.context.clear_cookies()
    log_in(page, admin, STAFF_PASSWORD, lands_on="/desk", heading="Registration desk")
    for path in ("/desk/notices", "/desk/help", "/desk/help/activation", "/desk/audit"):
        page.goto(in_language(path, language))
        check_layout(page)
