"""What an integration needs from the service: scoring with context, the words that weighed, the
outbox, the feedback store. ``hatespeech/service/api.py`` builds one ``Service`` and hands it to
the three integrations, which know nothing of HTTP frameworks or of the model's internals.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hatespeech.core.windows import bound_action, windows, worst
from hatespeech.integrations.common import clean_field, clean_url, queued_id
from hatespeech.integrations.outbox import FRESH, Outbox
from hatespeech.resilience import StoreUnavailable

log = logging.getLogger("hatespeech.integrations")
TOP_WORDS = 5
# The most of one board post that is scored: above every platform's own limit (Discourse's
# max_post_length is 32,000 by default; Mastodon's 500, plus a content warning, poll options and
# image descriptions; Coral has none). Beyond it the post is never allowed: it goes to review.
MAX_POST_CHARS = 100_000
QUOTED_AT_MOST = "review"  # a quote of another post can send the quoting post to review, never block it
SEPARATOR = "\n\n"  # between a post's parts (title, words, quotes) in the text that is scored


@dataclass(frozen=True)
class Part:
    """One part of what a board shows of a post, and the strongest action it may cause on its own."""

    text: str
    at_most: str = "block"


@dataclass(frozen=True)
class Post:
    """What a reader is shown of one post, in parts (a topic's title, the author's words, quotes of other posts).

    >>> Post([Part("Title"), Part(""), Part("words")]).text
    'Title\\n\\nwords'
    """

    parts: Sequence[Part] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The parts that hold something, one after the other: what is scored, and what offsets point into."""
        return SEPARATOR.join(part.text for part in self.parts if part.text.strip())


