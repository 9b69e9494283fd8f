"""Issue 13's smaller alert items: signatures, Slack's top-level text, links with @, bidi controls."""

from __future__ import annotations

import json

import pytest

from hatespeech.alerts.render import render
from hatespeech.alerts.signing import InvalidSignature, sign, verify

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _alert(**changes: object) -> dict:
    alert = {
        "type": "message",
        "id": "a1",
        "created": "2026-01-01T00:00:00.000Z",
        "thread": "t1",
        "post": {"id": "p1", "author": "someone", "url": "https://forum.example/t/1#p1"},
        "label": "hate speech",
        "action": "block",
        "flagged": True,
        "scores": {"hate speech": 0.9, "offensive language": 0.05, "neither": 0.05},
        "model": {"version": "1.0.0"},
    }
    alert.update(changes)
    return alert


@pytest.mark.parametrize("given", ["t=1700000000,v1=é", "t=1700000000,v1=\u00ff" * 3, "t=1700000000,v1=\ud800"])
def test_a_non_ascii_signature_is_invalid_not_a_type_error(given: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(b"{}", given, "s3cret", now=1700000000)
    verify(b"{}", sign(b"{}", "s3cret", 1700000000), "s3cret", now=1700000000)  # the good one still passes


def test_slacks_top_level_text_carries_no_markup_from_the_thread_name() -> None:
    thread = "*urgent* _all_ ~gone~ `x` <!here> @channel"
    payload = json.loads(render("slack", _alert(thread=thread), None))
    text = payload["text"]
    for markup in ("*urgent*", "_all_", "~gone~", "`x`", "<!here>", "@channel"):
        assert markup not in text, text
    assert "urgent" in text and "gone" in text  # still readable


def test_a_post_url_with_an_at_sign_links_to_the_same_place() -> None:
    url = "https://forum.example/@alice/posts/1?x=1&y=2"
    alert = _alert(post={"id": "p1", "author": "a", "url": url})
    context = json.loads(render("slack", alert, None))["blocks"][-1]["elements"][0]["text"]
    target = context.split("<", 1)[1].split("|", 1)[0]
    assert "\u200b" not in target and target.replace("&amp;", "&") in (url, url.replace("@", "%40"))
    content = json.loads(render("discord", alert, None))["content"]
    target = "https://" + content.split("<https://", 1)[1].split(">", 1)[0]
    assert "\u200b" not in target and target in (url, url.replace("@", "%40"))


@pytest.mark.parametrize("fmt", ["slack", "discord"])
def test_bidi_controls_in_names_are_neutralised(fmt: str) -> None:
    alert = _alert(thread="t\u202e1", post={"id": "p\u2066", "author": "\u202enimda", "url": None})
    body = render(fmt, alert, "text \u202e too").decode("utf-8")
    shown = json.loads(body)
    assert not any(c in json.dumps(shown, ensure_ascii=False) for c in BIDI)
    assert "nimda" in json.dumps(shown, ensure_ascii=False)


def test_the_log_names_a_webhook_by_host_only() -> None:
    from hatespeech.alerts.sender import _where

    assert _where("https://user:pa55word@hooks.example.org/services/T/B/SECRETPATH") == "hooks.example.org"
    assert _where("http://u:p@127.0.0.1:8080/hook?token=x") == "127.0.0.1:8080"
