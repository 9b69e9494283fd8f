"""The review queue names each post's language (the one /moderate's answer named, or "und") and is
filtered by it, over HTTP and on the page."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from testing.review import CANDIDATE_TOKEN as TOKEN
from testing.review import QUEUED
from testing.support import Server, request

AUTH = {"Authorization": f"Token {TOKEN}"}
GERMAN = next(text for text, language in QUEUED.items() if language == "de")


def queue(server: Server, query: str) -> tuple[int, dict]:
    status, _, body = request(server.url + "/review/queue?" + query, headers=AUTH, method="GET")
    return status, json.loads(body)


def test_the_queue_is_filtered_by_language(seeded: tuple[Server, dict, dict[str, str]]) -> None:
    server = seeded[0]
    status, page = queue(server, "language=de")
    assert status == 200 and [(p["text"], p["language"], p["language_supported"]) for p in page["posts"]] == [
        (GERMAN, "de", True)
    ]
    status, page = queue(server, "language=und")
    assert [p["text"] for p in page["posts"]] == [t for t, language in QUEUED.items() if language is None]
    assert page["posts"][0]["language_supported"] is None
    assert queue(server, "language=en")[1]["total"] == 2 and queue(server, "language=ko")[1]["total"] == 0
    status, answer = queue(server, "language=German")
    assert status == 400 and "ISO 639-1" in answer["error"]


def test_the_page_shows_each_post_s_language_and_filters_by_it(
    seeded: tuple[Server, dict, dict[str, str]], browser: object
) -> None:
    server = seeded[0]
    browser.set_window_size(1200, 900)
    browser.get(server.url + "/review")
    wait = WebDriverWait(browser, 30)
    token = wait.until(lambda d: d.find_element(By.ID, "token").is_displayed() and d.find_element(By.ID, "token"))
    token.send_keys(TOKEN)
    token.send_keys(Keys.ENTER)
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))

    def shown() -> list[tuple[str, str]]:
        return [
            tuple(pair)
            for pair in browser.execute_script(
                "return Array.from(document.querySelectorAll('#posts > li'), li =>"
                " [li.querySelector('p.text').textContent, li.querySelector('.lang-badge').textContent])"
            )
        ]

    assert shown() == [(text, language or "und") for text, language in reversed(QUEUED.items())]
    german = browser.find_element(By.XPATH, "//li[.//button[contains(@class,'lang-badge') and text()='de']]")
    assert "judged by its model" in german.find_element(By.CSS_SELECTOR, ".lang-badge").get_attribute("title")
    german.find_element(By.CSS_SELECTOR, ".lang-badge").click()  # shows that language only
    wait.until(lambda d: [t for t, _ in shown()] == [GERMAN])
    assert browser.find_element(By.ID, "filter-language").get_attribute("value") == "de"
    field = browser.find_element(By.ID, "filter-language")
    field.clear()
    field.send_keys("und")
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait.until(lambda d: shown() == [(t, "und") for t, language in QUEUED.items() if language is None])
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return (document.body.dataset.busy || '0') === '0'"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.execute_script("sessionStorage.clear()")
