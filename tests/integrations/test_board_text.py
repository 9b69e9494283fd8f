"""What a reader sees is what is scored, all of it: the attacks of issue 23 (items 1 to 3), played with
each platform's own signed request shapes (testing/standins.py) against the production server.

Shapes: discourse/discourse app/serializers/web_hook_post_serializer.rb (``raw``, ``cooked``,
``topic_title``, ``post_number``), pretty-text's engines/discourse-markdown/quotes.js (the
``<aside class="quote" data-post data-topic>`` a ``[quote="name, post:N, topic:M"]`` becomes), the
oneboxes' ``<aside class="onebox">`` (title in ``h3``, description in ``p``); coralproject/talk's
external moderation request (the body is HTML); mastodon/mastodon's REST::StatusSerializer
(``spoiler_text``, ``poll.options[].title``, ``media_attachments[].description``).
"""

from __future__ import annotations

import pytest

from hatespeech.integrations.common import read_html
from hatespeech.integrations.service import MAX_POST_CHARS, QUOTED_AT_MOST, Part, Post, Service
from testing.standins import (
    ABUSIVE,
    CLEAN,
    ENCODED,
    HATEFUL,
    MILD,
    Coral,
    Discourse,
    Mastodon,
    discourse_post,
    mastodon_status,
    weather,
)
from testing.support import Server

FLAG = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}


PADDED = {  # what comes before the hateful words (ABUSIVE, `block` on its own)
    "zero-width": "\u200b" * 10_000,
    "zero-width-words": " ".join(["\u200b"] * 10_000) + " ",
    "comment": "<!-- " + weather(12_000) + " -->",
    "paragraph": weather(12_000) + "\n\n",
    "same-paragraph": weather(12_000) + " ",
    "after-a-stop-and-zero-width": weather(12_000) + "\u200b",
    "long-post": weather(31_000) + "\n\n",
}


def discourse_url(server: Server) -> str:
    return server.url + "/integrations/discourse"


def flagged(discourse: Discourse, server: Server, post: dict) -> dict:
    """The webhook's reply for a post, after checking it queued a flag."""
    status, reply = discourse.webhook(discourse_url(server), "post_created", post)
    assert status == 200, reply
    assert reply["flag"] is not None and reply["flag"]["queued"], reply
    return reply


# ------------------------------------------------------------------------------------------- HTML to text


def _other_post(attrs: dict[str, str]) -> bool:
    return "quote" in attrs.get("class", "").split() and attrs.get("data-post") == "1"


@pytest.mark.parametrize(
    ("markup", "own", "quoted"),
    [
        ("<p>a <b>b</b>c</p><p>d</p>", "a bc\nd", ""),
        ("<p>x &amp;amp; &#102;&#97;&#103;</p>", "x &amp; fag", ""),  # decoded once, as a browser shows it
        ("<blockquote>mine</blockquote><aside>mine too</aside>", "mine\nmine too", ""),
        ('<aside class="quote" data-post="1"><blockquote>his</blockquote></aside>me', "me", "his"),
        ('<aside class="quote" data-post="1"><aside class="onebox">in</aside>his</aside>me', "me", "in\nhis"),
        ('<aside class="quote" data-post="1"><blockquote>not closed', "not closed", ""),
        ('<aside class="quote" data-post="2">not another post</aside>', "not another post", ""),
        ("a<!-- hidden -->b<script>x</script><style>y</style>c", "ab\nc", ""),
        ("a<!-- never closed", "a<!-- never closed", ""),
        ("a<style>never closed", "a\nnever closed", ""),
        ("a < b > c", "a < b > c", ""),
    ],
)
def test_read_html_reads_what_a_reader_sees(markup: str, own: str, quoted: str) -> None:
    seen = read_html(markup, _other_post)
    assert (seen.own, seen.quoted) == (own, quoted)


# ------------------------------------------------------------------------------------------- Discourse


