"""The review page's Candidate section: a trained model not served, beside the served one, as
``model.py compare`` sets them (the same code: its figures are compared with the library's), over
HTTP and in a real browser. It promotes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from hatespeech.config import Settings
from hatespeech.lifecycle import compare
from testing.review import CANDIDATE_TOKEN as TOKEN
from testing.review import QUEUED
from testing.support import Server, request

AUTH = {"Authorization": f"Token {TOKEN}"}

# The queued posts an English candidate is compared on: those judged as English (None: queued with no language)
ENGLISH_QUEUED = [text for text, code in QUEUED.items() if code in ("en", None)]
DEADLINE = 120.0  # seconds: the comparison runs in the background of a busy shared machine


def get(server: Server, path: str, headers: dict | None = None) -> tuple[int, dict]:
    status, _, body = request(server.url + path, headers=headers if headers is not None else AUTH, method="GET")
    return status, json.loads(body)


def ready(server: Server, path: str = "/review/candidate") -> dict:
    """Ask until the comparison is ready (it is computed off the request path)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        status, answer = get(server, path)
        assert status == 200, answer
        assert answer["status"] in ("computing", "ready"), answer
        if answer["status"] == "ready":
            return answer
        assert time.monotonic() < deadline, "the comparison never became ready"
        time.sleep(0.3)


def test_the_candidate_is_compared_as_model_py_compares_it(seeded: tuple[Server, dict, dict[str, str]]) -> None:
    server, card, env = seeded
    assert get(server, "/review/candidate", {})[0] == 403  # data: the token is needed
    answer = ready(server)
    assert answer["chosen"]["sha256"] == card["sha256"]
    assert [c["sha256"] for c in answer["candidates"]] == [card["sha256"]]
    assert answer["pinned"] is True and "model.py promote" in answer["promote"]
    assert answer["board_rows"] == answer["board_total"] == 15
    assert answer["changes"]["posts"] == len(ENGLISH_QUEUED) == sum(answer["changes"]["counts"].values())
    # the committed card records no measured rows: the gate cannot compare like with like, and says so
    assert answer["gate"] == {"passes": False, "max_drop": 0.01, "refused_on": ["base data"]}
    base, board = answer["sides"]
    assert not base["comparable"] and "records no measured rows" in base["note"]
    assert board["rows"] == 15 and set(board["candidate"]["at_thresholds"]) == {"hate speech", "offensive language"}

    # the same figures as model.py compare's code gives in this process, from the same stores
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DATABASE_URL", "REDIS_URL"):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        settings = Settings.from_env()
        served = compare.load(settings, Path(env["MODEL_PATH"]))
        candidate = compare.load(settings, Path(env["MODEL_PATH"]).parent.parent / "candidate" / "model.json")
        expected = compare.compare(settings, candidate, served).as_json()
    assert json.loads(json.dumps(expected["sides"])) == answer["sides"]
    assert expected["changes"] == answer["changes"]

    again = ready(server, f"/review/candidate?sha256={card['sha256'][:8]}")
    assert again["computed_at"] == answer["computed_at"]  # cached by the pair of sha256s


@pytest.mark.parametrize(("query", "status"), [("sha256=XYZ", 400), ("sha256=12", 400), ("colour=red", 400),
                                               ("sha256=abc&sha256=abd", 400), ("sha256=0000000000", 404)])  # fmt: skip
def test_a_bad_or_unknown_candidate_is_a_clear_4xx(
    seeded: tuple[Server, dict, dict[str, str]], query: str, status: int
) -> None:
    server, card, _ = seeded
    if card["sha256"].startswith("0000000000"):
        pytest.skip("the candidate's sha256 starts with the unknown prefix")
    found, answer = get(server, "/review/candidate?" + query)
    assert found == status and isinstance(answer["error"], str), answer


def test_the_page_shows_the_candidate_and_promotes_nothing(
    seeded: tuple[Server, dict, dict[str, str]], browser: object
) -> None:
    server, card, _ = seeded
    browser.set_window_size(1200, 900)
    browser.get(server.url + "/review")
    wait = WebDriverWait(browser, DEADLINE)
    token = wait.until(lambda d: d.find_element(By.ID, "token").is_displayed() and d.find_element(By.ID, "token"))
    token.send_keys(TOKEN)
    token.send_keys(Keys.ENTER)
    verdict = wait.until(lambda d: d.find_elements(By.ID, "candidate-gate") and d.find_element(By.ID, "candidate-gate"))
    assert "refuse" in verdict.text and "base data" in verdict.text
    status = browser.find_element(By.ID, "candidate-status").text
    assert card["sha256"][:12] in status and "MODEL_PATH pins" in status
    sides = browser.find_elements(By.CSS_SELECTOR, "#candidate-result .side")
    assert [s.get_attribute("data-side") for s in sides] == ["base data", "board's labels", "queue"]
    assert "records no measured rows" in sides[0].text
    rows = sides[1].find_elements(By.CSS_SELECTOR, "tr[data-kind]")
    assert len(rows) == 5 and " → " in rows[0].text  # three classes, and two at the operating thresholds
    changes = sides[2].find_elements(By.CSS_SELECTOR, "li[data-change]")
    assert sum(int(c.text.split("\n")[0].rsplit(": ", 1)[1]) for c in changes) == len(ENGLISH_QUEUED)
    shown = {s.text for s in sides[2].find_elements(By.CSS_SELECTOR, "li.sample")}
    assert shown <= set(ENGLISH_QUEUED)
    assert "model.py promote" in browser.find_element(By.ID, "candidate-result").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#candidate button")  # nothing to click: read-only
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return (document.body.dataset.busy || '0') === '0'"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.execute_script("sessionStorage.clear()")
