"""Journeys through the pages in headless Chromium (scripts/browser-tests starts the server with
the demo data). Each step asserts what the page shows, and where it matters what the API then
holds. Usage: journeys.py BASE_URL ARTIFACTS_DIR"""
import hashlib
import json
import subprocess
import sys
import time
import unittest
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait

BASE, ARTIFACTS = sys.argv[1], sys.argv[2]
FAN = {"email": "fan@demo.boxoffice.local", "password": "demo fan 2026"}


def browser(width=360, height=800, language="ko"):
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     f"--lang={language}", "--hide-scrollbars"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    if width < 500:
        # A desktop window cannot be that narrow; a phone's viewport is emulated instead.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def api(method, path, body=None, token=None):
    request = urllib.request.Request(BASE + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def sign_in(driver, email, password):
    """Fills the sign-in form on the page the driver shows and submits it."""
    form = driver.find_element(By.ID, "signin")
    form.find_element(By.NAME, "email").send_keys(email)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.TAG_NAME, "button").click()


def buy(token, performance, seat_ids):
    """Holds the seats and pays for them from the wallet, through the API; returns the checkout's answer."""
    status, hold = api("POST", f"/v1/performances/{performance}/holds", {"seatIds": seat_ids}, token)
    assert status == 201, hold
    request = urllib.request.Request(BASE + "/v1/checkout", method="POST", data=json.dumps({"holdId": hold["id"], "method": "wallet"}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                                              "Idempotency-Key": str(uuid.uuid4())})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
        return json.loads(response.read())


def human_check():
    """A solved proof-of-work challenge, as the pages' worker solves it."""
    _, challenge = api("POST", "/v1/auth/challenge", {})
    nonce = 0
    while True:
        digest = hashlib.sha256(f"{challenge['challenge']}:{nonce}".encode()).digest()
        if int.from_bytes(digest, "big") >> (256 - challenge["difficulty"]) == 0:
            return {"challenge": challenge["challenge"], "nonce": str(nonce)}
        nonce += 1


# Every visible piece of text against the background it is drawn on: WCAG's contrast ratio,
# at least 4.5:1 (3:1 for large text). Disabled controls are exempt, as WCAG says.
CONTRAST_CHECK = """
function channel(c) { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
function parse(color) { var m = color.match(/[\\d.]+/g) || []; return m.map(Number); }
function luminance(rgb) { return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]); }
function background(node) {
  for (var at = node; at && at.nodeType === 1; at = at.parentElement) {
    var c = parse(getComputedStyle(at).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
  }
  return [255, 255, 255];
}
var failures = [];
var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  var text = walker.currentNode, node = text.parentElement;
  if (!text.textContent.trim() || !node || node.closest("[disabled], [aria-hidden=true], script, style, svg")) continue;
  var box = node.getBoundingClientRect(), style = getComputedStyle(node);
  if (!box.width || !box.height || style.visibility === "hidden") continue;
  var fg = parse(style.color), bg = background(node);
  var a = luminance(fg), b = luminance(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  var size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
  var needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) failures.push(text.textContent.trim().slice(0, 40) + " — " + ratio.toFixed(2) + ":1 (" + style.color + " on rgb(" + bg.join(",") + "))");
}
return failures;
"""


def queued_aurora_performance(days_ahead, queued=True):
    """A new Aurora performance on sale now, behind a waiting room open now unless `queued` is
    False; returns (its id, the organizer's token)."""
    _, organizer = api("POST", "/v1/auth/signin", {"email": "organizer@demo.boxoffice.local", "password": "demo organizer 2026"})
    token = organizer["accessToken"]
    now = time.time()
    iso = lambda seconds: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + seconds))
    status, performance = api("POST", f"/v1/events/{first_event_id('Aurora')}/performances", {
        "startsAt": iso(days_ahead * 86400), "onSaleFrom": iso(-60), "onSaleUntil": iso((days_ahead - 1) * 86400),
        "prices": [{"tier": t, "price": {"amount": a, "currency": "KRW"}} for t, a in (("VIP", 165000), ("R", 143000), ("S", 110000))],
        "maxSeatsPerOrder": 4}, token)
    assert status == 201, performance
    if not queued:
        return performance["id"], token
    status, queue = api("PUT", f"/v1/performances/{performance['id']}/queue", {
        "enabled": True, "opensAt": iso(-30), "prequeueMinutes": 0, "admitPerMinute": 600, "maxActiveShoppers": 50}, token)
    assert status < 300, queue
    return performance["id"], token


def first_event_id(title_prefix):
    _, listing = api("GET", "/v1/events")
    return next(event["id"] for event in listing["items"] if event["title"].startswith(title_prefix))


