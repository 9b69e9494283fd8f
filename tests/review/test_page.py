"""The review page in a real browser (Debian's chromium, driven by Selenium) against a real server.

A moderator logs in, sees flagged posts with the words that pushed them highlighted (and the
threat check's verdict), filters them, labels them with a click and with the keyboard (and
``GET /feedback`` counts them), tries a text (which alerts no one and stores nothing), moves a
threshold slider and reads the JSON it makes; a post made of markup stays text; a server without
a token is opened without asking for one; the console stays clean. Every test ends once the
page's calls have answered (``idle``), so what they log is that test's own.
``REVIEW_SCREENSHOT=docs/review.png`` makes the test save docs/review.md's screenshot.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from testing.alerting import Receiver, alert_env
from testing.support import Server, gunicorn, post_json, request

TOKEN = "review-test-token"  # the review_server fixture's FIREFLY_TOKEN
AUTH = {"Authorization": f"Token {TOKEN}"}
XSS = 'you stupid faggot bitch <script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
POSTS = [  # oldest first; the page shows the newest first
    # the model says neither; the threat check sends it to review
    {"id": "p-threat", "text": "we should hang every one of those zorgs at dawn", "thread": "t-3", "author": "dave"},
    {"id": "p-xss", "text": XSS, "thread": "t-2", "author": "mallory", "url": "https://forum.example/t/2#p1"},
    {"id": "p-clean", "text": "I love this recipe, thanks", "thread": "t-1", "author": "carol"},
    {
        "id": "p-hate",
        "text": "those zorgs are vermin, kill them all you faggot niggers",
        "thread": "t-1",
        "author": "bob",
    },
    {"id": "p-offensive", "text": "what a bitch", "thread": "t-1", "url": "https://forum.example/t/1#p3"},
]


def wait(driver: object, condition: object, timeout: float = 20) -> object:
    return WebDriverWait(driver, timeout).until(condition)


def feedback_counts(server: Server) -> dict:
    status, _, body = request(server.url + "/feedback", headers=AUTH, method="GET")
    assert status == 200, body
    return json.loads(body)


def console_errors(driver: object) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def page_counts(driver: object) -> dict[str, str]:
    """The feedback counts as the page shows them: {dt: dd}."""
    names = driver.find_elements(By.CSS_SELECTOR, "#feedback-counts dt")
    values = driver.find_elements(By.CSS_SELECTOR, "#feedback-counts dd")
    return {n.text: v.text for n, v in zip(names, values, strict=False)}


def ready(driver: object) -> bool:
    return driver.execute_script("return document.body.dataset.ready === '1'")


def idle(driver: object) -> bool:
    """No call or timer of the page is running (its ``data-busy``): it has logged all it will."""
    return driver.execute_script("return (document.body.dataset.busy || '0') === '0'")


def leave(driver: object) -> list[dict]:
    """End a test on the page: wait until its calls have answered, so that what they log is this test's
    (a call still running was once logged under the next test), then forget the token of the tab, so
    that the next test opens the page with none. Returns the console's errors.

    The token is forgotten here, on a page at rest, rather than before the next test: cleared by a test
    and reloaded at once, a page still running calls sent them without it (403).
    """
    wait(driver, idle)
    errors = console_errors(driver)
    driver.execute_script("sessionStorage.clear()")
    return errors


def shown_ids(driver: object) -> list[str]:
    """The posts shown, newest first (read in one script: the list may be redrawn meanwhile)."""
    return driver.execute_script("return Array.from(document.querySelectorAll('#posts > li'), li => li.dataset.postId)")


def post_element(driver: object, post_id: str) -> object:
    return driver.find_element(By.CSS_SELECTOR, f'li[data-post-id="{post_id}"]')


@pytest.fixture(scope="module")
def queued(review_server: Server) -> Server:
    for post in POSTS:
        status, answer = post_json(review_server.url + "/moderate", post, AUTH)
        assert status == 200, answer
    return review_server


@pytest.fixture
def page(browser: object, queued: Server) -> object:
    """The page, logged in through the form, first screen drawn."""
    browser.set_window_size(1200, 900)
    browser.get(queued.url + "/review")  # no token stored (``leave``): the page asks for one
    token = wait(browser, lambda d: d.find_element(By.ID, "token").is_displayed() and d.find_element(By.ID, "token"))
    token.send_keys(TOKEN)
    token.send_keys(Keys.ENTER)
    wait(browser, ready)
    assert browser.execute_script("return sessionStorage.getItem('hatespeech-review-token')") == TOKEN
    yield browser
    assert leave(browser) == []


def test_the_queue_shows_flagged_posts_newest_first_with_highlighted_words(page: object, queued: Server) -> None:
    assert shown_ids(page) == ["p-offensive", "p-hate", "p-xss", "p-threat"]  # p-clean was allowed: not queued
    hate = post_element(page, "p-hate")
    marks = hate.find_elements(By.CSS_SELECTOR, "p.text mark")
    assert marks, "no highlighted words"
    assert "vermin" in [m.text for m in marks] or "faggots" in [m.text for m in marks]
    strongest = max(marks, key=lambda m: float(m.get_attribute("data-contribution")))
    assert strongest.get_attribute("title").startswith("pushes toward ")
    assert {m.get_attribute("class") for m in marks} <= {"s1", "s2", "s3", "s4", "s5"}
    why = hate.find_element(By.CSS_SELECTOR, "details.why")
    why.find_element(By.TAG_NAME, "summary").click()
    reasons = why.find_elements(By.TAG_NAME, "li")
    assert reasons and reasons[0].text.startswith(f"\u201c{strongest.text.strip()}\u201d: ")
    assert "thread t-1" in hate.text and "by bob" in hate.text
    link = post_element(page, "p-offensive").find_element(By.LINK_TEXT, "open the post")
    assert link.get_attribute("href") == "https://forum.example/t/1#p3"
    assert "erased 7 days after" in page.find_element(By.ID, "retention").text


def test_a_post_made_of_markup_is_shown_as_text(page: object) -> None:
    post = post_element(page, "p-xss")
    assert "<script>window.pwned=1</script>" in post.find_element(By.CSS_SELECTOR, "p.text").text
    assert '<img src=x onerror="window.pwned=2">' in post.find_element(By.CSS_SELECTOR, "p.text").text
    assert post.find_elements(By.TAG_NAME, "img") == []
    assert post.find_elements(By.TAG_NAME, "script") == []
    assert page.execute_script("return window.pwned === undefined")


def test_the_threat_check_is_shown_and_filtered(page: object) -> None:
    hate = post_element(page, "p-hate")
    assert [b.text.lower() for b in hate.find_elements(By.CSS_SELECTOR, ".post-head .badge")] == ["block", "threat"]
    assert hate.find_element(By.CSS_SELECTOR, ".threat-line .threat-span").text == "kill them"
    threat = post_element(page, "p-threat")
    assert "model: neither" in threat.text and threat.find_elements(By.CSS_SELECTOR, ".badge.threat")
    span = threat.find_element(By.CSS_SELECTOR, ".threat-line .threat-span").text
    assert span == "we should hang every one of those zorgs"
    assert post_element(page, "p-offensive").find_elements(By.CSS_SELECTOR, ".badge.threat, .threat-line") == []
    page.find_element(By.ID, "filter-threat").click()
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: shown_ids(d) == ["p-hate", "p-threat"])
    assert page.find_element(By.ID, "queue-summary").text.startswith("2 of 2 posts")
    page.find_element(By.ID, "filter-action").send_keys("review")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: shown_ids(d) == ["p-threat"])  # the threat filter combines with the others


def test_labels_by_click_and_by_key_reach_feedback(page: object, queued: Server) -> None:
    before = feedback_counts(queued)
    hate = post_element(page, "p-hate")
    hate.find_element(By.CSS_SELECTOR, 'button[data-label="hate speech"]').click()
    wait(page, lambda d: post_element(d, "p-hate").get_attribute("data-labelled") == "hate speech")
    assert "Labelled: hate speech" in post_element(page, "p-hate").text
    after_click = feedback_counts(queued)
    assert after_click["total"] == before["total"] + 1
    assert after_click["by_source"].get("review-page", 0) == before["by_source"].get("review-page", 0) + 1

    ActionChains(page).send_keys("j").perform()  # from p-hate (focused by the click) to the next, p-xss
    ActionChains(page).send_keys("2").perform()
    wait(page, lambda d: post_element(d, "p-xss").get_attribute("data-labelled") == "offensive language")
    ActionChains(page).send_keys("k").send_keys("3").perform()  # back to p-hate, relabelled
    wait(page, lambda d: post_element(d, "p-hate").get_attribute("data-labelled") == "neither")
    pressed = post_element(page, "p-hate").find_elements(By.CSS_SELECTOR, 'button[aria-pressed="true"]')
    assert [b.get_attribute("data-label") for b in pressed] == ["neither"]
    # a post's new label replaces its old one (feedback keeps one label per source and id)
    after = feedback_counts(queued)
    assert after["total"] == before["total"] + 2
    assert after["by_label"]["neither"] == before["by_label"]["neither"] + 1
    assert after["by_label"]["hate speech"] == before["by_label"]["hate speech"]
    assert after["by_label"]["offensive language"] == before["by_label"]["offensive language"] + 1
    # the page's own counts follow
    # (waiting for the last label's count: the reload below must not cut that call short)
    wait(page, lambda d: page_counts(d).get("labels in all") == str(after["total"]))
    wait(page, lambda d: page_counts(d).get("labelled neither") == str(after["by_label"]["neither"]))

    # the queue remembers the labels after a reload
    page.refresh()
    wait(page, ready)
    assert post_element(page, "p-hate").get_attribute("data-labelled") == "neither"
    assert post_element(page, "p-xss").get_attribute("data-labelled") == "offensive language"


def test_keyboard_only(page: object) -> None:
    """From the login (typed, Enter) to a label, with no mouse: j selects the newest post, 1 labels it."""
    assert page.switch_to.active_element.tag_name.lower() == "body"  # nothing clicked since the login
    ActionChains(page).send_keys("j").perform()
    assert page.switch_to.active_element.get_attribute("data-post-id") == "p-offensive"
    ActionChains(page).send_keys("1").perform()
    wait(page, lambda d: post_element(d, "p-offensive").get_attribute("data-labelled") == "hate speech")
    ActionChains(page).send_keys(Keys.TAB).perform()  # the post's own controls come next in the tab order
    assert page.switch_to.active_element.tag_name.lower() in ("summary", "a", "button")


def test_a_threshold_slider_writes_the_json(page: object, queued: Server) -> None:
    status, _, body = request(queued.url + "/review/model", headers=AUTH, method="GET")
    assert status == 200, body
    model = json.loads(body)
    curve = model["threshold_curves"]["hate speech"]
    area = page.find_element(By.ID, "thresholds-json")
    assert json.loads(area.get_attribute("value")) == model["thresholds"]  # what is in force, to begin with
    slider = page.find_element(By.CSS_SELECTOR, 'input[data-class="hate speech"][data-action="review"]')
    start = int(slider.get_attribute("value"))
    assert curve["thresholds"][start] == model["thresholds"]["hate speech"]["review"]
    for _ in range(3):
        slider.send_keys(Keys.ARROW_RIGHT)
    moved = int(slider.get_attribute("value"))
    assert moved == start + 3
    chosen = json.loads(area.get_attribute("value"))
    assert chosen["hate speech"]["review"] == curve["thresholds"][moved]
    assert chosen["offensive language"] == model["thresholds"]["offensive language"]
    output = slider.find_element(By.XPATH, "following-sibling::output").text
    assert f"{curve['clean_reached'][moved] * 100:.2f}% of clean posts" in output
    assert f"catches {curve['caught'][moved] * 100:.1f}% of hate speech" in output


def test_try_a_text_scores_as_you_type(page: object) -> None:
    box = page.find_element(By.ID, "try-text")
    box.send_keys("shut up you stupid idiot")
    result = wait(page, lambda d: d.find_element(By.ID, "try-result").find_elements(By.CSS_SELECTOR, ".badge"))
    assert result[0].text.lower() in ("allow", "review", "block")
    assert page.find_elements(By.CSS_SELECTOR, "#try-result mark")
    assert "offensive language" in page.find_element(By.ID, "try-result").text


def test_key_in_the_address_is_kept_and_removed_from_it(browser: object, queued: Server) -> None:
    browser.get(queued.url + "/review?" + urllib.parse.urlencode({"key": TOKEN}))
    try:
        wait(browser, ready)
        assert "key=" not in browser.current_url
        assert browser.execute_script("return sessionStorage.getItem('hatespeech-review-token')") == TOKEN
    finally:
        errors = leave(browser)
    assert errors == []


def test_forgetting_the_token_sends_nothing_more(page: object) -> None:
    """A text typed just before "Forget the token" is not scored afterwards (it would go out with no token: 403)."""
    page.execute_script(
        "const box = document.getElementById('try-text');"
        "box.value = 'shut up you stupid idiot';"
        "box.dispatchEvent(new Event('input'));"  # scored once typing pauses: after the click below
        "document.getElementById('logout').click();"
    )
    wait(page, lambda d: d.find_element(By.ID, "token").is_displayed())
    wait(page, idle)
    assert page.execute_script("return sessionStorage.getItem('hatespeech-review-token')") is None
    assert page.find_element(By.ID, "try-result").get_attribute("textContent") == ""


def test_narrow_screen_and_screenshot(page: object, tmp_path: Path) -> None:
    page.set_window_size(375, 800)
    wait(page, lambda d: d.execute_script("return window.innerWidth") <= 375)
    overflow = page.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than a 375 px screen"
    page.set_window_size(1000, 900)
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.set_window_size(1000, min(height + 120, 4000))
    target = Path(os.environ.get("REVIEW_SCREENSHOT") or tmp_path / "review.png")
    assert page.save_screenshot(str(target))
    assert target.stat().st_size > 10_000


def test_a_boards_post_is_labelled_under_its_boards_name(page: object, queued: Server) -> None:
    """A post queued by the Discourse integration (id ``discourse:<post id>``) is labelled as source
    ``discourse``, id ``<post id>``: the row the board's own decision on it replaces (and shows)."""
    post = {
        "text": "those zorgs are vermin, kill them all you faggots",
        "id": "discourse:8001",
        "thread": "discourse:80",
    }
    status, answer = post_json(queued.url + "/moderate", post, AUTH)
    assert status == 200 and answer["action"] in ("review", "block")
    page.refresh()
    wait(page, ready)
    before = feedback_counts(queued)
    post_element(page, "discourse:8001").find_element(By.CSS_SELECTOR, 'button[data-label="hate speech"]').click()
    wait(page, lambda d: post_element(d, "discourse:8001").get_attribute("data-labelled") == "hate speech")
    after = wait(page, lambda d: (c := feedback_counts(queued))["total"] > before["total"] and c)
    assert after["total"] == before["total"] + 1
    assert after["by_source"].get("discourse", 0) == before["by_source"].get("discourse", 0) + 1
    assert after["by_source"].get("review-page", 0) == before["by_source"].get("review-page", 0)
    # Discourse's moderators decide on the same post (as integrations/discourse.py stores it): one row
    decided = {"text": post["text"], "label": "neither", "source": "discourse", "id": "8001"}
    assert post_json(queued.url + "/feedback", decided, AUTH)[0] == 201
    assert feedback_counts(queued)["total"] == after["total"]
    page.refresh()
    wait(page, ready)
    assert post_element(page, "discourse:8001").get_attribute("data-labelled") == "neither"