@dataclass
class Service:
    # ``/moderate`` itself: (text, *, id, thread, author, url) → its answer; ValueError for bad input.
    # Calling it (not the model) is what puts the post in the alerts' windows and the review queue.
    moderate: Callable[..., dict[str, Any]]
    explain: Callable[[str], dict[str, Any]]  # /moderate's explanation of one text (may raise NotImplementedError)
    outbox: Outbox
    feedback: Callable[[], Any]  # the FeedbackStore, opened on first use
    max_text_chars: int
    # (queued post's id, label): a stored decision, shown on the review page (review.labelled)
    labelled: Callable[[str, str], None] = lambda post_id, label: None
    # /moderate's answers for many texts, recording nothing (a long post whole, and its windows, in one batch)
    rank: Callable[[list[str]], list[dict[str, Any]]] | None = None
    # (answer, text, *, id, thread, author, url): what /moderate records of one answer (alerts, review
    # queue); ValueError for a context it refuses
    record: Callable[..., None] | None = None

    def score(
        self,
        post: Post | str,
        *,
        id: object = None,
        thread: object = None,
        author: object = None,
        url: object = None,
        record: bool = True,
    ) -> dict[str, Any] | None:
        """``/moderate``'s answer for a post (all of it), or None if there is nothing to score.

        ``record=False``: the same answer, recorded nowhere (a delivery seen before: its alerts and
        review entry exist already).

        The post's own words are scored whole, as one text, exactly as ``/moderate`` decides a text
        (its threat check included): that is the post's decision. A post longer than one window is
        also scored in windows (hatespeech/core/windows.py), all in the same batch, and a window
        that would be ``block`` on its own raises the post to ``review``, never further: a block
        needs the whole post's own scores. A window that only reaches ``review`` counts for
        nothing: a long clean post has many windows, and each has the rate of false ``review`` of a
        tweet, so counting them flagged nearly every long post. A part's ``at_most`` bounds what its
        own words and windows can do (a quote of another post: review, never block); parts with the
        same bound in a row are scored whole together.

        A post of one short part is ``/moderate``'s answer for it, recorded by ``/moderate``.
        Otherwise only the deciding answer is recorded (alerts, review queue), once, with the text
        it was given for: the raising window's own answer (bounded to ``review``) when a window
        raised the post, else the whole text's (its first ``MAX_TEXT_CHARS`` characters stored). The
        answer's ``window`` is ``[start, end]`` of that text in ``post.text``, and a ``threat``'s
        offsets point into ``post.text`` too. Past ``MAX_POST_CHARS`` characters nothing is scored,
        and the post is at least ``review``: never allowed unread. A context field the API would
        refuse is left out rather than losing the post.
        """
        if isinstance(post, str):
            post = Post([Part(post)])
        wholes, spans, cut = self._spans(post)
        if not wholes:
            return None
        text = post.text
        context = {
            "id": clean_field(id),
            "thread": clean_field(thread),
            "author": clean_field(author),
            "url": clean_url(url),
        }
        if len(wholes) == 1 and not spans and not cut and wholes[0][2] == "block":
            start, end, _ = wholes[0]
            if end - start <= self.max_text_chars:  # the common case: one short text, exactly as /moderate scores it
                answer = self._moderate(text[start:end], {**context, "record": record})
                return None if answer is None else {**answer, "window": [start, end]}
        if self.rank is None or self.record is None:
            raise RuntimeError("Service.rank and Service.record are needed to score a long post")
        texts = [text[start:end] for start, end, _ in (*wholes, *spans)]
        answers = self.rank(texts)
        whole = [bound_action(a, at_most=at_most) for a, (_, _, at_most) in zip(answers, wholes, strict=False)]
        k = worst(whole)
        answer, (start, end, _) = whole[k], wholes[k]
        raising = [i for i, a in enumerate(answers[len(wholes) :]) if a["action"] == "block"]
        if raising and answer["action"] != "block":
            i = raising[worst([answers[len(wholes) + i] for i in raising])]
            answer = bound_action(answers[len(wholes) + i], at_most="review", at_least="review")
            start, end, _ = spans[i]
        if cut:
            bound_action(answer, at_least="review")
            log.warning(json.dumps({"integrations": "post_cut", "chars": len(text), "scored": MAX_POST_CHARS}))
        if record:
            self._record(answer, text[start:end][: self.max_text_chars], context)
        shown = {**answer, "window": [start, end]}
        if isinstance(answer.get("threat"), dict):  # its offsets, into the text scored: into the post instead
            threat = answer["threat"]
            shown["threat"] = {**threat, "start": threat["start"] + start, "end": threat["end"] + start}
        return shown

    @staticmethod
    def _spans(post: Post) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]], bool]:
        """``(start, end, at_most)`` in ``post.text`` of each run of parts with the same ``at_most`` (scored
        whole) and, if the post is longer than one window, of each window (none crosses from one part to
        the next); and whether the text was cut at ``MAX_POST_CHARS``."""
        wholes: list[tuple[int, int, str]] = []
        spans: list[tuple[int, int, str]] = []
        at, cut = 0, False
        for part in (p for p in post.parts if p.text.strip()):
            if at >= MAX_POST_CHARS:
                cut = True  # a whole part left unread
                break
            kept = part.text[: MAX_POST_CHARS - at]
            if wholes and wholes[-1][2] == part.at_most:
                wholes[-1] = (wholes[-1][0], at + len(kept), part.at_most)
            else:
                wholes.append((at, at + len(kept), part.at_most))
            spans += [(at + a, at + b, part.at_most) for a, b in windows(kept)]
            if len(kept) < len(part.text):
                cut = True
                break
            at += len(part.text) + len(SEPARATOR)
        if len(spans) == len(wholes) and all(s[:2] == w[:2] for s, w in zip(spans, wholes, strict=True)):
            spans = []  # each part is one window, and scored whole already
        return wholes, spans, cut

    def _moderate(self, text: str, context: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.moderate(text, **context)
        except ValueError:
            try:
                return self.moderate(text, record=context["record"])
            except ValueError as err:
                log.warning(json.dumps({"integrations": "not_scored", "error": str(err)[:200]}))
                return None

    def _record(self, answer: dict[str, Any], text: str, context: dict[str, Any]) -> None:
        assert self.record is not None
        try:
            self.record(answer, text, **context)
        except ValueError:
            self.record(answer, text)

    def first_delivery(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """``with service.first_delivery(key) as fresh:`` — True unless ``key``'s work was done before.

        The "seen" claim is recorded only once the block has queued its work; if the block fails
        (the outbox is down, say), it is released, so the platform's retry is handled as a first
        delivery (``Keys.once``).
        """
        return self.outbox.keys.once(key)

    @contextlib.contextmanager
    def delivery(
        self, key: str, post: Post, acts_on: Callable[[dict[str, Any]], bool], **context: Any
    ) -> Iterator[tuple[dict[str, Any] | None, bool]]:
        """``with service.delivery(key, post, acts_on, id=…) as (answer, fresh):`` — one delivery of a post.

        The post is scored first (nothing recorded): ``answer`` is None when there is nothing to score.
        ``fresh`` is False when ``key`` was handled before (a retry, a "redeliver", an edit that left the
        words alone): its answer is not recorded again, which would count the post twice in its
        discussion's alert window; a first delivery's answer is recorded once. A post the board acts
        on (``acts_on(answer)``) is claimed pending while the block queues the call, done when the
        block ends, released if it raises, so the board's retry redoes it (``first_delivery``); any
        other post is claimed done at once, in one write.
        """
        answer = self.score(post, **context, record=False)
        if answer is None:
            yield None, False
            return
        if not acts_on(answer):
            try:
                state = self.outbox.keys.mark(key)
            except StoreUnavailable:  # the store cannot say: handled as new (at least once)
                state = FRESH
            fresh = state == FRESH  # BUSY: the same delivery is being answered now, and recorded by it
            if fresh:
                self.record_scored(answer, post, context)
            yield answer, fresh
            return
        with self.first_delivery(key) as fresh:
            if fresh:
                self.record_scored(answer, post, context)
            yield answer, fresh

    def record_scored(self, shown: dict[str, Any], post: Post, context: dict[str, Any]) -> None:
        """Record what ``score(post, record=False)`` answered, as ``score`` would have: the deciding text (its
        ``window`` of the post), offsets back into that text."""
        if self.record is None:
            raise RuntimeError("Service.record is needed to record a post scored earlier")
        start, end = shown["window"]
        answer = {k: v for k, v in shown.items() if k != "window"}
        if isinstance(answer.get("threat"), dict) and start:
            threat = answer["threat"]
            answer["threat"] = {**threat, "start": threat["start"] - start, "end": threat["end"] - start}
        fields = {
            "id": clean_field(context.get("id")),
            "thread": clean_field(context.get("thread")),
            "author": clean_field(context.get("author")),
            "url": clean_url(context.get("url")),
        }
        self._record(answer, post.text[start:end][: self.max_text_chars], fields)

    def why(self, text: str, label: str, limit: int = TOP_WORDS, window: Sequence[int] | None = None) -> list[str]:
        """The parts of ``text`` that pushed hardest toward ``label``, strongest first (distinct, at most ``limit``).

        ``window`` (an answer's ``[start, end]``) is the part of ``text`` that decided: the one explained.
        Empty when the model cannot be explained exactly (``/moderate`` answers 501 then).
        """
        if window is not None:
            text = text[window[0] : window[1]]
        try:
            spans = self.explain(text[: self.max_text_chars])["spans"]
        except NotImplementedError:
            return []
        ranked = sorted(
            (s for s in spans if s["class"] == label and s["contribution"] > 0), key=lambda s: -s["contribution"]
        )
        words: list[str] = []
        for span in ranked:
            if span["text"] not in words:
                words.append(span["text"])
            if len(words) == limit:
                break
        return words

    def add_feedback(
        self, text: str, label: str, *, source: str, id: object, moderator: object = None, **decision: Any
    ) -> bool | None:
        """Store a moderator's decision: True (stored, or spooled while the database is away), None when a
        newer decision from the same ``origin`` is kept instead (a replay), False if refused (an empty text).
        ``TooManyWrites`` when ``origin`` is over its share (hatespeech/feedback/quota.py).

        ``source`` is the board and ``id`` the post's id on it (core/boards.py's naming rule); ``decision``
        holds ``origin`` (the webhook or credential that wrote it), and ``event_at`` and ``revision`` when the
        board says when it decided (``FeedbackStore.add``). A label given on the review page for the same post is kept
        beside this one; the newest by event time is what training learns (FeedbackStore.decisions).
        """
        post_id = clean_field(id)
        try:
            # spooled while the database is away: a board's decision is never lost, nor holds its webhook
            row = self.feedback().keep(
                text[: self.max_text_chars],
                label,
                source=source,
                id=post_id,
                moderator=clean_field(moderator),
                **decision,
            )
        except ValueError as err:  # InvalidFeedback: an empty text, say
            log.warning(json.dumps({"integrations": "feedback_refused", "source": source, "error": str(err)[:200]}))
            return False
        if row == 0:
            return None
        queued = queued_id(source, post_id)
        if queued is not None:
            self.labelled(queued, label)
        return True


SEEN_KEY_PURPOSE = b"hatespeech-detect: seen keys v1"  # what a board's webhook secret is stretched for here


def seen_key(webhook_secret: str) -> bytes:
    """The key of a board's "seen" digests: derived from its webhook secret (HMAC-SHA256 of a fixed
    purpose), so every worker, container and restart has the same one, and nothing new to configure.

    A new webhook secret means new digests: a post delivered again after the rotation is scored once
    more, as a post seen before keyed digests were (its old key, an unkeyed hash, never matches).
    """
    return hmac.digest(webhook_secret.encode("utf-8"), SEEN_KEY_PURPOSE, "sha256")


def digest(text: str, key: bytes) -> str:
    """A short keyed fingerprint of a post's words (a delivery's identity, with the post's id), kept 30 days.

    HMAC-SHA256 under ``key`` (``seen_key``): whoever reads the store cannot confirm a guessed text by
    hashing it, as they could with a plain SHA-256.

    >>> import hashlib
    >>> digest("hello", seen_key("0123456789abcdef")) != hashlib.sha256(b"hello").hexdigest()[:16]
    True
    """
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), "sha256").hexdigest()[:16]


