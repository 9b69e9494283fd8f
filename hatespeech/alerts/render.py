"""What an alert looks like in Slack, Discord or as signed JSON: payloads, escaping, platform limits.

User content (texts, ids, thread and author names) can never mention anyone, add markup or break a link.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping

SLACK_BLOCK_CHARS = 3000  # Slack: a section's text
SLACK_FIELD_CHARS = 2000  # Slack: one field
DISCORD_CONTENT_CHARS = 2000  # Discord: a message's content
ZWSP = "\u200b"  # zero-width space: breaks @everyone and ``` without changing what a reader sees


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack text that cannot mention or link: ``& < >`` as entities, ``@`` followed by a ZWSP.

    >>> slack_escape("<!channel> @here & <@U123>")
    '&lt;!channel&gt; @\\u200bhere &amp; &lt;@\\u200bU123&gt;'
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("@", "@" + ZWSP)


_DISCORD_MARKUP = set("\\*_~`|>#-[]()<:")


def discord_escape(text: str) -> str:
    """Discord text without markup or mentions: markdown characters backslashed, ``@`` + ZWSP.

    >>> discord_escape("@everyone **hi** [x](http://e)")
    '@\\u200beveryone \\\\*\\\\*hi\\\\*\\\\* \\\\[x\\\\]\\\\(http\\\\://e\\\\)'
    """
    out = "".join("\\" + c if c in _DISCORD_MARKUP else c for c in text)
    return out.replace("@", "@" + ZWSP)


def safe_url(url: str) -> str:
    """The URL with characters that could end a link in Slack or Discord markup percent-encoded."""
    return "".join(urllib.parse.quote(c, safe="") if c in '<>|"`()[] ' else c for c in url)


def slack_link(url: str, label: str) -> str:
    """A Slack link to ``url``: the target only needs ``&`` as ``&amp;`` (``<>|`` are percent-encoded);
    an ``@`` in it is no mention, and a zero-width space there would change where the link goes.

    >>> slack_link("https://f.example/@al/1?a=1&b=2", "Open")
    '<https://f.example/@al/1?a=1&amp;b=2|Open>'
    """
    return f"<{safe_url(url).replace('&', '&amp;')}|{label}>"


# Bidirectional controls reorder what a reader sees ("\u202enimda" shows as "admin"): in names
# shown to moderators, each is replaced by a visible mark of what it was.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


def unbidi(text: str) -> str:
    """``text`` with bidi controls shown as ``[U+202E]`` instead of obeyed.

    >>> unbidi("\u202enimda")
    '[U+202E]nimda'
    """
    if not any(ord(c) in _BIDI for c in text):
        return text
    return "".join(f"[U+{ord(c):04X}]" if ord(c) in _BIDI else c for c in text)


_SLACK_MARKUP = "*_~`"


def slack_plain(text: str) -> str:
    """Slack mrkdwn text (a message's top-level ``text``) that is shown as written: escaped as
    ``slack_escape`` does, and each of ``*_~``` followed by a zero-width space, so no pair of them
    makes bold, italics, strike-through or code.

    >>> slack_plain("*a* _b_")
    '*\u200ba*\u200b _\u200bb_\u200b'
    """
    escaped = slack_escape(text)
    return "".join(c + ZWSP if c in _SLACK_MARKUP else c for c in escaped)


def _scores_line(scores: Mapping[str, float]) -> str:
    return " · ".join(f"{label} {float(p):.2f}" for label, p in scores.items())


def _message_lines(alert: dict) -> list[tuple[str, str]]:
    post = alert.get("post", {})
    lines = [("Thread", unbidi(alert.get("thread") or "—")), ("Post", unbidi(post.get("id") or "—"))]
    if post.get("author"):
        lines.append(("Author", unbidi(post["author"])))
    lines.append(("Scores", _scores_line(alert["scores"])))
    if "language" in alert:  # alerts queued before languages were named have none
        judged = "" if alert.get("language_supported", True) else " (no model for it)"
        lines.append(("Language", f"{alert['language']}{judged}"))
    return lines


def render(fmt: str, alert: dict, text: str | None) -> bytes:
    """The request body for one alert in one format (``text`` is None when left out or erased)."""
    if fmt == "slack":
        payload = _slack(alert, text)
    elif fmt == "discord":
        payload = _discord(alert, text)
    else:
        payload = {**alert, "text": text} if text is not None else dict(alert)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _title(alert: dict) -> str:
    if alert["type"] == "message":
        return f"Message alert: {alert['label']} → {alert['action']}"
    if alert["type"] == "burst":
        return f"Burst: {unbidi(alert['summary'])}"
    return f"Discussion alert: {alert['summary']}"


def _slack(alert: dict, text: str | None) -> dict:
    plain = lambda s, n=SLACK_FIELD_CHARS: {"type": "plain_text", "text": _cut(slack_escape(s), n)}  # noqa: E731
    blocks: list[dict] = [{"type": "header", "text": plain(_title(alert), 150)}]
    links: list[str] = []
    if alert["type"] == "message":
        fields = [plain(f"{k}: {v}") for k, v in _message_lines(alert)]
        blocks.append({"type": "section", "fields": fields})
        if text is not None:
            blocks.append({"type": "section", "text": plain(unbidi(text), SLACK_BLOCK_CHARS)})
        if alert["post"].get("url"):
            links.append(slack_link(alert["post"]["url"], "Open the post"))
    elif alert["type"] == "burst":
        fields = [plain(f"Thread: {unbidi(alert.get('thread') or '—')}"), plain(f"Posts: {alert['count']}")]
        blocks.append({"type": "section", "fields": fields})
        links += [slack_link(p["url"], f"Post {i}") for i, p in enumerate(alert["worst"], 1) if p.get("url")]
    else:
        fields = [
            plain(f"Thread: {unbidi(alert['thread'])}"),
            plain(f"Flagged: {alert['flagged']} of {alert['messages']} ({alert['share']:.0%})"),
            plain(f"Mean abusive probability: {alert['mean_abusive']:.2f}"),
            plain(f"Window: last {alert['window']['messages']} messages, {alert['window']['minutes']:g} min"),
        ]
        blocks.append({"type": "section", "fields": fields})
        worst = [
            f"{i}. post {unbidi(p.get('id') or '—')} · {p['label']} {p['abusive']:.2f} · {p['action']}"
            for i, p in enumerate(alert["worst"], 1)
        ]
        blocks.append({"type": "section", "text": plain("Worst posts:\n" + "\n".join(worst), SLACK_BLOCK_CHARS)})
        links += [slack_link(p["url"], f"Post {i}") for i, p in enumerate(alert["worst"], 1) if p.get("url")]
    context = [f"model {alert['model'].get('version', '')} · alert {alert['id']}"]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "  ".join(links + context)}]})
    summary = _title(alert) + (f" in thread {unbidi(alert['thread'])}" if alert.get("thread") else "")
    return {"text": _cut(slack_plain(summary), 3000), "blocks": blocks}


def _discord(alert: dict, text: str | None) -> dict:
    if alert["type"] == "message":
        lines = [f"**{_title(alert)}**"]  # our words: no escaping
        lines += [f"{k}: {discord_escape(v)}" for k, v in _message_lines(alert)]
        if alert["post"].get("url"):
            lines.append(f"<{safe_url(alert['post']['url'])}>")
    else:
        if alert["type"] == "burst":
            where = f" in thread {discord_escape(unbidi(alert['thread']))}" if alert.get("thread") else ""
            lines = [f"**Burst: {alert['count']} posts{where}**", "Worst posts:"]
        else:
            lines = [f"**{_title(alert)}** in thread {discord_escape(unbidi(alert['thread']))}"]
            lines.append(f"Mean abusive probability {alert['mean_abusive']:.2f}; worst posts:")
        for i, p in enumerate(alert["worst"], 1):
            link = f" <{safe_url(p['url'])}>" if p.get("url") else ""
            post = discord_escape(unbidi(p.get("id") or "—"))
            lines.append(f"{i}. post {post} · {p['label']} {p['abusive']:.2f} · {p['action']}{link}")
    head = _cut("\n".join(lines), DISCORD_CONTENT_CHARS - 200)
    if text is not None:
        # inside a code block nothing is markup or a mention; only ``` could end it early
        inner = unbidi(text).replace("`", "`" + ZWSP).replace("@", "@" + ZWSP)
        budget = DISCORD_CONTENT_CHARS - len(head) - len("\n```\n\n```")
        head += "\n```\n" + _cut(inner, budget) + "\n```"
    return {"content": head, "allowed_mentions": {"parse": []}, "username": "hatespeech-detect"}
