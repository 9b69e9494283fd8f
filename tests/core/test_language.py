"""Language identification: short sentences of our own, the safety rules, and the English corpora."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hatespeech.config import DEFAULT_LANGUAGE_MODELS_DIR, DEFAULT_MODEL_PATH, ROOT
from hatespeech.core.language import ENGLISH, UNDETERMINED, Language, identify
from hatespeech.core.moderator import Languages, Moderator, identify_post
from testing.services import missing

SENTENCES = Path(__file__).resolve().parent.parent / "data" / "languages"
SHARED = ROOT.parent / "shared" / "data"
LANGUAGES = sorted(p.stem for p in SENTENCES.glob("*.txt"))


def test_at_least_ten_languages_of_twenty_sentences() -> None:
    assert len(LANGUAGES) >= 10
    for code in LANGUAGES:
        assert len(_sentences(code)) >= 20, code


def _sentences(code: str) -> list[str]:
    return [s for s in (SENTENCES / f"{code}.txt").read_text("utf-8").splitlines() if s.strip()]


@pytest.mark.parametrize("code", LANGUAGES)
def test_short_sentences_are_named_right(code: str) -> None:
    sentences = _sentences(code)
    wrong = [(s, identify(s)) for s in sentences if identify(s).judged_as != code]
    assert len(wrong) <= 0.1 * len(sentences), wrong


def test_confident_foreign_post_is_judged_in_its_language() -> None:
    found = identify("Leute wie du machen jede Diskussion im Forum kaputt, das ist wirklich traurig.")
    assert (found.code, found.judged_as, found.reason) == ("de", "de", "identified")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "plain ASCII"),
        ("lol ok", "plain ASCII"),
        ("Grüß dich!", "short"),
        ("du idiot", "short"),  # German, but three words say too little
        ("@someone https://t.co/abc 12345 😀", "short"),
        (
            "ｄｕ ｂｉｓｔ ｅｉｎ ｄｕｍｍｅｒ ｉｄｉｏｔ ｕｎｄ ｓｏｎｓｔ ｎｉｃｈｔｓ",
            "disguised",
        ),  # fullwidth letters
        ("𝐝𝐮 𝐛𝐢𝐬𝐭 𝐞𝐢𝐧 𝐝𝐮𝐦𝐦𝐞𝐫 𝐢𝐝𝐢𝐨𝐭 𝐮𝐧𝐝 𝐬𝐨𝐧𝐬𝐭 𝐧𝐢𝐜𝐡𝐭𝐬", "disguised"),  # mathematical bold
        ("d u   b i s t   e i n   i d i o t , halt die Klappe jetzt sofort", "disguised"),  # spaced out
        ("naïve brrr xqv lmaooo ayyy zzz", "unsure"),  # an accent: past the ASCII shortcut
    ],
)
def test_whatever_it_cannot_place_is_judged_as_english(text: str, reason: str) -> None:
    found = identify(text)
    assert (found.judged_as, found.reason) == (ENGLISH, reason), found


def test_the_shortcut_takes_ascii_posts_without_a_foreign_word() -> None:
    assert identify("you are the worst and they know it").reason == "plain ASCII"
    # English words in a German post: the library decides, not the shortcut
    german = identify("the Typen you kennst du, die sind nicht nett und ich mag sie nicht")
    assert (german.reason, german.judged_as) == ("identified", "de")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("pqp kkkkkkk mano vsf", "pt"),  # the library: Norwegian at 0.14, Portuguese at 0.03
        ("@user @user sale mongol mdrrrr", "fr"),
        ("kkkkkk pqp q isso", "pt"),
    ],
)
def test_an_unsure_post_is_named_by_its_words_and_judged_by_english_too(text: str, code: str) -> None:
    found = identify(text)
    assert (found.code, found.judged_as, found.reason) == (code, code, "identified"), found
    assert found.also[0] == ENGLISH


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("vc é um lixo", "pt"),  # two of Portuguese's commonest words
        ("ça va, mdr", "fr"),
        ("@user c est nul", "fr"),  # one, and the library gives French a little
    ],
)
def test_a_short_post_is_named_by_its_words_and_judged_by_english_too(text: str, code: str) -> None:
    found = identify(text)
    assert (found.code, found.judged_as, found.reason, found.also) == (code, code, "short", (ENGLISH,)), found


def test_a_short_post_named_by_its_words_is_judged_by_its_model_and_the_english_one() -> None:
    moderator = Moderator.load(
        DEFAULT_MODEL_PATH,
        max_text_chars=1000,
        explain_max_spans=0,
        languages=Languages.load(DEFAULT_LANGUAGE_MODELS_DIR),
    )
    text = "vc é um lixo"
    assert moderator.judges_of(identify_post(text)) == ["pt", "en"]
    answer = moderator.moderate(text)
    assert (answer["language"], answer["language_supported"], answer["model"]["language"]) == ("pt", True, "pt")
    # French has no model: named, and judged by the English one alone
    assert moderator.judges_of(identify_post("ça va, mdr")) == ["en"]
    assert moderator.moderate("ça va, mdr")["language"] == "fr"


@pytest.mark.parametrize("text", ["Hallo du", "du idiot", "mais non"])
def test_a_short_post_with_one_word_the_library_does_not_back_is_not_named(text: str) -> None:
    found = identify(text)
    assert (found.code, found.judged_as) == (UNDETERMINED, ENGLISH), found


def test_an_ordinal_after_a_number_is_not_a_disguise() -> None:
    found = identify("O Vasco venceu a 13ª rodada, e o técnico ficou em 2º lugar na votação")
    assert (found.code, found.judged_as, found.reason) == ("pt", "pt", "identified"), found
    # the same letters elsewhere are compatibility letters: a disguise
    assert identify("you are a stupid fªggot and everyone knows it").reason == "disguised"


@pytest.mark.parametrize(
    "text",
    [
        "lmaooo bruh kkkkkk dat shit",  # one Portuguese marker, that the library gives Portuguese little for
        "naïve brrr xqv lmaooo ayyy zzz",  # no marker
    ],
)
def test_one_marker_alone_does_not_name_an_unsure_post(text: str) -> None:
    found = identify(text)
    assert (found.judged_as, found.reason) == (ENGLISH, "unsure"), found


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("e o q é a verdade, ninguém liga pra isso", "pt"),  # one-letter words in a row, not a word spaced out
        ("잘 할 수 있어 너무 좋다 정말 고마워", "ko"),  # one-syllable words written apart
    ],
)
def test_lone_letters_that_are_words_are_not_a_disguise(text: str, code: str) -> None:
    found = identify(text)
    assert (found.judged_as, found.reason) == (code, "identified"), found
    # the same run beside a word spaced out letter by letter is one
    assert identify(f"f u c k you all, {text}").reason == "disguised"


def test_korean_laughter_is_not_a_disguise() -> None:
    found = identify("ㅋㅋㅋㅋ 이 사람 진짜 웃기네 왜 이러는 거야")
    assert found.judged_as == "ko" and found.reason == "identified"


def test_other_scripts_and_macrolanguages() -> None:
    assert identify("像你这样的人毁了每一次讨论。").code == "zh"
    assert identify("أمثالك يفسدون كل نقاش في هذا المنتدى").code == "ar"
    assert identify("😀😀😀").code == UNDETERMINED


def test_a_long_post_is_read_in_bounded_time() -> None:
    found = identify("Das ist ein Satz. " * 200_000)  # 3.6 MB: only the first 4,096 characters are read
    assert isinstance(found, Language) and found.judged_as == "de"


def _texts(path: Path, column: str) -> list[str]:
    if not path.is_file():
        missing(f"the research copy at {path}")
    with open(path, newline="", encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f)]


@pytest.mark.parametrize(
    ("path", "column"),
    [
        (SHARED / "davidson" / "labeled_data.csv", "tweet"),
        (SHARED / "hatexplain" / "hatexplain_train_val.csv", "text"),
    ],
)
def test_english_corpora_are_judged_as_english(path: Path, column: str) -> None:
    texts = _texts(path, column)
    english = sum(identify(t).judged_as == ENGLISH for t in texts)
    assert english >= 0.99 * len(texts), f"{english} of {len(texts)}"