def flag_message(answer: dict[str, Any], words: list[str], limit: int = 1000) -> str:
    """What a moderator reads with the flag: the decision, the scores, the words that weighed most.

    >>> answer = {"label": "hate speech", "action": "block", "scores": {"hate speech": 0.8, "neither": 0.2},
    ...           "reasons": [{"category": "hate speech", "score": 0.8, "threshold": "block", "at": 0.4906}],
    ...           "model": {"version": "1.0.0"}}
    >>> for part in flag_message(answer, ["vermin"]).split(". "):
    ...     print(part)
    hatespeech-detect: hate speech (block)
    Scores: hate speech 0.80 · neither 0.20
    Why: hate speech severity 0.80 ≥ block threshold 0.4906
    Words that weighed most: "vermin"
    Model 1.0.0.
    """
    from hatespeech.integrations.common import scores_line

    parts = [f"hatespeech-detect: {answer['label']} ({answer['action']}).", f"Scores: {scores_line(answer['scores'])}."]
    why = [
        f"{r['category']} severity {r['score']:.2f} ≥ {r['threshold']} threshold {r['at']}"
        if "score" in r
        else "an identity attack"
        if r["category"] == "identity attack"
        else "a threat"
        for r in answer.get("reasons", ())
    ]
    if why:  # so that "neither (review)" never reads as a contradiction
        parts.append("Why: " + "; ".join(why) + ".")
    if words:
        parts.append("Words that weighed most: " + ", ".join(json.dumps(w, ensure_ascii=False) for w in words) + ".")
    version = (answer.get("model") or {}).get("version")
    if version:
        parts.append(f"Model {version}.")
    message = " ".join(parts)
    return message if len(message) <= limit else message[: limit - 1] + "…"