def test_a_bare_quote_is_the_authors_and_is_scored(boards: Server, discourse: Discourse) -> None:
    quoted_only = discourse_post(2301, f"[quote]\n{HATEFUL}\n[/quote]")
    assert flagged(discourse, boards, quoted_only)["action"] == "block"
    agreed = discourse_post(2302, f"[quote]\n{HATEFUL}\n[/quote]\n\nagreed.")
    assert flagged(discourse, boards, agreed)["action"] == "block"
    never_closed = discourse_post(2303, f"[quote]\n{HATEFUL}")
    assert flagged(discourse, boards, never_closed)["action"] == "block"
    discourse.wait(lambda d: all(len(d.flags_of(p)) == 1 for p in (2301, 2302, 2303)))


def test_a_quote_of_another_post_sends_the_post_to_review_never_block(boards: Server, discourse: Discourse) -> None:
    """Anyone can write that tag around their own words: the quote is scored, but answering hate is not hate."""
    raw = f'[quote="bob, post:1, topic:7"]\n{HATEFUL}\n[/quote]\n\nPlease keep it civil, everyone.'
    reply = flagged(discourse, boards, discourse_post(2311, raw))
    assert reply["action"] == "review" and reply["flag"]["post_action_type_id"] == 7  # notify the moderators
    discourse.wait(lambda d: len(d.flags_of(2311)) == 1)
    # the author's own words still decide for themselves
    raw = f'[quote="bob, post:1, topic:7"]\n{CLEAN}\n[/quote]\n\n{HATEFUL}'
    assert flagged(discourse, boards, discourse_post(2312, raw))["action"] == "block"
    # a clean quote and a clean reply: nothing to flag
    raw = f'[quote="bob, post:1, topic:7"]\n{CLEAN}\n[/quote]\n\nSee you there.'
    assert discourse.webhook(discourse_url(boards), "post_created", discourse_post(2313, raw))[1]["flag"] is None


def test_a_quote_that_never_closes_or_names_this_post_is_the_authors(boards: Server, discourse: Discourse) -> None:
    aside = '<aside class="quote no-group" data-username="bob" data-post="1" data-topic="7">'
    unclosed = f"<p>Hello.</p>\n{aside}\n<blockquote>\n<p>{HATEFUL}</p>"
    assert flagged(discourse, boards, discourse_post(2321, "x", cooked=unclosed))["action"] == "block"
    itself = f'[quote="alice, post:2, topic:7"]\n{HATEFUL}\n[/quote]'  # post 2 of topic 7 is this post
    assert flagged(discourse, boards, discourse_post(2322, itself, number=2))["action"] == "block"


def test_entities_are_read_as_discourse_renders_them(boards: Server, discourse: Discourse) -> None:
    post = discourse_post(2331, ENCODED)
    assert "you stupid fag" in post["cooked"] and "fag" not in post["raw"]
    assert flagged(discourse, boards, post)["action"] == "block"


def test_a_oneboxs_title_and_description_are_scored(boards: Server, discourse: Discourse) -> None:
    link = "https://news.example/a-story"
    onebox = (
        f'<aside class="onebox allowlistedgeneric" data-onebox-src="{link}">\n'
        f'<header class="source"><a href="{link}" target="_blank" rel="noopener">news.example</a></header>\n'
        '<article class="onebox-body">\n'
        f'<h3><a href="{link}" target="_blank" rel="noopener">{HATEFUL}</a></h3>\n'
        "<p>A story about the weekend.</p>\n"
        '</article>\n<div class="onebox-metadata"></div>\n<div style="clear: both"></div>\n</aside>'
    )
    assert flagged(discourse, boards, discourse_post(2341, link, cooked=onebox))["action"] == "block"
    described = onebox.replace(HATEFUL, "A story").replace("A story about the weekend.", HATEFUL)
    assert flagged(discourse, boards, discourse_post(2342, link, cooked=described))["action"] == "block"


def test_a_topics_title_is_scored_on_its_first_post(boards: Server, discourse: Discourse) -> None:
    first = discourse_post(2351, CLEAN, number=1, title=HATEFUL, topic_id=235)
    # the title and the words, scored as one, are not `block`; the title alone is: review
    assert flagged(discourse, boards, first)["action"] == "review"
    reply = discourse_post(2352, CLEAN, number=2, title=HATEFUL, topic_id=235)  # the title is the first post's
    assert discourse.webhook(discourse_url(boards), "post_created", reply)[1]["flag"] is None


