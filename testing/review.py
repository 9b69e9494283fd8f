"""The review page's real browser and model, for its tests (tests/review/) and bench/review.py:
Debian's chromium driven by Selenium, and a model card with threshold curves for the sliders."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATE_TOKEN = "candidate-test-token"  # the seeded server's (tests/review/conftest.py)
LABELS = ["hate speech", "offensive language", "neither"]
QUEUED = {  # the seeded server's queued posts: text → the language its answer named (None: none named)
    "shut up you stupid idiot": "en",
    "those zorgs are vermin, get out": None,
    "Ihr seid alle Abschaum, haut endlich ab": "de",
    "what a moron": "en",
}
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
# No network, no updates, no sync: the browser talks to the test server on 127.0.0.1 only.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,900",
)


def chromium(profile: str) -> object:
    """Headless chromium with the profile folder ``profile``, driven through the system's chromedriver
    (given by path, so Selenium never tries to download one); its console is readable with
    ``get_log("browser")``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next(b for b in CHROMIUM if os.path.exists(b))
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def model_with_curves(folder: Path) -> Path:
    """The committed model's card, with threshold curves if the committed card predates them.

    The card's curves come from training (``evaluate.threshold_curves``); a card made before
    they existed gets simple made-up ones here, so the sliders can be tested either way.
    """
    models = ROOT / "models"
    card = json.loads((models / "model.json").read_text())
    if not card.get("threshold_curves"):
        t = [round(i / 100, 4) for i in range(101)]
        for values in card["thresholds"].values():
            t += [values["review"], values["block"]]
        t = sorted(set(t))
        card["threshold_curves"] = {
            label: {
                "score": "made up for the test",
                "clean_posts": 1000,
                "class_posts": 1000,
                "thresholds": t,
                "clean_reached": [round((1 - x) ** 4, 6) for x in t],
                "caught": [round(1 - x**2, 6) for x in t],
            }
            for label in card["thresholds"]
        }
    folder.mkdir(parents=True, exist_ok=True)
    for path in models.iterdir():
        if path.is_file() and path.name != "model.json":
            (folder / path.name).symlink_to(path)
    (folder / "model.json").write_text(json.dumps(card))
    return folder / "model.json"