# ---------------------------------------------------------------- a server without a token, with alerts


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Server]:
    """The production server without FIREFLY_TOKEN, sending every blocked message to ``receiver`` (one
    worker: one sender, which delivers alerts in the order they were made)."""
    tmp = tmp_path_factory.mktemp("open")
    env = {
        **alert_env(receiver.url + "/hook", "sqlite", tmp, None),
        "REVIEW_DB_PATH": str(tmp / "review.sqlite3"),
        "FEEDBACK_DB_PATH": str(tmp / "feedback.sqlite3"),
        "WEB_CONCURRENCY": "1",
    }
    with gunicorn(tmp, **env) as server:
        yield server.wait_ready()


@pytest.fixture
def open_page(browser: object, open_server: Server) -> Iterator[object]:
    browser.set_window_size(1200, 900)
    browser.get(open_server.url + "/review")
    wait(browser, ready)
    yield browser
    assert leave(browser) == []


def test_a_server_without_a_token_is_opened_without_asking(open_page: object, open_server: Server) -> None:
    assert not open_page.find_element(By.ID, "login").is_displayed()
    assert not open_page.find_element(By.ID, "logout").is_displayed()
    assert open_page.find_element(By.ID, "app").is_displayed()
    assert open_page.execute_script("return sessionStorage.getItem('hatespeech-review-token')") is None
    assert open_page.find_element(By.ID, "queue-summary").text == "No posts in the queue."
    # a link with a key (any: the server has no token) opens it too, and there is no token to forget
    open_page.get(open_server.url + "/review?key=left-over-from-a-link")
    wait(open_page, ready)
    wait(open_page, lambda d: not d.find_element(By.ID, "logout").is_displayed())
    assert not open_page.find_element(By.ID, "login").is_displayed()


