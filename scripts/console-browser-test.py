#!/usr/bin/env python3
"""The console in a real browser: Debian's Chromium driven by Selenium (chromium-driver), against a running
`levy serve` on a seeded store. Signs in, checks the liability total against an export job run over the API,
drills down to a state, opens a transaction's evidence, starts an export from the console and downloads it
(verified with `levy export verify`), refuses forms without the CSRF token, signs out. Optionally saves a
screenshot of each page.

usage: console-browser-test.py BASE_URL ADMIN_KEY_FILE LEVY_BINARY WORK_DIR [SCREENSHOT_DIR]
"""
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

base, key_file, levy, work = sys.argv[1:5]
shots = sys.argv[5] if len(sys.argv) > 5 else None
key = open(key_file).read().strip()
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def wait_until(condition, timeout=30):
    """Polls `condition` (a form post or a click navigates in the background) until it holds or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_for_job(job_id):
    for _ in range(300):
        job = api("GET", "/v1/exports/" + job_id)
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    return job


def shot(name):
    if shots:
        os.makedirs(shots, exist_ok=True)
        driver.set_window_size(1280, max(800, min(1800, driver.execute_script("return document.body.scrollHeight") + 40)))
        driver.save_screenshot(os.path.join(shots, "console-" + name + ".png"))
        driver.set_window_size(1280, 900)


def session_request(path, data=None):
    """A request with the browser's session cookie but made outside the browser (no CSRF token unless given)."""
    cookie = "; ".join(c["name"] + "=" + c["value"] for c in driver.get_cookies())
    request = urllib.request.Request(base + path, data=data, headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


options = Options()
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    # Not signed in: every page leads to the sign-in form.
    driver.get(base + "/console/liability")
    check(driver.current_url.endswith("/console/sign-in"), "an unsigned visit is sent to the sign-in page")
    shot("sign-in")
    # Login CSRF: another site's page posting this browser's own fresh sign-in pair with the attacker's key is refused
    # before the form is read (the browser says Sec-Fetch-Site: cross-site), and no session is opened.
    token = driver.find_element(By.NAME, "csrf").get_attribute("value")
    forged = ("<form method=post action='%s/console/sign-in'><input name=csrf value='%s'><input name=key value='%s'></form>"
              "<script>document.forms[0].submit()</script>") % (base, token, key)
    driver.get("data:text/html;charset=utf-8," + urllib.parse.quote(forged))
    check(wait_until(lambda: "another site" in driver.page_source), "a sign-in posted from another site's page is refused")
    check(all(c["name"] != "levy_console" for c in driver.get_cookies()), "no session was opened by it")
    driver.get(base + "/console/sign-in")
    driver.find_element(By.NAME, "key").send_keys("lvk_aaaaaaaaaaaaa_" + "b" * 32)
    driver.find_element(By.TAG_NAME, "form").submit()
    check(wait_until(lambda: "not valid" in driver.page_source), "a wrong key is refused")
    driver.find_element(By.NAME, "key").send_keys(key)
    driver.find_element(By.TAG_NAME, "form").submit()
    check(wait_until(lambda: driver.current_url.endswith("/console/liability")), "signing in with the admin key opens the liability page")
    check(key not in driver.page_source and all(key not in c["value"] for c in driver.get_cookies()), "the key is not in the page or a cookie")
    session = [c for c in driver.get_cookies() if c["name"] == "levy_console"]
    check(len(session) == 1 and session[0].get("httpOnly") and session[0].get("sameSite") == "Strict", "the session cookie is HttpOnly and SameSite=Strict")

    # Liability: the console's total equals the liability export's (run as an export job over the API).
    year = time.strftime("%Y")
    driver.get(base + "/console/liability?from=%s-01-01&through=%s-12-31&period=month" % (year, year))
    shown = driver.find_element(By.ID, "net-total").text.replace(",", "")
    job = wait_for_job(api("POST", "/v1/exports", {"kind": "liability", "from": year + "-01-01", "through": year + "-12-31"})["id"])
    check(job["status"] == "succeeded" and shown == job["control_totals"]["net_tax_due"],
          "liability total %s equals the export's net_tax_due %s" % (shown, job["control_totals"].get("net_tax_due")))
    check(len(driver.find_elements(By.TAG_NAME, "svg")) == 2, "two SVG charts (by state, by month)")
    shot("liability")
    state_links = driver.find_elements(By.CSS_SELECTOR, "table a[href*='state=']")
    check(len(state_links) > 0, "states link to their jurisdictions")
    if state_links:
        state = state_links[0].text
        state_links[0].click()
        check(wait_until(lambda: ("Liability: " + state) in driver.find_element(By.TAG_NAME, "h1").text),
              "the drill-down shows %s's jurisdictions" % state)
        shot("liability-state")

    # Transactions: search, then one order's evidence with its ledger entries and their hashes.
    driver.get(base + "/console/transactions")
    orders = driver.find_elements(By.CSS_SELECTOR, "table a[href^='/console/transactions/ord_']")
    check(len(orders) > 0, "the transactions page lists orders")
    shot("transactions")
    if orders:
        orders[0].click()
        wait_until(lambda: "Ledger entries" in driver.page_source)
        page = driver.page_source
        check("Ledger entries" in page and "Sourced" in page and "Taxability" in page, "an order's page shows sourcing, taxability and the ledger")
        check(re.search(r"[0-9a-f]{64}", page) is not None, "ledger entries show their hashes")
        check(re.search(r"\b4[0-9]{15}\b", page) is None, "no card number on the page")
        shot("transaction")

    # Exports: start one from the console, follow it, download the archive with the session, verify it.
    driver.get(base + "/console/exports")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    check(wait_until(lambda: "Started job_" in driver.page_source), "an export started from the console")
    link = None
    for _ in range(100):
        links = driver.find_elements(By.CSS_SELECTOR, "a.download")
        if links:
            link = links[0].get_attribute("href")
            break
        time.sleep(0.3)
        driver.get(base + "/console/exports")
    check(link is not None, "the export finished and offers its download")
    pinned = re.search(r"--public-key ([0-9a-f]{16})", driver.page_source)
    check(pinned is not None, "the exports page names the signing key's id")
    shot("exports")
    if link:
        status, archive = session_request(link[len(base):] if link.startswith(base) else link)
        check(status == 200, "the archive downloads with the session")
        folder = os.path.join(work, "downloaded")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        job_folder = os.path.join(folder, os.listdir(folder)[0])
        verified = subprocess.run([levy, "export", "verify", job_folder, "--public-key", pinned.group(1) if pinned else "none"],
                                  cwd=work, capture_output=True, text=True)
        check(verified.returncode == 0, "levy export verify accepts the downloaded folder: " + verified.stdout.strip()[:120])

    # Forms without the session's CSRF token are refused, even with the session cookie.
    status, _ = session_request("/console/exports", data=b"kind=liability&from=2026-01-01&through=2026-12-31")
    check(status == 403, "starting an export without the CSRF token is refused (%d)" % status)
    status, _ = session_request("/console/sign-out", data=b"")
    check(status == 403, "signing out without the CSRF token is refused (%d)" % status)

    # Reconciliation: upload the seeded settlement file from the console; the differences found are the injected ones.
    settlements = os.environ.get("LEVY_CONSOLE_SETTLEMENTS")
    if settlements:
        expected = sum(1 for _ in open(settlements + ".expected.csv")) - 1
        driver.get(base + "/console/reconciliations")
        driver.find_element(By.NAME, "settlements").send_keys(settlements)
        driver.find_element(By.NAME, "fee_percent").send_keys("2.9")
        driver.find_element(By.NAME, "fee_fixed").send_keys("0.30")
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        check(wait_until(lambda: "Started rec_" in driver.page_source), "a reconciliation started from an uploaded file")
        found = None
        for _ in range(200):
            links = driver.find_elements(By.CSS_SELECTOR, "table a[href^='/console/reconciliations/rec_']")
            if links:
                found = links[0].get_attribute("href")
                break
            if "failed" in driver.find_element(By.CSS_SELECTOR, "table").text:
                break
            time.sleep(0.3)
            driver.get(base + "/console/reconciliations")
        check(found is not None, "the reconciliation finished")
        shot("reconciliations")
        if found:
            driver.get(found)
            total = driver.find_element(By.ID, "differences-total").text
            check(total == str(expected), "the run found the %d injected differences (%s)" % (expected, total))
            reasons = driver.find_elements(By.CSS_SELECTOR, "table a[href*='reason=']")
            check(len(reasons) > 0, "differences are listed by reason")
            shot("reconciliation")
            if reasons:
                reasons[0].click()
                check(wait_until(lambda: "Differences: " in driver.page_source), "a reason's differences open")

    for name in ("nexus", "tables", "disclosures"):
        driver.get(base + "/console/" + name)
        check(driver.find_element(By.TAG_NAME, "h1").text.startswith(name.capitalize()), "the %s page opens" % name)
        shot(name)

    # Sign out: the session ends, and its cookie opens nothing any more.
    old = [c for c in driver.get_cookies() if c["name"] == "levy_console"]
    driver.find_element(By.CSS_SELECTOR, "header form button").click()
    check(wait_until(lambda: driver.current_url.endswith("/console/sign-in")), "signing out returns to the sign-in page")
    if old:
        request = urllib.request.Request(base + "/console/liability", headers={"Cookie": "levy_console=" + old[0]["value"]})
        opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {"redirect_request": lambda *a, **k: None}))
        try:
            opener.open(request, timeout=30)
            check(False, "the old session cookie is refused after sign-out")
        except urllib.error.HTTPError as error:
            check(error.code == 303, "the old session cookie is refused after sign-out (%d)" % error.code)
finally:
    driver.quit()

print("console browser test: %d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
