#!/usr/bin/env python3
"""Browser test of the web console, driven as a support engineer would use it.

Against a running stack that serves both the console (/console) and the API (/v1) on one origin:

    .venv/bin/python scripts/console_test.py --base-url http://127.0.0.1:9000 --project demo --key "$KEY"

It opens /console, pastes the key and the project, filters the FAILED executions of a user that has
some (found through the API), opens one with the keyboard, opens a step from the timeline, follows a
trace, opens the event logs and the stats, and checks the labelled controls, the keyboard navigation
of the list, the text contrast and the API errors (401, 403, 400) on the way. It also checks the
Content-Security-Policy header (a fetch to another origin is refused) and, with one execution of its
own sent through the ingest function (--invoke-url), that a body stored apart is fetched while an
inline body shaped like a `$ref` is shown as data with nothing to fetch. A screenshot of each
view goes to --artifacts (default artifacts/console under the repository root). Exits non-zero with
a message on the first failure. Needs Playwright (PyPI) and Debian's chromium (`apt-get install
chromium`); Playwright's own browser download is not used.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib.util
import json
import os
import random
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 30_000


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class Api:
    """The API, called directly, to know what the console should show."""

    def __init__(self, base, project, key):
        self.base = base.rstrip("/")
        self.project = project
        self.key = key

    def get(self, path, params=None):
        url = f"{self.base}/v1/projects/{urllib.parse.quote(self.project, safe='')}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.key}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body)
            except ValueError:
                return e.code, {"raw": body.decode(errors="replace")[:300]}
        except urllib.error.URLError as e:
            raise Failure(f"the API at {self.base} cannot be reached: {e.reason}") from e

    def ok(self, path, params=None):
        status, body = self.get(path, params)
        check(status == 200, f"GET {path} {params or ''} answered {status}: {body}")
        return body

    def all_executions(self, params, max_pages=20):
        out, cursor = [], None
        for _ in range(max_pages):
            p = dict(params, limit="1000")
            if cursor:
                p["cursor"] = cursor
            page = self.ok("/workflow-executions", p)
            out += page["workflowExecutions"]
            cursor = page.get("nextCursor")
            if not cursor:
                break
        return out


# Accessible names of the interactive controls, from Chromium's accessibility tree.
CONTROL_ROLES = {"textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "spinbutton", "button", "link",
                 "switch", "slider"}


def unlabelled_controls(page):
    try:
        cdp = page.context.new_cdp_session(page)
        tree = cdp.send("Accessibility.getFullAXTree")
        cdp.detach()
    except Exception:  # noqa: BLE001 - fall back to the DOM
        tree = None
    if tree is not None:
        bad = []
        for node in tree.get("nodes", []):
            if node.get("ignored"):
                continue
            role = (node.get("role") or {}).get("value")
            if role not in CONTROL_ROLES:
                continue
            name = str((node.get("name") or {}).get("value") or "").strip()
            if not name:
                bad.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
        # Every form control in the DOM must also have a label element or an aria label.
        bad += page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && el.getClientRects().length)
                .filter(el => !(el.labels && [...el.labels].some(l => l.textContent.trim()))
                              && !(el.getAttribute('aria-label') || '').trim()
                              && !el.getAttribute('aria-labelledby'))
                .map(el => el.outerHTML.slice(0, 120))"""
        )
        return bad
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
            .filter(el => el.getClientRects().length)
            .filter(el => !((el.labels && [...el.labels].some(l => l.textContent.trim()))
                            || (el.getAttribute('aria-label') || '').trim()
                            || ((el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim())))
            .map(el => el.outerHTML.slice(0, 120))"""
    )


# Text whose contrast with its background is under 4.5:1 (3:1 for large text); disabled controls are exempt.
CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, bottom) => { const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat(1); };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1]; for (const l of layers.reverse()) bg = over(l, bg); return bg; };
  const bad = []; let checked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement; if (!el || seen.has(el) || !n.textContent.trim()) continue; seen.add(el);
    if (!el.getClientRects().length || el.closest('[disabled], option, noscript, .u-legend .u-marker')) continue;
    const cs = getComputedStyle(el); if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) continue;
    const fg0 = parse(cs.color); if (!fg0) continue;
    const bg = background(el); const fg = over(fg0, bg);
    const l1 = lum(fg), l2 = lum(bg); const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(cs.fontSize); const bold = Number(cs.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5; checked++;
    if (ratio < need) {
      const text = n.textContent.trim().slice(0, 40), rgb = bg.slice(0, 3).map(Math.round);
      bad.push(`${ratio.toFixed(2)}:1 "${text}" (${cs.color} on rgb(${rgb}))`);
    }
  }
  return { bad, checked };
}"""

# Every Content-Security-Policy violation of the page, recorded from before its first script.
RECORD_VIOLATIONS_JS = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  { blockedURI: e.blockedURI, directive: e.effectiveDirective || e.violatedDirective }));"""

# A fetch to an origin the policy does not name: refused before any connection is made.
PROBE_URL = "http://127.0.0.1:1/csp-probe"
PROBE_JS = """async (url) => {
  try { await fetch(url, { cache: 'no-store', credentials: 'omit' }); return { fetched: true }; }
  catch (e) {
    await new Promise((r) => setTimeout(r, 200));
    return { fetched: false, error: String(e),
             violations: window.__cspViolations.filter((v) => v.blockedURI.startsWith(url)) };
  }
}"""

# Producer data that looks exactly like a reference the API builds; the console must not follow it.
FORGED_URL = "http://127.0.0.1:2/forged-body"


def csp_directives(value):
    out = {}
    for part in (value or "").split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


RESULTS_DONE_JS = """() => { const r = document.querySelector('.results');
  const q = new URLSearchParams(location.hash.split('?')[1] || '').toString();
  return !!r && r.dataset.query === q && r.dataset.state !== 'loading'; }"""


class ConsoleTest:
    def __init__(self, args):
        self.args = args
        self.base = args.base_url.rstrip("/")
        self.api = Api(self.base, args.project, args.key)
        art = Path(args.artifacts)
        self.artifacts = art if art.is_absolute() else ROOT / art
        self.screenshots = []
        self.passed = []
        self.page_errors = []
        self.foreign_requests = []
        # Origins the page may reach besides its own: the bodies bucket, once a real `$ref` names it.
        self.allowed_origins = set()

    def ok(self, what):
        self.passed.append(what)
        print(f"  ok  {what}", flush=True)

    def shot(self, page, name):
        path = self.artifacts / name
        page.screenshot(path=str(path), full_page=True)
        self.screenshots.append(path)

    def wait_results(self, page, what):
        try:
            page.wait_for_function(RESULTS_DONE_JS, timeout=TIMEOUT_MS)
        except Exception as e:  # noqa: BLE001
            raise Failure(f"{what}: the results did not load within {TIMEOUT_MS // 1000} s") from e
        err = page.query_selector(".results .error-box")
        check(err is None, f"{what}: the console shows an error: {err.inner_text() if err else ''}")

    def check_a11y(self, page, view):
        bad = unlabelled_controls(page)
        check(not bad, f"{view}: controls without an accessible name: {bad[:5]}")
        res = page.evaluate(CONTRAST_JS)
        check(not res["bad"], f"{view}: text with too little contrast: {res['bad'][:5]}")
        self.ok(f"{view}: every control has an accessible name; {res['checked']} text elements have contrast >= 4.5:1")

    def go(self, page, hash_):
        page.evaluate("h => { location.hash = h; }", hash_)

    # -- discovery through the API -------------------------------------------------------------------

    def discover(self):
        failed = self.api.all_executions({"status": "FAILED"})
        users = collections.Counter(e["userId"] for e in failed if e.get("userId"))
        check(users, f"project {self.args.project} has no FAILED execution with a userId: nothing to filter")
        user, n = sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        self.user, self.user_failed = user, n
        print(f"  user {user} has {n} FAILED executions", flush=True)

        status, trace = self.api.get("/traces/webhook-fanout-1")
        if status != 200:
            # Any trace that has both an event log and an execution.
            logs = self.api.ok("/event-logs", {"limit": "200", "includeBody": "false"})["eventLogs"]
            trace = None
            for tid in dict.fromkeys(e["traceId"] for e in logs if e.get("traceId")):
                s, t = self.api.get(f"/traces/{urllib.parse.quote(tid, safe='')}")
                if s == 200 and t["eventLogs"] and t["workflowExecutions"]:
                    trace = t
                    break
            check(trace, "no trace with both an event log and an execution found through the API")
        check(trace["eventLogs"] and trace["workflowExecutions"], f"trace {trace['traceId']} lacks logs or executions")
        self.trace = trace
        print(f"  trace {trace['traceId']}: {len(trace['eventLogs'])} event logs, "
              f"{len(trace['workflowExecutions'])} executions", flush=True)

    # -- the views -----------------------------------------------------------------------------------

    def security_policy(self):
        """The page's Content-Security-Policy is an HTTP header that names only the page's origin and
        the bodies bucket for fetches, and forbids framing; no meta tag is left to widen it."""
        req = urllib.request.Request(f"{self.base}/console")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                header = r.headers.get("Content-Security-Policy")
                html = r.read().decode(errors="replace")
        except urllib.error.URLError as e:
            raise Failure(f"GET /console failed: {e}") from e
        check(header, "GET /console sends no Content-Security-Policy header")
        d = csp_directives(header)
        check(d.get("frame-ancestors") == ["'none'"], f"the policy allows framing: {header!r}")
        for name, want in (("default-src", "'self'"), ("script-src", "'self'"), ("object-src", "'none'"),
                           ("base-uri", "'none'")):
            check(d.get(name) == [want], f"the policy's {name} is not {want}: {header!r}")
        connect = d.get("connect-src") or []
        check(connect[:1] == ["'self'"], f"connect-src does not start with 'self': {header!r}")
        check(all(src.startswith(("http://", "https://")) and "*" not in src for src in connect[1:]),
              f"connect-src names more than the API and the bodies bucket: {connect}")
        check(len(connect) <= 2, f"connect-src names more than the API and the bodies bucket: {connect}")
        check("http-equiv" not in html.lower(), "the page still carries a policy in a meta tag")
        self.csp_connect = connect
        self.ok(f"Content-Security-Policy header: connect-src {' '.join(connect)}; frame-ancestors 'none'")

    def blocked_fetch(self, page):
        res = page.evaluate(PROBE_JS, PROBE_URL)
        check(not res["fetched"], f"a fetch to {PROBE_URL} was answered: the policy let it through")
        violations = res.get("violations") or []
        check(any(v["directive"] == "connect-src" for v in violations),
              f"a fetch to {PROBE_URL} failed ({res.get('error')}) without a connect-src violation: {violations}")
        self.ok(f"a fetch to another origin ({PROBE_URL}) is refused by connect-src")

    def setup(self, page):
        page.goto(f"{self.base}/console", wait_until="domcontentloaded")
        page.wait_for_selector("#api-key", timeout=TIMEOUT_MS)
        check(page.query_selector("link[href='/console/assets/app.css']") is not None, "index.html lacks app.css")
        self.check_a11y(page, "key form")
        page.get_by_label("API key", exact=True).fill(self.args.key)
        page.get_by_label("Project id", exact=True).fill(self.args.project)
        page.get_by_role("button", name="Open").click()
        page.wait_for_function("() => location.hash.includes('/executions')", timeout=TIMEOUT_MS)
        self.wait_results(page, "executions")
        stored = page.evaluate("() => sessionStorage.getItem('runledger.console.key')")
        check(stored == self.args.key, "the key is not kept in sessionStorage")
        local = page.evaluate("() => JSON.stringify(localStorage)")
        check(self.args.key not in local, "the key leaked into localStorage")
        self.ok("key and project pasted; the key is kept in sessionStorage only")

    def executions(self, page):
        page.get_by_label("User id", exact=True).fill(self.user)
        page.get_by_role("checkbox", name="FAILED").check()
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_function(
            "u => location.hash.includes('userId=' + encodeURIComponent(u)) && location.hash.includes('status=FAILED')",
            arg=self.user, timeout=TIMEOUT_MS)
        self.wait_results(page, "filtered executions")
        rows = page.query_selector_all("#executions-table tbody tr.row")
        check(rows, f"no rows shown for the FAILED executions of {self.user}")
        for r in rows:
            status, user = r.get_attribute("data-status"), r.get_attribute("data-user")
            check(status == "FAILED", f"a row shows status {status}, not FAILED")
            check(user == self.user, f"a row shows user {user}, not {self.user}")
            badge = r.query_selector(".badge").inner_text().strip()
            check(badge == "FAILED", f"a row's status reads {badge!r}")
            check(r.query_selector(".cell-user").inner_text().strip() == self.user, "a row's user cell differs")
        expected = min(self.user_failed, 50)
        check(len(rows) == expected, f"{len(rows)} rows shown, the API has {self.user_failed} (page size 50)")
        total = page.get_attribute("#result-total", "data-total")
        api_total = self.api.ok("/workflow-executions",
                                {"userId": self.user, "status": "FAILED", "count": "true", "limit": "1"})
        check(total is not None and int(total) == api_total["total"],
              f"the total shown ({total}) is not the API's ({api_total['total']})")
        text = page.inner_text("#result-total")
        word = "match in all" if api_total.get("totalExact", True) else "at least"
        check(word in text, f"the total reads {text!r}")
        self.ok(f"{len(rows)} rows, all FAILED and of {self.user}; total {total} as the API counts")

        # The URL holds the filters: a reload shows the same view.
        page.reload(wait_until="domcontentloaded")
        self.wait_results(page, "reloaded executions")
        check(len(page.query_selector_all("#executions-table tbody tr.row")) == len(rows), "a reload changed the rows")
        check(page.get_by_label("User id", exact=True).input_value() == self.user, "the user filter is lost on reload")
        check(page.get_by_role("checkbox", name="FAILED").is_checked(), "the status filter is lost on reload")
        self.ok("the URL holds the filters (reload shows the same list)")
        self.check_a11y(page, "executions")
        self.shot(page, "executions.png")

        # Keyboard: Tab from the top of the view to the list, arrow down, Enter opens the row.
        page.focus("h1")
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.matches('tr.row')"):
                break
        else:
            raise Failure("Tab never reached a row of the executions list")
        if len(rows) > 1:
            page.keyboard.press("ArrowDown")
        row_id = page.evaluate("() => document.activeElement.dataset.id")
        page.keyboard.press("Enter")
        page.wait_for_function("id => location.hash.endsWith('/executions/' + encodeURIComponent(id))", arg=row_id,
                               timeout=TIMEOUT_MS)
        self.ok("Tab reaches the list, arrow keys move, Enter opens the execution")
        return row_id

    def execution(self, page, execution_id):
        ex = self.api.ok(f"/workflow-executions/{urllib.parse.quote(execution_id, safe='')}")
        page.wait_for_selector("#execution-summary", timeout=TIMEOUT_MS)
        summary = page.inner_text("#execution-summary")
        check(execution_id in summary, "the summary lacks the execution id")
        check(ex["status"] in summary, f"the summary lacks the status {ex['status']}")
        check(self.user in summary, f"the summary lacks the user {self.user}")
        check(ex.get("error"), f"execution {execution_id} is FAILED but the API gives no error")
        err = page.inner_text("#execution-error")
        check(ex["error"]["message"] in err, f"the error panel lacks {ex['error']['message']!r}")
        steps = ex["steps"]
        check(steps, f"execution {execution_id} has no steps to show")
        page.wait_for_selector("#steps .tl-row", timeout=TIMEOUT_MS)
        page.wait_for_function("() => !document.querySelector('#steps-title').textContent.includes('loading')",
                               timeout=TIMEOUT_MS)
        bars = page.query_selector_all("#steps .tl-row")
        check(len(bars) >= len(steps), f"the timeline shows {len(bars)} steps, the API {len(steps)} (or more)")
        failed_steps = [s["id"] for s in steps if s["status"] == "FAILED"]
        marked = [b.get_attribute("data-id") for b in page.query_selector_all("#steps .tl-row.failed")]
        check(set(failed_steps) <= set(marked), f"failed steps {failed_steps} are not all marked ({marked})")
        self.ok(f"execution: summary, error and a timeline of {len(bars)} steps ({len(marked)} marked failed)")
        self.check_a11y(page, "execution")
        self.shot(page, "execution.png")
        return ex

    def step(self, page, ex):
        steps = ex["steps"]
        target = next((s for s in steps if s["status"] == "FAILED"), steps[-1])
        page.click(f"#steps .tl-row[data-id='{target['id']}'] .tl-track")
        page.wait_for_function("id => location.hash.endsWith('/steps/' + encodeURIComponent(id))", arg=target["id"],
                               timeout=TIMEOUT_MS)
        page.wait_for_selector("#step-detail dl", timeout=TIMEOUT_MS)
        api_step = self.api.ok(f"/workflow-executions/{urllib.parse.quote(ex['id'], safe='')}"
                               f"/step-executions/{urllib.parse.quote(target['id'], safe='')}")
        text = page.inner_text("#step-detail")
        check(api_step["stepName"] in page.inner_text("#step-title"), "the step title lacks its name")
        check(api_step["status"] in text and api_step["id"] in text, "the step detail lacks its status or id")
        for heading in ("Input", "Output"):
            check(page.query_selector(f"#step-detail h3:text-is('{heading}')"), f"the step detail lacks {heading}")
        if api_step.get("error"):
            check(api_step["error"]["message"] in text, "the step detail lacks its error message")
        self.ok(f"step {api_step['stepName']!r} opened from the timeline: status, input, output"
                f"{', error' if api_step.get('error') else ''}")
        self.shot(page, "step.png")

        # Enter on another bar opens that step.
        other = next((s for s in steps if s["id"] != target["id"]), None)
        if other:
            page.focus(f"#steps .tl-row[data-id='{other['id']}']")
            page.keyboard.press("Enter")
            page.wait_for_function("id => location.hash.endsWith('/steps/' + encodeURIComponent(id))",
                                   arg=other["id"], timeout=TIMEOUT_MS)
            page.wait_for_selector(f"#step-title:has-text('{other['stepName']}')", timeout=TIMEOUT_MS)
            self.ok("Enter on a timeline bar opens its step")

    def trace_view(self, page):
        trace = self.trace
        ex_id = trace["workflowExecutions"][0]["id"]
        # From the execution, follow its trace.
        self.go(page, f"#/projects/{urllib.parse.quote(self.args.project, safe='')}/executions/"
                      f"{urllib.parse.quote(ex_id, safe='')}")
        page.wait_for_selector(f"#execution-summary:has-text('{ex_id}')", timeout=TIMEOUT_MS)
        page.click("#trace-link")
        page.wait_for_function("t => location.hash.includes('/traces/' + encodeURIComponent(t))",
                               arg=trace["traceId"], timeout=TIMEOUT_MS)
        page.wait_for_selector("#trace-summary", timeout=TIMEOUT_MS)
        logs = [b.get_attribute("data-id") for b in page.query_selector_all(".tl-row[data-kind='event-log']")]
        execs = [b.get_attribute("data-id") for b in page.query_selector_all(".tl-row[data-kind='execution']")]
        want_logs = [e["id"] for e in trace["eventLogs"]]
        want_execs = [e["id"] for e in trace["workflowExecutions"]]
        check(sorted(logs) == sorted(want_logs), f"the trace timeline shows event logs {logs}, the API {want_logs}")
        check(sorted(execs) == sorted(want_execs), f"the trace timeline shows executions {execs}, the API {want_execs}")
        # All on one axis: the trigger comes first.
        order = [b.get_attribute("data-kind") for b in page.query_selector_all(".tl-row")]
        check(order[0] == "event-log", f"the trace timeline does not start with its trigger event: {order}")
        page.click(f".tl-row[data-id='{want_logs[0]}']")
        page.wait_for_selector("#trace-log-detail", timeout=TIMEOUT_MS)
        check(trace["eventLogs"][0]["message"] in page.inner_text("#trace-log-detail"),
              "event log detail lacks its message")
        self.ok(f"trace {trace['traceId']}: {len(logs)} event logs and {len(execs)} executions on one axis")
        self.check_a11y(page, "trace")
        self.shot(page, "trace.png")
        # An execution of the timeline links to its detail.
        page.click(f".tl-row[data-id='{want_execs[-1]}']")
        page.wait_for_function("id => location.hash.endsWith('/executions/' + encodeURIComponent(id))",
                               arg=want_execs[-1], timeout=TIMEOUT_MS)
        page.wait_for_selector(f"#execution-summary:has-text('{want_execs[-1]}')", timeout=TIMEOUT_MS)
        self.ok("an execution on the trace timeline opens its detail")

    def event_logs(self, page):
        page.get_by_role("navigation", name="Views").get_by_role("link", name="Event logs").click()
        page.wait_for_function("() => location.hash.includes('/event-logs')", timeout=TIMEOUT_MS)
        self.wait_results(page, "event logs")
        rows = page.query_selector_all("#event-logs-table tbody tr.row")
        api_page = self.api.ok("/event-logs", {"count": "true", "limit": "50"})
        check(len(rows) == len(api_page["eventLogs"]),
              f"{len(rows)} event logs shown, the API gives {len(api_page['eventLogs'])}")
        total = page.get_attribute("#result-total", "data-total")
        check(total is not None and int(total) == api_page["total"],
              f"event log total {total} != API {api_page['total']}")
        # Next page shows the API's second page; Previous page the first again.
        if api_page.get("nextCursor"):
            second = self.api.ok("/event-logs", {"limit": "50", "cursor": api_page["nextCursor"]})
            page.click("#next-page")
            page.wait_for_function("() => location.hash.includes('cursor=')", timeout=TIMEOUT_MS)
            self.wait_results(page, "event logs, second page")
            ids = [r.get_attribute("data-id") for r in page.query_selector_all("#event-logs-table tbody tr.row")]
            check(ids == [e["id"] for e in second["eventLogs"]], "the second page differs from the API's")
            check(page.get_attribute("#result-total", "data-total") == str(api_page["total"]),
                  "the total is lost on the second page")
            page.get_by_role("button", name="Previous page").click()
            page.wait_for_function("() => !location.hash.includes('cursor=')", timeout=TIMEOUT_MS)
            self.wait_results(page, "event logs, first page again")
            first = page.get_attribute("#event-logs-table tbody tr.row", "data-id")
            check(first == api_page["eventLogs"][0]["id"], "Previous page does not show the first page")
            self.ok("Next page and Previous page follow the cursors")
        # Filter ERROR, expand the first.
        page.get_by_role("checkbox", name="ERROR").check()
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_function("() => location.hash.includes('level=ERROR')", timeout=TIMEOUT_MS)
        self.wait_results(page, "ERROR event logs")
        rows = page.query_selector_all("#event-logs-table tbody tr.row")
        check(rows, "no ERROR event logs shown")
        levels = {r.get_attribute("data-level") for r in rows}
        check(levels == {"ERROR"}, f"levels shown after filtering ERROR: {levels}")
        rows[0].click()
        page.wait_for_selector("#event-logs-table tr.detail-row .log-detail", timeout=TIMEOUT_MS)
        check(rows[0].get_attribute("aria-expanded") == "true", "the expanded row does not say so (aria-expanded)")
        self.ok(f"event logs: {api_page['total']} in all; the ERROR filter shows {len(rows)} ERROR rows; a row expands")
        self.check_a11y(page, "event logs")
        self.shot(page, "event-logs.png")

    def stats(self, page):
        try:
            with page.expect_response(lambda r: "/stats?" in r.url, timeout=TIMEOUT_MS) as info:
                page.get_by_role("navigation", name="Views").get_by_role("link", name="Stats").click()
            resp = info.value
        except Exception as e:  # noqa: BLE001
            raise Failure(f"stats: no answer from the stats route within {TIMEOUT_MS // 1000} s") from e
        check(resp.status == 200, f"stats: the route answered {resp.status}: {resp.text()[:300]}")
        data = resp.json()
        self.wait_results(page, "stats")
        total = sum(g.get("count", 0) for b in data.get("buckets", []) for g in b.get("groups", []))
        by_status = collections.Counter()
        for b in data.get("buckets", []):
            for g in b.get("groups", []):
                bs = g.get("byStatus")
                if not bs:
                    bs = {str(g["key"]).upper(): g["count"]} if data.get("groupBy") == "status" else {}
                for k, v in bs.items():
                    by_status[k.upper()] += v
        shown = page.get_attribute("#stats-total", "data-total")
        check(shown is not None and int(shown) == total,
              f"stats: the total shown ({shown}) != the sum of counts ({total})")
        check(f"{total:,}" in page.inner_text("#stats-total"), f"stats: the summary does not read {total:,}")
        for st, n in by_status.items():
            if n:
                c = page.get_attribute(f"#stats-by-status li[data-status='{st}']", "data-count")
                check(c is not None and int(c) == n, f"stats: {st} shows {c}, the API sums {n}")
        if total:
            check(page.query_selector("#chart-counts canvas, #chart-counts svg"), "stats: no chart of counts rendered")
        has_durations = any(g.get("duration") for b in data.get("buckets", []) for g in b.get("groups", []))
        if has_durations:
            check(page.query_selector("#chart-durations canvas, #chart-durations svg"), "stats: no chart of durations")
        # The URL holds the range; a reload shows the same numbers.
        page.reload(wait_until="domcontentloaded")
        self.wait_results(page, "reloaded stats")
        check(page.get_attribute("#stats-total", "data-total") == shown, "stats: a reload changed the total")
        self.ok(f"stats: {total} executions as the API sums them, by status {dict(by_status)}; charts rendered")
        self.check_a11y(page, "stats")
        self.shot(page, "stats.png")
        return True

    def ingest(self, events):
        req = urllib.request.Request(
            f"{self.args.invoke_url.rstrip('/')}/2015-03-31/functions/ingest/invocations",
            data=json.dumps({"events": events}).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                report = json.loads(r.read())
        except urllib.error.URLError as e:
            raise Failure(f"the ingest function at {self.args.invoke_url} cannot be reached: {e}") from e
        check(report.get("accepted") == len(events) and not report.get("rejected"), f"ingest answered {report}")

    def bodies(self, page):
        """An execution whose inline input is shaped like a `$ref` (to another origin) and whose output
        is large enough to be stored apart: the input is shown as data, the output is fetched."""
        p = self.args.project
        exec_id = f"bodies-{random.getrandbits(48):012x}"
        forged = {"$ref": {"url": FORGED_URL, "size": 11, "sha256": "0" * 64, "contentType": "application/json"}}
        rng = random.Random(exec_id)
        output = {"blob": "".join(rng.choice("0123456789abcdef") for _ in range(40000))}
        started = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.ingest([{"kind": "execution", "projectId": p, "id": exec_id, "workflowId": "console-bodies",
                      "status": "SUCCEEDED", "dateStarted": started, "dateEnded": started,
                      "input": forged, "output": output}])
        ex = self.api.ok(f"/workflow-executions/{exec_id}")
        check(ex["input"] == forged, f"the forged input did not come back unchanged: {ex['input']}")
        check(ex.get("bodyRefs") == ["output"], f"bodyRefs of {exec_id} is {ex.get('bodyRefs')}, not ['output']")
        real = ex["output"]["$ref"]["url"]
        u = urllib.parse.urlsplit(real)
        bucket = f"{u.scheme}://{u.netloc}"
        check(bucket in self.csp_connect, f"connect-src {self.csp_connect} does not name the bodies origin {bucket}")
        self.allowed_origins.add((u.scheme, u.netloc))

        self.go(page, f"#/projects/{urllib.parse.quote(p, safe='')}/executions/{exec_id}")
        page.wait_for_selector(f"#execution-summary:has-text('{exec_id}')", timeout=TIMEOUT_MS)
        inp = page.locator("section.panel:has(#input-title)")
        out = page.locator("section.panel:has(#output-title)")
        check(inp.locator(".ref-body").count() == 0 and inp.get_by_role("button", name="Load input").count() == 0,
              "the forged $ref input is offered for fetching")
        check(inp.locator("a[href]").count() == 0, "the forged $ref input is shown as a link")
        text = inp.inner_text()
        check('"$ref"' in text and FORGED_URL in text, f"the forged input is not shown as data: {text[:200]!r}")
        self.shot(page, "bodies.png")
        out.get_by_role("button", name="Load output").click()
        answer = out.locator(".ref-body [role=status], .ref-body [role=alert]").first
        answer.wait_for(timeout=TIMEOUT_MS)
        check("sha256 matches" in answer.inner_text(), f"loading the stored output reads {answer.inner_text()!r}")
        digest = hashlib.sha256(json.dumps(output, separators=(", ", ": ")).encode()).hexdigest()
        check(ex["output"]["$ref"]["sha256"] == digest, "the stored output is not the bytes sent")
        violations = page.evaluate("() => window.__cspViolations")
        check(not [v for v in violations if v["blockedURI"].startswith(FORGED_URL)],
              f"the console tried to fetch the forged URL: {violations}")
        self.ok("an inline body shaped like a $ref is shown as data with nothing to fetch; "
                f"the stored body loads from {bucket} with its sha256")

    def simulated(self, page):
        """Answers the local stack rarely gives, played by the browser: a partial page with a lower-bound
        total, 429 with Retry-After, and a network failure."""
        p = urllib.parse.quote(self.args.project, safe="")
        pattern = "**/v1/projects/*/workflow-executions?*"

        partial = {"workflowExecutions": [], "nextCursor": "c2", "nextLink": None, "partial": True,
                   "total": 10000, "totalExact": False}
        page.route(pattern, lambda route: route.fulfill(status=200, content_type="application/json",
                                                        body=json.dumps(partial)))
        self.go(page, f"#/projects/{p}/executions?workflowId=simulated-partial")
        self.wait_results(page, "partial page")
        notice = page.inner_text("#partial-notice")
        check("read budget" in notice and "next page" in notice.lower(), f"the partial notice reads {notice!r}")
        check("at least 10,000" in page.inner_text("#result-total"), "a lower-bound total is not shown as 'at least'")
        check(page.is_enabled("#next-page"), "Next page is not offered on a partial page")
        page.unroute(pattern)
        self.ok("a partial page says the read budget ended and offers the next page; 'at least N' totals")

        page.route(pattern, lambda route: route.fulfill(
            status=429, content_type="application/json", headers={"Retry-After": "7"},
            body=json.dumps({"error": {"code": "rate_limited", "message": "slow down", "requestId": "r1"}})))
        self.go(page, f"#/projects/{p}/executions?workflowId=simulated-429")
        page.wait_for_selector(".results .error-box[data-status='429']", timeout=TIMEOUT_MS)
        text = page.inner_text(".results .error-box")
        check("Retry in 7 seconds" in text, f"429 does not say when to retry: {text!r}")
        page.unroute(pattern)
        self.ok("429 says when to retry (Retry-After)")

        page.route(pattern, lambda route: route.abort("failed"))
        self.go(page, f"#/projects/{p}/executions?workflowId=simulated-network")
        page.wait_for_selector(".results .error-box", timeout=TIMEOUT_MS)
        text = page.inner_text(".results .error-box")
        check("could not be reached" in text, f"a network failure reads {text!r}")
        page.unroute(pattern)
        self.ok("a network failure is said in words")

    def errors(self, page):
        p = urllib.parse.quote(self.args.project, safe="")
        # 400: the API's message, naming the parameter.
        self.go(page, f"#/projects/{p}/executions?afterDate=not-a-date")
        page.wait_for_selector(".results .error-box", timeout=TIMEOUT_MS)
        text = page.inner_text(".results .error-box")
        check("afterDate" in text and page.get_attribute(".results .error-box", "data-status") == "400",
              f"400: the error does not name afterDate: {text!r}")
        self.ok("400 shows the API's message and the parameter")
        # 403: the key on another project.
        self.go(page, f"#/projects/{p}-other-project/executions")
        page.wait_for_selector(".results .error-box[data-status='403']", timeout=TIMEOUT_MS)
        check("not for this project" in page.inner_text(".results .error-box"), "403 is not explained")
        self.ok("403 says the key is not for this project")
        # 401: a refused key sends back to the key form.
        page.evaluate("() => sessionStorage.setItem('runledger.console.key', 'rl_invalid_key')")
        self.go(page, f"#/projects/{p}/executions?limit=10")
        page.wait_for_selector("#api-key", timeout=TIMEOUT_MS)
        check("refused the key" in page.inner_text("main"), "401 does not ask for the key again")
        check(page.evaluate("() => sessionStorage.getItem('runledger.console.key')") is None,
              "the refused key stays in sessionStorage")
        self.ok("401 asks for the key again")

    def run(self):
        from playwright.sync_api import sync_playwright

        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        check(exe, "chromium not found on PATH (apt-get install chromium)")
        self.artifacts.mkdir(parents=True, exist_ok=True)
        print(f"console test against {self.base}, project {self.args.project}", flush=True)
        self.discover()
        self.security_policy()
        origin = urllib.parse.urlsplit(self.base)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
            context.add_init_script(RECORD_VIOLATIONS_JS)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda e: self.page_errors.append(str(e)))

            def on_request(req):
                u = urllib.parse.urlsplit(req.url)
                if req.url.startswith(PROBE_URL):
                    return
                if u.scheme in ("http", "https") and (u.scheme, u.netloc) != (origin.scheme, origin.netloc) \
                        and (u.scheme, u.netloc) not in self.allowed_origins:
                    self.foreign_requests.append(req.url)

            page.on("request", on_request)
            try:
                self.setup(page)
                self.blocked_fetch(page)
                execution_id = self.executions(page)
                ex = self.execution(page, execution_id)
                self.step(page, ex)
                self.trace_view(page)
                self.event_logs(page)
                self.stats(page)
                self.bodies(page)
                self.simulated(page)
                self.errors(page)
                check(not self.page_errors, f"JavaScript errors on the page: {self.page_errors[:3]}")
                check(not self.foreign_requests, f"requests to another host: {self.foreign_requests[:3]}")
                self.ok("no JavaScript error; nothing loaded from another host but the bodies bucket")
            except Exception:
                try:
                    path = self.artifacts / "failure.png"
                    page.screenshot(path=str(path), full_page=True)
                    print(f"screenshot of the failure: {path}", file=sys.stderr)
                except Exception:  # noqa: BLE001
                    pass
                raise
            finally:
                browser.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", required=True, help="origin serving /console and /v1, e.g. http://127.0.0.1:9000")
    ap.add_argument("--project", required=True)
    ap.add_argument("--key", required=True, help="an API key of the project")
    ap.add_argument("--invoke-url", default=os.environ.get("RUNLEDGER_INVOKE_URL"),
                    help="where the ingest function is invoked (default $RUNLEDGER_INVOKE_URL, else --base-url)")
    ap.add_argument("--artifacts", default="artifacts/console", help="screenshot folder (relative: to the repo root)")
    args = ap.parse_args()
    args.invoke_url = args.invoke_url or args.base_url
    if importlib.util.find_spec("playwright") is None:
        print("console test: FAILED: the playwright package is missing (pip install playwright)", file=sys.stderr)
        return 1
    test = ConsoleTest(args)
    started = time.monotonic()
    try:
        test.run()
    except Failure as e:
        print(f"console test: FAILED: {e}", file=sys.stderr)
        print(f"{len(test.passed)} passed, 1 failed", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a Playwright timeout or the like
        print(f"console test: FAILED: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        print(f"{len(test.passed)} passed, 1 failed", file=sys.stderr)
        return 1
    print(f"console test: all checks passed in {time.monotonic() - started:.0f} s; screenshots:")
    for p in test.screenshots:
        print(f"  {p}")
    print(f"{len(test.passed)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