@pytest.mark.parametrize("padding", sorted(PADDED))
def test_padding_before_the_words_does_not_hide_them(
    boards: Server, discourse: Discourse, mastodon: Mastodon, padding: str
) -> None:
    post_id = 2360 + sorted(PADDED).index(padding)
    alone = discourse.webhook(discourse_url(boards), "post_created", discourse_post(post_id * 10, ABUSIVE))[1]
    assert alone["action"] == "block"  # a block-level insult: hidden, it must still be flagged
    raw = PADDED[padding] + ABUSIVE
    assert flagged(discourse, boards, discourse_post(post_id, raw))["action"] in ("review", "block")
    status, reply = Coral().moderate(coral_url(boards), Coral.request(f"<p>{raw}</p>"))
    assert status == 200 and reply["actions"] == [FLAG]
    status = mastodon_status(str(post_id), f"<p>{raw}</p>")
    assert mastodon.webhook(mastodon_url(boards), "status.created", status)[1]["report"] == {"queued": True}


def test_a_long_clean_post_with_sentences_only_review_level_alone_is_allowed(
    boards: Server, discourse: Discourse
) -> None:
    """Each of those sentences, alone, is `review`; counting them would flag most long posts (the
    number of windows multiplies a tweet's rate of false `review`). The post, scored as one, is `allow`."""
    mild = discourse.webhook(discourse_url(boards), "post_created", discourse_post(2369, MILD[0]))[1]
    assert mild["action"] == "review"
    raw = weather(3_000) + " " + " ".join(MILD) + " " + weather(3_000, seed=5)
    reply = discourse.webhook(discourse_url(boards), "post_created", discourse_post(2370, raw))[1]
    assert reply["action"] == "allow" and reply["flag"] is None


def test_a_long_clean_post_is_allowed_and_one_past_the_cap_goes_to_review(boards: Server, discourse: Discourse) -> None:
    clean = discourse.webhook(discourse_url(boards), "post_created", discourse_post(2371, weather(31_000)))[1]
    assert clean["action"] == "allow" and clean["flag"] is None
    too_long = discourse_post(2372, weather(101_000))  # more than is read of one post: never allowed unread
    assert flagged(discourse, boards, too_long)["action"] == "review"


# ------------------------------------------------------------------------------------------- Coral


def coral_url(server: Server) -> str:
    return server.url + "/integrations/coral"


def test_coral_scores_the_whole_body_quotes_and_unclosed_tags_included(boards: Server) -> None:
    withheld = (200, {"actions": [FLAG], "status": "SYSTEM_WITHHELD"})
    for body in (
        f"<blockquote><p>{HATEFUL}</p></blockquote>",
        f"<blockquote><p>{HATEFUL}</p></blockquote><p>agreed.</p>",
        f"<p>Hello.</p><blockquote><p>{HATEFUL}",
        f"<p>Hello.</p><script>{HATEFUL}",
        f"<p>{ENCODED}</p>",
    ):
        assert Coral().moderate(coral_url(boards), Coral.request(body)) == withheld, body
    assert Coral().moderate(coral_url(boards), Coral.request(f"<p>{weather(101_000)}</p>"))[1] == {"actions": [FLAG]}


# ------------------------------------------------------------------------------------------- Mastodon


def mastodon_url(server: Server) -> str:
    return server.url + "/integrations/mastodon"


@pytest.mark.parametrize(
    "fields",
    [
        {"spoiler": HATEFUL},
        {"poll": ["Yes", HATEFUL]},
        {"descriptions": ("A cat on a sofa", HATEFUL)},
        {"descriptions": (None,), "poll": ["Yes", "No"], "spoiler": "cw: " + HATEFUL},
    ],
    ids=["content warning", "poll option", "image description", "all three"],
)
def test_mastodon_scores_content_warnings_polls_and_image_descriptions(
    boards: Server, mastodon: Mastodon, fields: dict
) -> None:
    status_id = f"23{abs(hash(repr(fields))) % 10**8}"
    status = mastodon_status(status_id, f"<p>{CLEAN}</p>", **fields)
    status_code, reply = mastodon.webhook(mastodon_url(boards), "status.created", status)
    # scored as one with the status's words the field is not `block`; on its own it is: review
    assert status_code == 200 and reply["action"] == "review" and reply["report"] == {"queued": True}
    mastodon.wait(lambda m: any(status_id in c.json()["status_ids"] for c in m.accepted("/api/v1/reports")))


