"""How a board's post is named: the one rule the three integrations, the review page and the feedback store follow.

- in the service (``/moderate``'s ``id`` and ``thread``, the review queue, alerts) a board's post
  or discussion is ``"<board>:<its id on the board>"``: ``discourse:123``, ``mastodon:109…``;
- as feedback it is ``source = "<board>"``, ``id = "<its id on the board>"`` (what POST /feedback
  calls "the post's id in its source"), whoever labels it: the board's moderators (Discourse's
  reviewables, Coral's approvals) or the review page. The same (source, id) replaces the earlier
  label, so one post has one feedback row, whichever of them spoke last.
Posts sent to /moderate by anyone else keep their id, and the review page labels them as
``source = "review-page"``.
"""

from __future__ import annotations

BOARDS = ("discourse", "coral", "mastodon")
REVIEW_PAGE = "review-page"


def board_id(board: str, native: object) -> str:
    """The service's id for a board's post or discussion.

    >>> board_id("discourse", 123)
    'discourse:123'
    """
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}")
    return f"{board}:{native}"


def feedback_key(post_id: str) -> tuple[str, str]:
    """The feedback ``(source, id)`` of a queued post: its board and the board's own id, or the review page's.

    >>> feedback_key("discourse:123"), feedback_key("mastodon:1:2"), feedback_key("p42"), feedback_key("coral:")
    (('discourse', '123'), ('mastodon', '1:2'), ('review-page', 'p42'), ('review-page', 'coral:'))
    """
    board, sep, native = post_id.partition(":")
    return (board, native) if sep and board in BOARDS and native else (REVIEW_PAGE, post_id)


def queued_id(source: object, id: object) -> str | None:
    """The review queue's id of the post a feedback ``(source, id)`` is about (the inverse of ``feedback_key``).

    >>> queued_id("discourse", 123), queued_id("review-page", "p42"), queued_id("api", "p42"), queued_id("api", None)
    ('discourse:123', 'p42', 'p42', None)
    """
    if isinstance(id, bool) or not isinstance(id, str | int):
        return None
    return board_id(source, id) if isinstance(source, str) and source in BOARDS else str(id)