def test_try_a_text_alerts_no_one_and_stores_nothing(
    open_page: object, open_server: Server, receiver: Receiver
) -> None:
    """Half-typed, then whole, a blocked text and a threat are scored on the page: no alert reaches the
    receiver, the queue and feedback stay as they were. A real /moderate of a blocked post, sent after
    them, does alert (delivered in order: had the page made alerts, they would have come first)."""

    def queue_total() -> int:
        return json.loads(request(open_server.url + "/review/queue", method="GET")[2])["total"]

    before = (queue_total(), feedback_counts(open_server)["total"])
    box = open_page.find_element(By.ID, "try-text")
    result = open_page.find_element(By.ID, "try-result")
    typed = ""
    for part in ("shut up you stupid bitch", ", fuck you"):
        box.send_keys(part)
        typed += part
        wait(open_page, lambda d, t=typed: [p.text for p in result.find_elements(By.CSS_SELECTOR, "p.text")] == [t])
        assert result.find_element(By.CSS_SELECTOR, ".badge").text.lower() == "block"
    box.clear()
    box.send_keys("i'm going to shoot you tomorrow")
    wait(open_page, lambda d: result.find_elements(By.CSS_SELECTOR, ".threat-line .threat-span"))
    assert result.find_element(By.CSS_SELECTOR, ".threat-span").text == "i'm going to shoot you"
    assert result.find_elements(By.CSS_SELECTOR, ".badge.threat")
    wait(open_page, idle)
    assert (queue_total(), feedback_counts(open_server)["total"]) == before

    status, answer = post_json(open_server.url + "/moderate", {"text": "what a bitch", "id": "control-1"})
    assert status == 200 and answer["action"] == "block"
    receiver.wait(lambda r: len(r.accepted()) >= 1)
    assert [json.loads(r.body)["post"]["id"] for r in receiver.requests] == ["control-1"]
    assert not any(b"stupid" in r.body or b"shoot" in r.body for r in receiver.requests)
    assert queue_total() == before[0] + 1  # the control post, queued: the queue was on all along