class Journeys(unittest.TestCase):
    def assert_fits(self, driver, what):
        """The page does not scroll sideways at the window's width."""
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        self.assertLessEqual(overflow, 0, f"{what} scrolls sideways at {driver.execute_script('return window.innerWidth')} px")

    def wait(self, driver, condition, seconds=30):
        # Pages re-render parts of themselves: an element replaced mid-look is looked up again.
        return WebDriverWait(driver, seconds, ignored_exceptions=[StaleElementReferenceException]).until(condition)

    def test_a_fan_signs_up_solving_the_check_in_the_page_then_signs_out_and_in_again(self):
        driver = browser()
        try:
            email = f"new-fan-{uuid.uuid4().hex[:8]}@example.com"
            driver.get(BASE + "/signup")
            form = driver.find_element(By.ID, "signup")
            form.find_element(By.NAME, "name").send_keys("김민지")
            form.find_element(By.NAME, "email").send_keys(email)
            form.find_element(By.NAME, "password").send_keys("correct horse battery")
            form.find_element(By.TAG_NAME, "button").click()
            # The check is solved in a worker, the account made, the session cookie set: home, signed in.
            self.wait(driver, lambda d: d.current_url.rstrip("/") == BASE)
            self.wait(driver, lambda d: "김민지" in d.execute_script("return document.getElementById('account').textContent"))
            status, session = api("POST", "/v1/auth/signin", {"email": email, "password": "correct horse battery"})
            self.assertEqual(status, 200, "the account the page made signs in through the API")
            self.assertEqual(session["user"]["name"], "김민지")
            driver.save_screenshot(f"{ARTIFACTS}/signed-in-360.png")

            driver.find_element(By.CSS_SELECTOR, "#account button").click()
            self.wait(driver, lambda d: d.execute_script(
                "return location.pathname === '/' && !document.querySelector('#account button') && !!document.querySelector('#account a[href=\"/signin\"]')"))
            driver.get(BASE + "/signin")
            sign_in(driver, email, "correct horse battery")
            self.wait(driver, lambda d: "김민지" in d.execute_script("return document.getElementById('account').textContent"))
        finally:
            driver.quit()

    def test_a_wrong_password_and_bad_fields_read_as_messages_not_json(self):
        driver = browser(language="en")
        try:
            driver.get(BASE + "/signin")
            sign_in(driver, FAN["email"], "not the password")
            banner = self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, "#signin .form-error")))
            self.assertTrue(banner.text.strip())
            self.assertNotIn("{", banner.text, "a message, never a JSON dump")
            self.assertIn("/signin", driver.current_url)

            driver.get(BASE + "/signup")
            form = driver.find_element(By.ID, "signup")
            form.find_element(By.NAME, "name").send_keys("Someone")
            form.find_element(By.NAME, "email").send_keys("not-an-email")
            form.find_element(By.NAME, "password").send_keys("short")
            form.find_element(By.TAG_NAME, "button").click()
            note = self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, "#signup .field-error")))
            self.assertTrue(note.text.strip())
            self.assertEqual(form.find_element(By.NAME, "email").get_attribute("aria-invalid"), "true")
        finally:
            driver.quit()

    def test_the_pages_fit_a_phone_and_a_desktop_in_korean_and_english(self):
        event = first_event_id("Aurora")
        for width, height in ((360, 800), (1280, 900)):
            for language in ("ko", "en"):
                driver = browser(width, height, language)
                try:
                    for name, path in (("home", "/"), ("event", f"/events/{event}"), ("signin", "/signin"), ("scan", "/scan"), ("not-found", "/no/such/page")):
                        driver.get(BASE + path)
                        self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), language)
                        self.assertEqual(driver.execute_script("return window.innerWidth"), width, "the viewport is the width asked for")
                        self.assert_fits(driver, f"{path} ({language})")
                        driver.save_screenshot(f"{ARTIFACTS}/{name}-{language}-{width}.png")
                    driver.get(BASE + f"/events/{event}")
                    body = driver.find_element(By.TAG_NAME, "main").text
                    if language == "ko":
                        self.assertIn("143,000원", body)
                        self.assertIn("남음", body)
                    else:
                        self.assertIn("₩143,000", body)
                        self.assertIn("left", body)
                    driver.get(BASE + "/no/such/page")
                    self.assertIn("페이지를 찾을 수 없습니다" if language == "ko" else "Page not found", driver.page_source)
                finally:
                    driver.quit()

    def test_a_fan_picks_two_seats_on_the_map_holds_and_pays_while_another_fan_sees_them_go(self):
        event = first_event_id("Aurora")
        _, page = api("GET", f"/v1/events/{event}")
        performance = page["performances"][0]["id"]
        onlooker = browser(1280, 900, "en")
        fan = browser(360, 800, "ko")
        try:
            # Someone else is looking at the same map, without signing in.
            onlooker.get(f"{BASE}/performances/{performance}")
            self.wait(onlooker, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)

            fan.get(f"{BASE}/signin?next=/performances/{performance}")
            sign_in(fan, FAN["email"], FAN["password"])
            self.wait(fan, lambda d: "/performances/" in d.current_url)
            self.wait(fan, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
            # Two free seats: one by pointer, the next along the row by keyboard.
            free = [node for node in fan.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]") if "taken" not in node.get_attribute("class")]
            first = free[0]
            fan.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", first)
            fan.execute_script("arguments[0].setAttribute('tabindex', '0'); arguments[0].focus()", first)
            fan.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
            second = fan.switch_to.active_element
            second.send_keys(Keys.ENTER)
            chosen = [first.get_attribute("data-seat"), second.get_attribute("data-seat")]
            self.assertNotEqual(chosen[0], chosen[1])
            self.assertIn("선택한 좌석", fan.find_element(By.ID, "selection").text)
            self.assertIn("구역", second.get_attribute("aria-label"), "each seat says where it is")
            fan.find_element(By.ID, "hold").click()
            self.wait(fan, seen.visibility_of_element_located((By.ID, "holdpanel")))
            self.assertRegex(fan.find_element(By.ID, "countdown").text, r"^[0-9]+:[0-5][0-9]$")
            fan.save_screenshot(f"{ARTIFACTS}/seatmap-held-ko-360.png")
            fan.find_element(By.ID, "pay").click()
            try:
                done = self.wait(fan, seen.visibility_of_element_located((By.ID, "donepanel")))
            except Exception:
                fan.save_screenshot(f"{ARTIFACTS}/seatmap-pay-failed.png")
                raise AssertionError("paying did not finish; the page says: " + fan.find_element(By.ID, "buy").text)
            self.assertIn("티켓 2장", done.text)
            fan.save_screenshot(f"{ARTIFACTS}/seatmap-paid-ko-360.png")

            # The onlooker's map shows both seats gone, without reloading.
            self.wait(onlooker, lambda d: all("taken" in d.find_element(By.CSS_SELECTOR, f"[data-seat='{seat}']").get_attribute("class")
                                              for seat in chosen), seconds=10)
            onlooker.save_screenshot(f"{ARTIFACTS}/seatmap-onlooker-en-1280.png")
            # And the API holds two valid tickets for those seats, paid from the wallet.
            _, session = api("POST", "/v1/auth/signin", FAN)
            _, tickets = api("GET", "/v1/tickets", token=session["accessToken"])
            seats = {ticket["seat"]["id"] for ticket in tickets["items"] if ticket["performanceId"] == performance and ticket["status"] == "valid"}
            self.assertTrue(set(chosen) <= seats, f"{chosen} are among the fan's tickets {seats}")
            _, wallet = api("GET", "/v1/wallet", token=session["accessToken"])
            self.assertLess(wallet["balance"]["amount"], 2_000_000)

            # The wallet page: the balance the API has, and the purchase in the history.
            fan.get(BASE + "/wallet")
            self.wait(fan, lambda d: d.find_element(By.ID, "balance").text != "–")
            self.assertEqual(fan.find_element(By.ID, "balance").text, f"{wallet['balance']['amount']:,}원")
            self.wait(fan, lambda d: "구매" in d.find_element(By.ID, "ledger").text)

            # My tickets: each with a QR code that reads back as its signed code…
            fan.get(BASE + "/tickets")
            self.wait(fan, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".ticket .qr svg")) >= 2)
            codes = {ticket["seat"]["id"]: ticket["code"] for ticket in tickets["items"] if ticket["performanceId"] == performance}
            for item in fan.find_elements(By.CSS_SELECTOR, ".ticket"):
                self.assertNotIn(item.find_element(By.TAG_NAME, "h2").text, codes.keys(), "each ticket names its show")
                self.assertTrue(item.find_element(By.TAG_NAME, "h2").text.startswith(("Aurora", "Daybreak", "The Lantern", "Hanbit")), item.text)
                code = item.find_element(By.TAG_NAME, "code").text
                if code not in codes.values():
                    continue
                picture = f"{ARTIFACTS}/qr-{len(code)}-{code[-6:]}.png"
                item.find_element(By.CSS_SELECTOR, ".qr").screenshot(picture)
                read = subprocess.run(["zbarimg", "-q", "--raw", picture], capture_output=True, text=True)
                self.assertEqual(read.stdout.strip(), code, "the QR code drawn in the page reads as the ticket's code")
            fan.save_screenshot(f"{ARTIFACTS}/tickets-ko-360.png")
            # …and the page still opens with no network (the service worker kept it).
            self.wait(fan, lambda d: d.execute_script("return !!(navigator.serviceWorker && navigator.serviceWorker.controller)") or
                      (d.refresh() or False), seconds=15)
            # Loaded once more under the worker, so it has seen (and kept) the answers.
            fan.refresh()
            self.wait(fan, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".ticket .qr svg")) >= 2)
            def kept(d):
                return d.execute_async_script("""
                    var done = arguments[arguments.length - 1];
                    Promise.all(["/tickets", "/v1/tickets?limit=100"].map(function (path) { return caches.match(path); }))
                      .then(function (found) { done(found.every(function (response) { return !!response; })); });""")
            self.wait(fan, kept, seconds=10)
            fan.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            fan.get(BASE + "/tickets")
            self.wait(fan, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".ticket .qr svg")) >= 2)
            fan.save_screenshot(f"{ARTIFACTS}/tickets-offline-ko-360.png")
        finally:
            fan.quit()
            onlooker.quit()

    def test_door_staff_scan_a_ticket_by_code_valid_then_already_used_with_the_first_gate(self):
        # A ticket of the demo fan's, bought through the API for the second Aurora night.
        _, page = api("GET", f"/v1/events/{first_event_id('Aurora')}")
        performance = page["performances"][1]["id"]
        _, session = api("POST", "/v1/auth/signin", FAN)
        token = session["accessToken"]
        _, seatmap = api("GET", f"/v1/performances/{performance}/availability")
        seat = next(s["id"] for s in seatmap["seats"] if s["state"] == "available")
        code = buy(token, performance, [seat])["tickets"][0]["code"]

        driver = browser(360, 800, "en")
        try:
            driver.get(BASE + "/signin?next=/scan")
            sign_in(driver, "staff@demo.boxoffice.local", "demo staff 2026")
            scan = self.wait(driver, seen.presence_of_element_located((By.ID, "scanform")))
            from selenium.webdriver.support.ui import Select
            Select(scan.find_element(By.NAME, "performance")).select_by_value(performance)
            scan.find_element(By.NAME, "gate").send_keys("A")
            scan.find_element(By.NAME, "code").send_keys(code)
            scan.find_element(By.TAG_NAME, "button").click()
            verdict = self.wait(driver, seen.visibility_of_element_located((By.ID, "verdict")))
            self.wait(driver, lambda d: "valid" in d.find_element(By.ID, "verdict").get_attribute("class"))
            self.assertEqual(verdict.find_element(By.CLASS_NAME, "word").text, "VALID")
            driver.save_screenshot(f"{ARTIFACTS}/scan-valid-en-360.png")

            gate = scan.find_element(By.NAME, "gate")
            gate.clear()
            gate.send_keys("B")
            scan.find_element(By.NAME, "code").send_keys(code)
            scan.find_element(By.TAG_NAME, "button").click()
            self.wait(driver, lambda d: "used" in d.find_element(By.ID, "verdict").get_attribute("class"))
            self.assertEqual(verdict.find_element(By.CLASS_NAME, "word").text, "ALREADY USED")
            self.assertIn("Gate A", verdict.find_element(By.CLASS_NAME, "detail").text)
            driver.save_screenshot(f"{ARTIFACTS}/scan-used-en-360.png")

            scan.find_element(By.NAME, "code").send_keys(code[:-3] + "AAA")
            scan.find_element(By.TAG_NAME, "button").click()
            self.wait(driver, lambda d: "invalid" in d.find_element(By.ID, "verdict").get_attribute("class"))
            # The gate is remembered on the device.
            driver.get(BASE + "/scan")
            self.assertEqual(driver.find_element(By.NAME, "gate").get_attribute("value"), "B")
        finally:
            driver.quit()
        _, tickets = api("GET", "/v1/tickets", token=token)
        scanned = next(ticket for ticket in tickets["items"] if ticket["code"] == code)
        self.assertEqual(scanned["firstGate"], "A")

    def test_a_fan_is_sent_through_the_waiting_room_admitted_and_buys_a_seat(self):
        # The demo organizer puts a new performance of the Aurora tour on sale behind a queue open now.
        performance, _ = queued_aurora_performance(40)
        driver = browser(360, 800, "en")
        try:
            driver.get(f"{BASE}/signin?next=/performances/{performance}")
            sign_in(driver, FAN["email"], FAN["password"])
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
            free = [node for node in driver.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]") if "taken" not in node.get_attribute("class")]
            driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", free[0])
            driver.find_element(By.ID, "hold").click()
            # No admission yet: the page sends the fan to the waiting room, which joins, waits and sends them back.
            self.wait(driver, lambda d: d.current_url.endswith("/queue"))
            driver.save_screenshot(f"{ARTIFACTS}/queue-en-360.png")
            self.wait(driver, lambda d: d.current_url.endswith(f"/performances/{performance}"), seconds=40)
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
            free = [node for node in driver.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]") if "taken" not in node.get_attribute("class")]
            driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", free[0])
            driver.find_element(By.ID, "hold").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "holdpanel")))
            driver.find_element(By.ID, "pay").click()
            done = self.wait(driver, seen.visibility_of_element_located((By.ID, "donepanel")))
            self.assertIn("1", done.text)
        finally:
            driver.quit()
        _, session = api("POST", "/v1/auth/signin", FAN)
        _, tickets = api("GET", "/v1/tickets?limit=100", token=session["accessToken"])
        self.assertEqual(len([t for t in tickets["items"] if t["performanceId"] == performance]), 1)

    def test_an_organizer_builds_a_venue_and_a_performance_on_the_desk_and_watches_it_sell(self):
        tag = uuid.uuid4().hex[:6]
        driver = browser(1280, 1000, "en")
        try:
            driver.get(BASE + "/signin?next=/organizer")
            sign_in(driver, "organizer@demo.boxoffice.local", "demo organizer 2026")
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#events .desk-event")) >= 3)

            venue_form = driver.find_element(By.ID, "venue-form")
            venue_form.find_element(By.NAME, "name").send_keys(f"Journey Hall {tag}")
            venue_form.find_element(By.NAME, "address").send_keys("1 Test-ro, Seoul")
            venue_form.find_element(By.TAG_NAME, "button").click()
            seat_form = driver.find_element(By.ID, "seatmap-form")
            self.wait(driver, lambda d: f"Journey Hall {tag}" in seat_form.find_element(By.NAME, "venue").text)
            venue = seat_form.find_element(By.NAME, "venue").get_attribute("value")

            # A file with a bad line: the check names the line, and nothing can be saved.
            csv = seat_form.find_element(By.NAME, "csv")
            csv.send_keys("section,row,seat,x,y,tier\nA,1,1,0,0,R\nA,1,2,left,0,R\nA,1,3,2,0,S\n")
            seat_form.find_element(By.NAME, "check").click()
            bad = self.wait(driver, seen.visibility_of_element_located((By.ID, "bad-lines")))
            self.assertIn("line 3", bad.text)
            self.assertFalse(driver.find_element(By.ID, "seatmap-save").is_enabled())
            driver.save_screenshot(f"{ARTIFACTS}/desk-bad-line-en-1280.png")
            csv.clear()
            csv.send_keys("section,row,seat,x,y,tier\nA,1,1,0,0,R\nA,1,2,1,0,R\nA,1,3,2,0,S\n")
            seat_form.find_element(By.NAME, "check").click()
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap-preview circle")) == 3)
            self.assertFalse(bad.is_displayed())
            driver.find_element(By.ID, "seatmap-save").click()
            self.wait(driver, lambda d: "3" in d.find_element(By.ID, "seatmap-status").text and not d.find_element(By.ID, "seatmap-save").is_enabled())
            _, seatmap = api("GET", f"/v1/venues/{venue}/seatmap")
            self.assertEqual([seat["label"] for seat in seatmap["seats"]], ["A-1-1", "A-1-2", "A-1-3"])

            event_form = driver.find_element(By.ID, "event-form")
            event_form.find_element(By.NAME, "title").send_keys(f"Journey Night {tag}")
            event_form.find_element(By.NAME, "artist").send_keys("The Testers")
            self.assertEqual(event_form.find_element(By.NAME, "venueId").get_attribute("value"), venue)
            event_form.find_element(By.TAG_NAME, "button").click()
            # The new performance form offers one price per tier of the venue's map.
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#prices input[data-tier]")) == 2)
            performance_form = driver.find_element(By.ID, "performance-form")
            performance_form.find_element(By.CSS_SELECTOR, "input[data-tier=R]").send_keys("50000")
            performance_form.find_element(By.CSS_SELECTOR, "input[data-tier=S]").send_keys("30000")
            # On sale a minute ago (Korea time), so a fan can buy at once.
            driver.execute_script("arguments[0].value = window.BoxofficePage.koreaLocal(new Date(Date.now() - 60000))",
                                  performance_form.find_element(By.NAME, "onSaleFrom"))
            performance_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            # The desk redraws its list after each change, so the card is looked up in the page itself.
            find_card = """var title = arguments[0];
                return Array.from(document.querySelectorAll('#events .desk-event')).filter(function (card) {
                return card.textContent.indexOf(title) >= 0 && card.querySelector('a.button'); })
                .map(function (card) { return [card.getAttribute('data-event'), card.querySelector('a.button').href]; })[0] || null;"""
            event_id, sales_link = self.wait(driver, lambda d: d.execute_script(find_card, f"Journey Night {tag}"))
            performance = sales_link.rsplit("/", 1)[1]
            self.assertEqual(api("GET", f"/v1/events/{event_id}")[0], 404)  # a draft is not public
            driver.find_element(By.XPATH, f"//article[@data-event='{event_id}']//button[text()='Publish']").click()
            driver.switch_to.alert.accept()
            self.wait(driver, lambda d: "Published" in d.find_element(By.CSS_SELECTOR, f".desk-event[data-event='{event_id}'] .badge").text)
            driver.save_screenshot(f"{ARTIFACTS}/desk-en-1280.png")
            # Its details change in place: an empty title is refused where it was typed, a new artist is kept.
            driver.find_element(By.CSS_SELECTOR, f"button[data-edit='{event_id}']").click()
            edit = self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, f".desk-event[data-event='{event_id}'] form.event-edit")))
            edit.find_element(By.NAME, "title").clear()
            edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            self.wait(driver, lambda d: edit.find_elements(By.CSS_SELECTOR, "[aria-invalid=true], .form-error:not([hidden])"))
            edit.find_element(By.NAME, "title").send_keys(f"Journey Night {tag}")
            artist = edit.find_element(By.NAME, "artist")
            artist.clear()
            artist.send_keys("The Journeymen")
            edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            self.wait(driver, lambda d: "The Journeymen" in d.find_element(By.CSS_SELECTOR, f".desk-event[data-event='{event_id}']").text)
            self.assertEqual(api("GET", f"/v1/events/{event_id}")[1]["artist"], "The Journeymen")

            # A fan buys seat A-1-1 through the API; the sales page shows the order and the money.
            _, session = api("POST", "/v1/auth/signin", FAN)
            _, availability = api("GET", f"/v1/performances/{performance}/availability")
            seat = next(s["id"] for s in availability["seats"] if s["label"] == "A-1-1")
            buy(session["accessToken"], performance, [seat])
            driver.get(sales_link)
            self.wait(driver, lambda d: d.find_element(By.ID, "paid-orders").text == "1")
            self.assertEqual(driver.find_element(By.ID, "net").text, "₩50,000")
            # Available, held, sold, revenue for tier R (the seat counts follow the relay within seconds).
            self.wait(driver, lambda d: [cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#tier-rows tr[data-tier=R] td")]
                      == ["1", "0", "1", "₩50,000"])
            row = self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, "#order-rows tr[data-order]")))
            self.assertIn(FAN["email"], row.text)
            row.click()
            detail = self.wait(driver, seen.visibility_of_element_located((By.ID, "order-detail")))
            self.assertIn("A-1-1", detail.text)
            search = driver.find_element(By.ID, "order-search")
            search.find_element(By.NAME, "q").send_keys("A-1-3")
            search.find_element(By.TAG_NAME, "button").click()
            self.wait(driver, lambda d: d.find_element(By.ID, "orders-empty").is_displayed())
            driver.save_screenshot(f"{ARTIFACTS}/sales-en-1280.png")

            # The organizer changes the performance: the sale has opened, so prices are fixed and
            # the refund terms only get kinder; the hold time changes.
            edit = driver.find_element(By.ID, "performance-edit")
            self.wait(driver, lambda d: edit.find_element(By.NAME, "holdMinutes").get_attribute("value") != "")
            self.assertTrue(driver.find_element(By.ID, "prices-fixed").is_displayed())
            self.assertTrue(all(not box.is_enabled() for box in edit.find_elements(By.CSS_SELECTOR, "input[data-tier]")))
            fee = edit.find_element(By.NAME, "cancellationFeePercent")
            fee.clear()
            fee.send_keys("30")
            edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            self.wait(driver, lambda d: "can only go down" in edit.text)
            fee.clear()
            fee.send_keys("0")
            hold_minutes = edit.find_element(By.NAME, "holdMinutes")
            hold_minutes.clear()
            hold_minutes.send_keys("9")
            edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            self.wait(driver, lambda d: d.find_element(By.ID, "edit-status").text == "The performance is saved.")
            self.assertEqual(api("GET", f"/v1/performances/{performance}")[1]["holdMinutes"], 9)
            driver.execute_script("arguments[0].scrollIntoView()", edit)
            driver.save_screenshot(f"{ARTIFACTS}/desk-edit-en-1280.png")
        finally:
            driver.quit()
        # Both pages on a phone, in Korean, signed in (the header carries the desk link too).
        driver = browser(360, 800, "ko")
        try:
            driver.get(BASE + "/signin?next=/organizer")
            sign_in(driver, "organizer@demo.boxoffice.local", "demo organizer 2026")
            self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#events .desk-event"))
            for name, path in (("desk", "/organizer"), ("sales", sales_link)):
                driver.get(path if path.startswith("http") else BASE + path)
                self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#events .desk-event, #tier-rows tr"))
                self.assertTrue(driver.find_element(By.CSS_SELECTOR, "#account a[href='/organizer']").is_displayed())
                self.assert_fits(driver, path)
                driver.save_screenshot(f"{ARTIFACTS}/{name}-ko-360.png")
        finally:
            driver.quit()

    def test_a_fan_sees_what_comes_back_cancels_one_ticket_and_gives_the_other_away(self):
        # Three seats of The Lantern Keeper, bought through the API: one to cancel, one to give, one to keep.
        _, page = api("GET", f"/v1/events/{first_event_id('The Lantern')}")
        performance = page["performances"][0]["id"]
        _, session = api("POST", "/v1/auth/signin", FAN)
        token = session["accessToken"]
        _, seatmap = api("GET", f"/v1/performances/{performance}/availability")
        # The cheapest tier: the demo fan's points also pay for the other journeys.
        seats = [s["id"] for s in seatmap["seats"] if s["state"] == "available" and s["tier"] == "S"][:3]
        bought = buy(token, performance, seats)
        order = bought["order"]["id"]
        cancelled_ticket, given_ticket = bought["order"]["items"][0], bought["order"]["items"][1]
        _, wallet_before = api("GET", "/v1/wallet", token=token)
        _, quote = api("POST", f"/v1/orders/{order}/cancel?dryRun=true", {"ticketIds": [cancelled_ticket["ticketId"]]}, token)

        driver = browser(1280, 900, "en")
        try:
            driver.get(BASE + "/signin?next=/orders")
            sign_in(driver, FAN["email"], FAN["password"])
            card = self.wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, f".order-card[data-order='{order}']"))
            self.assertIn("The Lantern Keeper", card.text)
            self.assertIn("Paid", card.text)
            # Nothing chosen: the page says so and asks nothing of the API.
            card.find_element(By.CSS_SELECTOR, ".cancel-start").click()
            self.assertIn("Choose the tickets", card.find_element(By.CSS_SELECTOR, ".card-error").text)
            card.find_element(By.CSS_SELECTOR, f"input[value='{cancelled_ticket['ticketId']}']").click()
            card.find_element(By.CSS_SELECTOR, ".cancel-start").click()
            box = self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, f".order-card[data-order='{order}'] .quote")))
            # The quote the page shows is the API's: fee and what comes back, and until when.
            self.assertIn(f"₩{quote['refund']['amount']:,}", box.text)
            self.assertIn(f"({quote['feePercent']}%)", box.text)
            self.assertIn("You can cancel until", box.text)
            driver.save_screenshot(f"{ARTIFACTS}/orders-quote-en-1280.png")
            self.assertEqual(api("GET", "/v1/wallet", token=token)[1]["balance"], wallet_before["balance"], "a quote moves no money")
            box.find_element(By.CSS_SELECTOR, "button.danger").click()
            self.wait(driver, lambda d: "Cancelled" in d.find_element(By.CSS_SELECTOR, f".order-card[data-order='{order}'] .order-note").text)
            self.assertIn("Partly cancelled", driver.find_element(By.CSS_SELECTOR, f".order-card[data-order='{order}']").text)
            _, after = api("GET", f"/v1/orders/{order}", token=token)
            self.assertEqual(after["status"], "partially_cancelled")
            self.assertEqual(after["refunded"]["amount"], quote["refund"]["amount"])
            _, wallet_after = api("GET", "/v1/wallet", token=token)
            self.assertEqual(wallet_after["balance"]["amount"] - wallet_before["balance"]["amount"], quote["refund"]["amount"])

            # The other ticket goes to the demo staff member's account, from My tickets.
            driver.get(BASE + "/tickets")
            item = self.wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, f".ticket[data-ticket='{given_ticket['ticketId']}']"))
            item.find_element(By.CSS_SELECTOR, ".give summary").click()
            item.find_element(By.NAME, "email").send_keys("nobody@example.com")
            item.find_element(By.CSS_SELECTOR, ".give button").click()
            driver.switch_to.alert.accept()
            self.wait(driver, lambda d: "No Boxoffice account" in item.text)
            email = item.find_element(By.NAME, "email")
            email.clear()
            email.send_keys("staff@demo.boxoffice.local")
            item.find_element(By.CSS_SELECTOR, ".give button").click()
            driver.switch_to.alert.accept()
            self.wait(driver, lambda d: "Given to staff@demo.boxoffice.local" in d.find_element(By.ID, "ticketstatus").text)
            self.assertFalse(driver.find_elements(By.CSS_SELECTOR, f".ticket[data-ticket='{given_ticket['ticketId']}']"))
            _, staff = api("POST", "/v1/auth/signin", {"email": "staff@demo.boxoffice.local", "password": "demo staff 2026"})
            _, theirs = api("GET", "/v1/tickets", token=staff["accessToken"])
            self.assertIn(given_ticket["ticketId"], [ticket["id"] for ticket in theirs["items"]])
            _, mine = api("GET", "/v1/tickets", token=token)
            self.assertNotIn(given_ticket["ticketId"], [ticket["id"] for ticket in mine["items"]])
        finally:
            driver.quit()
        # The same pages on a phone, in Korean: no sideways scrolling, the history readable.
        phone = browser(360, 800, "ko")
        try:
            phone.get(BASE + "/signin?next=/orders")
            sign_in(phone, FAN["email"], FAN["password"])
            card = self.wait(phone, lambda d: d.find_element(By.CSS_SELECTOR, f".order-card[data-order='{order}']"))
            self.assertIn("부분 취소", card.text)
            self.assertIn("양도함", card.text, "the ticket given away is marked so")
            card.find_element(By.CSS_SELECTOR, ".history summary").click()
            self.assertGreaterEqual(len(card.find_elements(By.CSS_SELECTOR, ".history li")), 2)
            for name in ("orders", "tickets"):
                if name == "tickets":
                    phone.get(BASE + "/tickets")
                    self.wait(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".ticket .give"))
                    phone.find_element(By.CSS_SELECTOR, ".give summary").click()
                self.assert_fits(phone, f"/{name}")
                phone.save_screenshot(f"{ARTIFACTS}/{name}-ko-360.png")
        finally:
            phone.quit()

    def test_a_fan_pays_by_card_on_the_gateways_page_and_tops_the_wallet_up(self):
        # The second Aurora night: one seat held on the map, paid on the sandbox gateway's page.
        _, page = api("GET", f"/v1/events/{first_event_id('Aurora')}")
        performance = page["performances"][1]["id"]
        _, session = api("POST", "/v1/auth/signin", FAN)
        token = session["accessToken"]
        driver = browser(360, 800, "en")
        try:
            driver.get(f"{BASE}/signin?next=/performances/{performance}")
            sign_in(driver, FAN["email"], FAN["password"])
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
            free = [node for node in driver.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]") if "taken" not in node.get_attribute("class")]
            seat = free[-1].get_attribute("data-seat")
            driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", free[-1])
            driver.find_element(By.ID, "hold").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "holdpanel")))
            _, wallet_before = api("GET", "/v1/wallet", token=token)
            driver.find_element(By.ID, "paycard").click()
            self.wait(driver, lambda d: "/sandbox/payments/" in d.current_url)
            pay = self.wait(driver, lambda d: d.find_element(By.ID, "pay-now") if d.find_element(By.ID, "pay-now").is_enabled() else None)
            self.assertRegex(pay.text, r"^Pay ₩[0-9,]+$")
            self.assertIn("1 ticket", driver.find_element(By.ID, "pay-for").text)
            driver.save_screenshot(f"{ARTIFACTS}/sandbox-pay-en-360.png")
            pay.click()
            # Back on My orders, which follows the order until the gateway's webhook has paid it.
            self.wait(driver, lambda d: "/orders?order=" in d.current_url)
            order = driver.current_url.split("order=")[1]
            self.wait(driver, lambda d: "Paid!" in d.find_element(By.CSS_SELECTOR, f".order-card[data-order='{order}'] .order-note").text)
            driver.save_screenshot(f"{ARTIFACTS}/orders-paid-by-card-en-360.png")
            _, paid = api("GET", f"/v1/orders/{order}", token=token)
            self.assertEqual(paid["status"], "paid")
            self.assertEqual(paid["method"], "gateway")
            self.assertEqual([item["seatId"] for item in paid["items"]], [seat])
            self.assertEqual(api("GET", "/v1/wallet", token=token)[1]["balance"], wallet_before["balance"], "the card paid, not the wallet")

            # A top-up declined at the gateway changes nothing; one paid adds the points.
            for outcome, button in (("declined", "pay-decline"), ("paid", "pay-now")):
                driver.get(BASE + "/wallet")
                self.wait(driver, lambda d: d.find_element(By.ID, "balance").text != "–")
                form = driver.find_element(By.ID, "topup")
                form.find_element(By.NAME, "amount").clear()
                form.find_element(By.NAME, "amount").send_keys("20000")
                form.find_element(By.TAG_NAME, "button").click()
                self.wait(driver, lambda d: "/sandbox/payments/" in d.current_url)
                self.wait(driver, lambda d: d.find_element(By.ID, button).is_enabled())
                driver.find_element(By.ID, button).click()
                self.wait(driver, lambda d: "/wallet?topup=" in d.current_url)
                expected = "did not go through" if outcome == "declined" else "Topped up: ₩20,000"
                self.wait(driver, lambda d: expected in d.find_element(By.ID, "topup-note").text)
            _, wallet_after = api("GET", "/v1/wallet", token=token)
            self.assertEqual(wallet_after["balance"]["amount"] - wallet_before["balance"]["amount"], 20_000)
            self.assertEqual(driver.find_element(By.ID, "balance").text, f"₩{wallet_after['balance']['amount']:,}")
            self.assert_fits(driver, "/wallet")
            driver.save_screenshot(f"{ARTIFACTS}/wallet-topped-up-en-360.png")
        finally:
            driver.quit()

    def test_a_fan_pays_for_the_cart_by_card_on_the_gateways_page(self):
        _, found = api("GET", "/v1/products?q=t-shirt")
        shirt = found["items"][0]
        large = next(option for option in shirt["options"] if option["name"] == "L")
        _, session = api("POST", "/v1/auth/signin", FAN)
        token = session["accessToken"]
        _, wallet_before = api("GET", "/v1/wallet", token=token)
        driver = browser(360, 800, "ko")
        try:
            driver.get(f"{BASE}/signin?next=/products/{shirt['id']}")
            sign_in(driver, FAN["email"], FAN["password"])
            self.wait(driver, seen.visibility_of_element_located((By.ID, "product-form")))
            size = driver.find_element(By.CSS_SELECTOR, f'input[name=option][value="{large["id"]}"]')
            driver.execute_script("arguments[0].click()", size)
            driver.find_element(By.ID, "add-to-cart").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "added")))
            driver.get(f"{BASE}/cart")
            card = self.wait(driver, seen.visibility_of_element_located((By.ID, "cart-paycard")))
            self.assertEqual(card.text, "카드로 39,000원 결제")
            self.assert_fits(driver, "the cart, by card")
            driver.save_screenshot(f"{ARTIFACTS}/cart-card-ko-360.png")
            card.click()
            self.wait(driver, lambda d: "/sandbox/payments/" in d.current_url)
            # The pay button once the payment is loaded, or the page's reason why not.
            self.wait(driver, lambda d: d.find_element(By.ID, "pay-now").is_enabled() or d.find_element(By.ID, "pay-error").is_displayed())
            self.assertFalse(driver.find_element(By.ID, "pay-error").is_displayed(), driver.find_element(By.ID, "pay-error").text)
            driver.find_element(By.ID, "pay-now").click()
            # My orders follows the order until the gateway's webhook has paid it.
            self.wait(driver, lambda d: "/orders?order=" in d.current_url)
            order = driver.current_url.split("order=")[1]
            note = lambda d: d.find_element(By.CSS_SELECTOR, f".order-card[data-order='{order}'] .order-note").text
            self.wait(driver, lambda d: "결제 완료" in note(d))
            self.assertEqual(note(driver), "결제 완료! 상품 주문이 접수되었습니다.", "no tickets to point at")
            self.assert_fits(driver, "my orders, goods paid by card")
            driver.save_screenshot(f"{ARTIFACTS}/orders-goods-by-card-ko-360.png")
        finally:
            driver.quit()
        _, paid = api("GET", f"/v1/orders/{order}", token=token)
        self.assertEqual((paid["status"], paid["method"]), ("paid", "gateway"))
        self.assertEqual([(line["optionId"], line["quantity"]) for line in paid["goods"]], [(large["id"], 1)])
        self.assertEqual(paid["total"]["amount"], 39_000)
        self.assertEqual(api("GET", "/v1/wallet", token=token)[1]["balance"], wallet_before["balance"], "the card paid, not the wallet")

    def test_a_fan_buys_a_t_shirt_with_a_seat_in_one_order_then_goods_alone_from_the_cart_and_cancels_them(self):
        performance, _ = queued_aurora_performance(42, queued=False)
        _, found = api("GET", "/v1/products?q=t-shirt")
        shirt = found["items"][0]
        medium = next(option for option in shirt["options"] if option["name"] == "M")
        driver = browser(360, 800, "en")
        try:
            # The shop, then the T-shirt's page: a size, one of it, into the cart.
            driver.get(f"{BASE}/signin?next=/shop")
            sign_in(driver, FAN["email"], FAN["password"])
            link = self.wait(driver, seen.element_to_be_clickable((By.CSS_SELECTOR, "#products a.title")))
            link = next(a for a in driver.find_elements(By.CSS_SELECTOR, "#products a.title") if a.text == "Aurora Tour T-shirt")
            self.assert_fits(driver, "the shop")
            driver.save_screenshot(f"{ARTIFACTS}/shop-en-360.png")
            link.click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "product-form")))
            size = driver.find_element(By.CSS_SELECTOR, f'input[name=option][value="{medium["id"]}"]')
            driver.execute_script("arguments[0].click()", size)
            self.assertIn(f"{medium['stock']} left", size.find_element(By.XPATH, "..").text)
            self.assertIn("At most 4 per fan", driver.find_element(By.ID, "product-limit").text)
            driver.find_element(By.ID, "add-to-cart").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "added")))
            self.assert_fits(driver, "a product")
            driver.save_screenshot(f"{ARTIFACTS}/product-en-360.png")

            # A seat of a new performance: the hold offers the cart in the same order, and one payment covers both.
            driver.get(f"{BASE}/performances/{performance}")
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
            seat = next(node for node in driver.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]") if "taken" not in node.get_attribute("class"))
            driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", seat)
            driver.find_element(By.ID, "hold").click()
            offer = self.wait(driver, seen.visibility_of_element_located((By.ID, "withcart")))
            self.assertIn("Aurora Tour T-shirt (M) × 1 · ₩39,000", offer.text)
            self.assertTrue(driver.find_element(By.ID, "withcart-box").is_selected(), "the cart is in unless the fan takes it out")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", offer)
            driver.save_screenshot(f"{ARTIFACTS}/seat-with-cart-en-360.png")
            driver.find_element(By.ID, "pay").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "donepanel")))
            _, session = api("POST", "/v1/auth/signin", FAN)
            token = session["accessToken"]
            _, orders = api("GET", "/v1/orders?limit=5", token=token)
            both = next(order for order in orders["items"] if order.get("performanceId") == performance)
            self.assertEqual(len(both["items"]), 1)
            self.assertEqual([(line["name"], line["optionName"], line["quantity"]) for line in both["goods"]], [("Aurora Tour T-shirt", "M", 1)])
            self.assertEqual(both["total"]["amount"], both["items"][0]["price"]["amount"] + 39_000)
            self.assertEqual(len(both["payments"]), 1, "one payment for the seat and the shirt")
            _, shirt_now = api("GET", f"/v1/products/{shirt['id']}")
            self.assertEqual(next(o["stock"] for o in shirt_now["options"] if o["id"] == medium["id"]), medium["stock"] - 1)

            # Goods alone, from the cart page: two light sticks, paid with points.
            driver.get(f"{BASE}/cart")
            self.wait(driver, lambda d: "Your cart is empty." in d.find_element(By.ID, "cart-status").text)
            _, sticks = api("GET", "/v1/products?q=light")
            stick = sticks["items"][0]
            driver.get(f"{BASE}/products/{stick['id']}")
            self.wait(driver, seen.visibility_of_element_located((By.ID, "product-form")))
            driver.find_element(By.CSS_SELECTOR, '[data-step="1"]').click()
            driver.find_element(By.CSS_SELECTOR, '[data-step="1"]').click()
            self.assertEqual(driver.find_element(By.ID, "quantity").get_attribute("value"), "2", "kept to the limit of 2 per fan")
            driver.find_element(By.ID, "add-to-cart").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "added")))
            # The tour's coupon, claimed on the product's page.
            coupons = self.wait(driver, seen.visibility_of_element_located((By.ID, "product-coupons")))
            self.assertIn("Aurora tour 10% · 10% off · on ₩50,000 or more", coupons.text)
            coupons.find_element(By.TAG_NAME, "button").click()
            self.wait(driver, lambda d: "It is yours" in coupons.text)
            driver.get(f"{BASE}/cart")
            pay = self.wait(driver, seen.visibility_of_element_located((By.ID, "cart-pay")))
            self.assertIn("₩90,000", pay.text)
            chooser = self.wait(driver, seen.visibility_of_element_located((By.ID, "coupon")))
            Select(chooser).select_by_visible_text("Aurora tour 10% · 10% off · on ₩50,000 or more")
            self.wait(driver, lambda d: "−₩9,000" in d.find_element(By.ID, "cart-discount").text)
            self.assertIn("₩81,000", pay.text)
            self.assertIn("Aurora Light Stick", driver.find_element(By.ID, "cart-lines").text)
            self.assert_fits(driver, "the cart")
            driver.save_screenshot(f"{ARTIFACTS}/cart-en-360.png")
            pay.click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "cart-done")))

            # My orders: the goods order, its line cancelled after the quote; the whole price comes back.
            driver.get(f"{BASE}/orders")
            card = self.wait(driver, lambda d: next((c for c in d.find_elements(By.CSS_SELECTOR, ".order-card")
                                                     if "Aurora Light Stick (Standard) × 2" in c.text), None))
            self.assertIn("Goods order", card.text)
            driver.execute_script("arguments[0].click()", card.find_element(By.CSS_SELECTOR, "input[name=goods]"))
            self.assertEqual(card.find_element(By.CSS_SELECTOR, ".cancel-start").text, "Cancel the chosen goods", "a goods order has no tickets")
            card.find_element(By.CSS_SELECTOR, ".cancel-start").click()
            quote = self.wait(driver, lambda d: card.find_element(By.CSS_SELECTOR, ".quote") if card.find_element(By.CSS_SELECTOR, ".quote").is_displayed() else None)
            self.assertIn("₩81,000", quote.text, "what was paid for them, after the coupon")
            self.assertIn("Goods come back in full", quote.text)
            self.assertNotIn("Cancellation fee", quote.text, "no fee is taken on goods")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", quote)
            self.assert_fits(driver, "my orders with goods")
            driver.save_screenshot(f"{ARTIFACTS}/orders-goods-en-360.png")
            quote.find_element(By.CSS_SELECTOR, "button.danger").click()
            self.wait(driver, lambda d: "Cancelled: ₩81,000 comes back to you." in d.find_element(By.CSS_SELECTOR, ".order-card .order-note").text)
        finally:
            driver.quit()
        _, stick_now = api("GET", f"/v1/products/{stick['id']}")
        self.assertEqual(stick_now["options"][0]["stock"], stick["options"][0]["stock"], "the cancelled sticks are on sale again")
        _, mine = api("GET", "/v1/me/coupons", token=token)
        self.assertEqual([c["status"] for c in mine["items"]], ["issued"], "the coupon came back with the goods")

    def test_a_fan_has_a_photo_book_delivered_and_staff_pack_and_send_it(self):
        _, found = api("GET", "/v1/products?q=photo")
        book = found["items"][0]
        driver = browser(360, 800, "en")
        try:
            driver.get(f"{BASE}/signin?next=/products/{book['id']}")
            sign_in(driver, FAN["email"], FAN["password"])
            self.wait(driver, seen.visibility_of_element_located((By.ID, "product-form")))
            driver.find_element(By.ID, "add-to-cart").click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "added")))
            driver.get(f"{BASE}/cart")
            pay = self.wait(driver, seen.visibility_of_element_located((By.ID, "cart-pay")))
            self.assertIn("₩32,000", pay.text)
            # Delivered: a new address, refused at the field until the postcode has its five digits.
            driver.execute_script("arguments[0].click()", driver.find_element(By.CSS_SELECTOR, "input[name=delivery][value=ship]"))
            self.wait(driver, seen.visibility_of_element_located((By.ID, "ship-to")))
            self.assertIn("₩35,000", pay.text, "the 3,000 shipping fee is added")
            fields = {"recipient": "김민지", "phone": "010-1234-5678", "postcode": "0555", "address1": "서울특별시 송파구 올림픽로 424",
                      "address2": "101동 1001호", "note": "문 앞에 놓아 주세요"}
            for name, value in fields.items():
                driver.find_element(By.NAME, name).send_keys(value)
            driver.find_element(By.ID, "save-address").click()
            self.wait(driver, lambda d: "5-digit" in d.find_element(By.ID, "cart-form").text)
            postcode = driver.find_element(By.NAME, "postcode")
            postcode.clear()
            postcode.send_keys("05551")
            driver.find_element(By.ID, "save-address").click()
            self.wait(driver, lambda d: "05551" in d.find_element(By.ID, "address").text)
            self.assert_fits(driver, "the cart with delivery")
            driver.save_screenshot(f"{ARTIFACTS}/cart-delivery-en-360.png")
            pay.click()
            self.wait(driver, seen.visibility_of_element_located((By.ID, "cart-done")))
        finally:
            driver.quit()
        _, session = api("POST", "/v1/auth/signin", FAN)
        _, orders = api("GET", "/v1/orders?limit=1", token=session["accessToken"])
        order = orders["items"][0]
        self.assertEqual(order["shippingFee"]["amount"], 3_000)
        # The shipment comes from the order's event; the staff desk lists it with its packing list.
        _, staff_session = api("POST", "/v1/auth/signin", {"email": "staff@demo.boxoffice.local", "password": "demo staff 2026"})
        for _ in range(50):
            _, waiting = api("GET", "/v1/shipments?status=preparing", token=staff_session["accessToken"])
            if any(order["id"] in shipment["orderIds"] for shipment in waiting["items"]):
                break
            time.sleep(0.2)
        staff = browser(1280, 900, "en")
        try:
            staff.get(f"{BASE}/signin?next=/staff/shipments")
            sign_in(staff, "staff@demo.boxoffice.local", "demo staff 2026")
            card = self.wait(staff, lambda d: next((c for c in d.find_elements(By.CSS_SELECTOR, "#preparing-list .shipment-card")
                                                    if order["id"] in c.text), None))
            self.assertIn("김민지 · 010-1234-5678", card.text)
            self.assertIn("Aurora Photo Book", card.text)
            self.assertIn("Hardcover", card.text)
            staff.save_screenshot(f"{ARTIFACTS}/shipments-en-1280.png")
            Select(card.find_element(By.NAME, "carrier")).select_by_visible_text("CJ대한통운")
            card.find_element(By.NAME, "trackingNumber").send_keys("6892 1234 5678")
            card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            self.wait(staff, lambda d: "Marked as shipped." in card.text)
        finally:
            staff.quit()
        # The fan's order follows its shipment.
        fan = browser(360, 800, "en")
        try:
            fan.get(f"{BASE}/signin?next=/orders")
            sign_in(fan, FAN["email"], FAN["password"])
            for _ in range(10):
                mine = self.wait(fan, lambda d: next((c for c in d.find_elements(By.CSS_SELECTOR, ".order-card") if order["id"] in c.text), None))
                if "CJ대한통운, tracking 6892 1234 5678" in mine.text:
                    break
                time.sleep(0.5)
                fan.refresh()
            self.assertIn("Shipped", mine.text)
            self.assertIn("CJ대한통운, tracking 6892 1234 5678", mine.text)
            fan.save_screenshot(f"{ARTIFACTS}/orders-shipped-en-360.png")
        finally:
            fan.quit()

    def test_a_fan_buys_standing_tickets_by_tier_and_number(self):
        event = first_event_id("Daybreak")
        _, details = api("GET", f"/v1/events/{event}")
        performance = details["performances"][0]["id"]
        _, before = api("GET", f"/v1/performances/{performance}/availability")
        left_before = next(t["available"] for t in before["tiers"] if t["tier"] == "Standing B")
        sold_before = next(t["sold"] for t in before["tiers"] if t["tier"] == "Standing B")
        driver = browser(360, 800, "en")
        try:
            driver.get(f"{BASE}/signin?next=/performances/{performance}")
            sign_in(driver, FAN["email"], FAN["password"])
            tier = self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, '.ga-tier[data-tier="Standing B"]')))
            self.wait(driver, lambda d: f"{left_before} left" in tier.text)
            self.assertTrue(driver.find_element(By.ID, "hold").get_attribute("disabled"), "nothing chosen yet")
            tier.click()
            driver.find_element(By.CSS_SELECTOR, '[data-step="1"]').click()
            selection = driver.find_element(By.ID, "selection")
            self.wait(driver, lambda d: "Standing B × 2 · ₩154,000" in selection.text)
            # More than one order may take is brought back to the limit.
            quantity = driver.find_element(By.ID, "quantity")
            quantity.clear()
            quantity.send_keys("9")
            driver.find_element(By.TAG_NAME, "h1").click()
            self.wait(driver, lambda d: quantity.get_attribute("value") == "4")
            for _ in range(2):
                driver.find_element(By.CSS_SELECTOR, '[data-step="-1"]').click()
            self.wait(driver, lambda d: "Standing B × 2" in selection.text)
            self.assert_fits(driver, "the standing page")
            driver.save_screenshot(f"{ARTIFACTS}/standing-en-360.png")
            driver.find_element(By.ID, "hold").click()
            held = self.wait(driver, seen.visibility_of_element_located((By.ID, "holdpanel")))
            self.assertIn("Standing B × 2", held.text)
            self.assertIn("₩154,000", held.text)
            self.assertRegex(driver.find_element(By.ID, "countdown").text, r"^\d+:\d\d$")
            driver.find_element(By.ID, "pay").click()
            done = self.wait(driver, seen.visibility_of_element_located((By.ID, "donepanel")))
            self.assertIn("2", done.text)
            self.wait(driver, lambda d: f"{left_before - 2} left" in d.find_element(By.CSS_SELECTOR, '.ga-tier[data-tier="Standing B"]').text)
        finally:
            driver.quit()
        _, session = api("POST", "/v1/auth/signin", FAN)
        _, tickets = api("GET", "/v1/tickets?limit=100", token=session["accessToken"])
        mine = [t for t in tickets["items"] if t["performanceId"] == performance]
        self.assertEqual(len(mine), sold_before + 2)
        self.assertTrue(all(t["tier"] == "Standing B" and t.get("seat") is None for t in mine), mine)
        # The seat counts follow the relay within moments.
        for _ in range(50):
            _, after = api("GET", f"/v1/performances/{performance}/availability")
            if next(t for t in after["tiers"] if t["tier"] == "Standing B")["sold"] == sold_before + 2:
                break
            time.sleep(0.2)
        self.assertEqual(next(t for t in after["tiers"] if t["tier"] == "Standing B")["sold"], sold_before + 2)

    def test_the_waiting_room_keeps_a_fans_place_through_a_reload_and_a_second_tab(self):
        pid, token = queued_aurora_performance(41)
        # Paused: the line stands still while the fan reloads and opens a second tab.
        self.assertLess(api("POST", f"/v1/performances/{pid}/queue/pause", token=token)[0], 300)
        _, staff = api("POST", "/v1/auth/signin", {"email": "staff@demo.boxoffice.local", "password": "demo staff 2026"})
        status, first = api("POST", f"/v1/performances/{pid}/queue/join", {"humanCheck": human_check()}, token=staff["accessToken"])
        self.assertEqual(status, 200, first)
        driver = browser(360, 800, "en")
        try:
            driver.get(f"{BASE}/signin?next=/performances/{pid}/queue")
            sign_in(driver, FAN["email"], FAN["password"])
            self.wait(driver, lambda d: d.find_element(By.ID, "position").text == "2")
            self.assertEqual(driver.find_element(By.ID, "ahead").text, "1")
            driver.refresh()
            self.wait(driver, lambda d: d.find_element(By.ID, "position").text == "2")
            first_tab = driver.current_window_handle
            driver.switch_to.new_window("tab")
            driver.get(f"{BASE}/performances/{pid}/queue")
            self.wait(driver, lambda d: d.find_element(By.ID, "position").text == "2")
            self.assertEqual(driver.find_element(By.ID, "ahead").text, "1")
            _, stats = api("GET", f"/v1/performances/{pid}/queue/stats", token=token)
            self.assertEqual(stats["waiting"], 2, f"one place per fan, however many tabs: {stats}")
            # Resumed: both tabs move on to the seat map by themselves.
            self.assertLess(api("POST", f"/v1/performances/{pid}/queue/resume", token=token)[0], 300)
            self.wait(driver, lambda d: d.current_url.endswith(f"/performances/{pid}"), seconds=40)
            driver.switch_to.window(first_tab)
            self.wait(driver, lambda d: d.current_url.endswith(f"/performances/{pid}"), seconds=40)
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
        finally:
            driver.quit()

    def test_every_page_reads_at_aa_contrast(self):
        event = first_event_id("Aurora")
        _, details = api("GET", f"/v1/events/{event}")
        standing = api("GET", f"/v1/events/{first_event_id('Daybreak')}")[1]["performances"][0]["id"]
        _, goods = api("GET", "/v1/products?q=t-shirt")
        pages = ["/", f"/events/{event}", f"/performances/{details['performances'][0]['id']}", f"/performances/{standing}",
                 "/signin", "/signup", "/no/such/page", "/tickets", "/orders", "/wallet", "/scan", "/organizer",
                 "/shop", f"/products/{goods['items'][0]['id']}", "/cart"]
        problems = []
        for language in ("en", "ko"):
            driver = browser(1280, 900, language)
            try:
                driver.get(f"{BASE}/signin")
                sign_in(driver, FAN["email"], FAN["password"])
                self.wait(driver, lambda d: "/signin" not in d.current_url)
                for path in pages:
                    driver.get(BASE + path)
                    time.sleep(1)  # the page's script fills it in
                    problems += [f"{path} ({language}): {failure}" for failure in driver.execute_script(CONTRAST_CHECK)]
            finally:
                driver.quit()
        self.assertEqual(problems, [], "text below AA contrast")

    def test_a_fan_holds_seats_and_standing_tickets_with_the_keyboard_alone(self):
        def tab_to(driver, matches, limit=60):
            """Presses Tab until the focused element matches; each stop must show where focus is."""
            for _ in range(limit):
                driver.switch_to.active_element.send_keys(Keys.TAB)
                focused = driver.switch_to.active_element
                if driver.execute_script(matches, focused):
                    return focused
            self.fail("Tab never reached it")

        def shows_focus(driver, element):
            return driver.execute_script("var s = getComputedStyle(arguments[0]); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;", element)

        seated = api("GET", f"/v1/events/{first_event_id('Aurora')}")[1]["performances"][1]["id"]
        standing = api("GET", f"/v1/events/{first_event_id('Daybreak')}")[1]["performances"][0]["id"]
        driver = browser(1280, 900, "en")
        try:
            driver.get(f"{BASE}/signin?next=/performances/{seated}")
            sign_in(driver, FAN["email"], FAN["password"])
            self.wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seatmap [data-seat]")) == 800)
            driver.find_element(By.TAG_NAME, "body").click()
            seat = tab_to(driver, "return arguments[0].hasAttribute('data-seat')")
            self.assertRegex(seat.get_attribute("aria-label"), r"^Section \w+, row \d+, seat \d+, \w+, ₩[\d,]+, (available|unavailable)$")
            # Along the row to a free seat, then pick it.
            for _ in range(40):
                if "available" in driver.switch_to.active_element.get_attribute("aria-label").split(", ")[-1] \
                        and "unavailable" not in driver.switch_to.active_element.get_attribute("aria-label"):
                    break
                driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
            driver.switch_to.active_element.send_keys(Keys.ENTER)
            self.wait(driver, lambda d: "Selected:" in d.find_element(By.ID, "selection").text)
            hold = tab_to(driver, "return arguments[0].id === 'hold'")
            self.assertTrue(shows_focus(driver, hold), "the focused button shows its focus")
            hold.send_keys(Keys.ENTER)
            self.wait(driver, seen.visibility_of_element_located((By.ID, "holdpanel")))
            release = tab_to(driver, "return arguments[0].id === 'release'")
            release.send_keys(Keys.ENTER)
            self.wait(driver, lambda d: not d.find_element(By.ID, "holdpanel").is_displayed())

            # Standing: a tier by arrow keys, how many with the + button, hold, release.
            driver.get(f"{BASE}/performances/{standing}")
            self.wait(driver, seen.visibility_of_element_located((By.CSS_SELECTOR, ".ga-tier")))
            driver.find_element(By.TAG_NAME, "body").click()
            radio = tab_to(driver, "return arguments[0].name === 'tier'")
            radio.send_keys(Keys.SPACE)
            self.wait(driver, lambda d: "× 1" in d.find_element(By.ID, "selection").text)
            more = tab_to(driver, "return arguments[0].getAttribute('data-step') === '1'")
            more.send_keys(Keys.ENTER)
            self.wait(driver, lambda d: "× 2" in d.find_element(By.ID, "selection").text)
            hold = tab_to(driver, "return arguments[0].id === 'hold'")
            hold.send_keys(Keys.ENTER)
            self.wait(driver, seen.visibility_of_element_located((By.ID, "holdpanel")))
            release = tab_to(driver, "return arguments[0].id === 'release'")
            release.send_keys(Keys.ENTER)
            self.wait(driver, lambda d: not d.find_element(By.ID, "holdpanel").is_displayed())
        finally:
            driver.quit()

    def test_the_language_switch_is_remembered(self):
        driver = browser(language="ko")
        try:
            driver.get(BASE + "/")
            driver.find_element(By.CSS_SELECTOR, "a.lang").click()
            self.wait(driver, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
            driver.get(BASE + "/signin")
            self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), "en")
        finally:
            driver.quit()


if __name__ == "__main__":
    started = time.time()
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    print(f"browser journeys: {result.testsRun} run, {len(result.failures) + len(result.errors)} failed, {time.time() - started:.1f} s")
    sys.exit(0 if result.wasSuccessful() else 1)