def test_mastodon_blockquotes_are_the_authors(boards: Server, mastodon: Mastodon) -> None:
    status = mastodon_status("2391", f"<blockquote><p>{HATEFUL}</p></blockquote><p>this.</p>")
    assert mastodon.webhook(mastodon_url(boards), "status.created", status)[1]["action"] == "block"


# ------------------------------------------------------------------------------------------- scoring a post


def _fake_answer(text: str) -> dict:
    """/moderate's answer shape: ``block`` (with a threat span) where the text says "hurt you", ``review``
    where it says "idiot", unless more than 300 characters a time dilute the word (as the model dilutes)."""

    def dense(word: str) -> bool:
        return word in text and len(text) <= text.count(word) * 300

    at = text.find("hurt you")
    action = "block" if dense("hurt you") else "review" if dense("idiot") else "allow"
    answer = {
        "label": "neither" if action == "allow" else "hate speech",
        "action": action,
        "flagged": action != "allow",
        "categories": {},
        "scores": {"hate speech": 0.9 if action == "block" else 0.0, "offensive language": 0.0, "neither": 0.1},
    }
    if at >= 0:
        answer["threat"] = {"start": at, "end": at + 8, "text": "hurt you"}
    return answer


def _service(recorded: list) -> Service:
    return Service(
        moderate=lambda text, **context: _fake_answer(text),
        explain=lambda text: {"spans": []},
        outbox=None,  # type: ignore[arg-type]
        feedback=lambda: None,
        max_text_chars=10_000,
        rank=lambda texts: [_fake_answer(t) for t in texts],
        record=lambda answer, text, **context: recorded.append((answer["action"], text, context["id"])),
    )


def test_a_block_level_window_sends_a_long_post_to_review_recorded_once_with_offsets_into_the_post() -> None:
    recorded: list = []
    post = Post([Part("A title"), Part(weather(5_000) + " I will hurt you. " + weather(5_000, seed=2))])
    answer = _service(recorded).score(post, id="discourse:1")
    assert answer is not None and answer["action"] == "review"  # the window alone is block; the post is not
    start, end = answer["window"]
    assert post.text[start:end] == "I will hurt you."
    assert post.text[answer["threat"]["start"] : answer["threat"]["end"]] == "hurt you"
    assert recorded == [("review", "I will hurt you.", "discourse:1")]  # once: the window that raised it


def test_the_whole_post_decides_a_block_and_review_windows_count_for_nothing() -> None:
    recorded: list = []
    short = Post([Part("I will hurt you. " + "No. " * 40)])  # 177 characters, 41 sentences: one window
    answer = _service(recorded).score(short, id="c:1")
    assert answer is not None and answer["action"] == "block" and answer["window"] == [0, len(short.text)]
    days = " ".join(f"Day {i}: what an {'idiot' if i == 7 else 'eejit'} I was." for i in range(100))
    idiots = Post([Part(days)])  # one sentence of a hundred is review-level alone: it counts for nothing
    assert _service(recorded).score(idiots, id="c:2")["action"] == "allow"  # type: ignore[index]
    assert _service(recorded).score(Post([Part("what an idiot " * 30)]), id="c:3")["action"] == "review"  # type: ignore[index]
    # the short post was recorded by /moderate itself; the long ones once each, as decided
    assert [(action, id) for action, _, id in recorded] == [("allow", "c:2"), ("review", "c:3")]


def test_a_quoted_part_goes_to_review_at_most_and_an_unread_tail_to_review_at_least() -> None:
    recorded: list = []
    quoted = Post([Part("Please stop."), Part("I will hurt you", QUOTED_AT_MOST)])
    assert _service(recorded).score(quoted)["action"] == "review"  # type: ignore[index]
    unread = Post([Part(weather(99_990)), Part("I will hurt you")])  # the threat lies past MAX_POST_CHARS
    assert len(unread.text) > MAX_POST_CHARS
    assert _service(recorded).score(unread)["action"] == "review"  # type: ignore[index]
    assert [action for action, _, _ in recorded] == ["review", "review"]
