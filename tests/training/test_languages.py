"""The other languages' models: their reader, their data files, and their compiled form (|Δ| ≤ 1e-9)."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.svm import LinearSVC

import train
from hatespeech.config import ROOT
from hatespeech.core.labels import LABELS
from hatespeech.core.model import CompiledModel
from hatespeech.core.modelfile import load_compiled
from hatespeech.core.policy import weighted_argmax
from hatespeech.core.wordreader import LEXICON_CHARS, WordReader, lexicon_text, read_lexicon
from hatespeech.training import languages
from hatespeech.training.compile import compile_checked, to_arrays
from hatespeech.training.data import DataError
from hatespeech.training.pipeline import fit
from hatespeech.training.save import load_pipeline
from testing.services import missing

TOLERANCE = 1e-9
HATE, OFFENSIVE, NEITHER = (LABELS.index(k) for k in ("hate speech", "offensive language", "neither"))


def test_german_compounds_stay_whole_and_nothing_is_read_as_english() -> None:
    reader = WordReader()
    # the English reader splits glued words and reads disguises against an English vocabulary: not here
    assert reader.words("Straßenbahnfahrer Ausländerhass Klappe") == ["straßenbahnfahrer", "ausländerhass", "klappe"]
    assert reader.words("RT @x: Schöne GRÜSSE https://t.co/x 2018 |LBR| ｈａｌｌｏ") == ["schöne", "grüsse", "hallo"]


def test_korean_is_read_syllable_by_syllable() -> None:
    assert WordReader(syllables=True).words("바보야 ok") == ["바", "보", "야", "ok"]


def test_character_grams_follow_their_word_and_never_look_like_a_word() -> None:
    grams = WordReader(chars=(3, 3)).words("Dumm")
    assert grams == ["dumm", "0_du", "0dum", "0umm", "0mm_"]


def test_the_german_lexicon_marks_insults_inside_compounds_and_nothing_that_only_looks_like_one() -> None:
    reader = WordReader(lexicon="de")
    marked = {w: reader.markers(w) for w in ["drecksschweine", "asylantenpack", "merkelidioten", "vollidiot"]}
    assert marked == {
        "drecksschweine": ["0lexvermin"],
        "asylantenpack": ["0lexgroup", "0lexvermin"],
        "merkelidioten": ["0lexinsult"],
        "vollidiot": ["0lexinsult"],
    }
    assert reader.markers("scheiße") == reader.markers("scheisse") == ["0lexprofane"]  # ß written ss
    for clean in ["marsch", "sauber", "schweinerei", "packen", "brutal", "gepäck"]:
        assert reader.markers(clean) == [], clean
    assert reader.markers("idiot" + "x" * (LEXICON_CHARS - 4)) == []  # no compound is that long
    assert WordReader(lexicon="de", lexicon_weight=3).words("Du SAU!") == ["du", "sau", *["0lexinsult"] * 3]
    assert WordReader().words("Du Sau") == ["du", "sau"]  # no lexicon unless asked (Portuguese, Korean)


def test_the_lexicons_answers_are_its_patterns_and_survive_pickling() -> None:
    reader = WordReader(chars=(3, 4), lexicon="de", lexicon_weight=2)
    lines = read_lexicon(lexicon_text("de"))
    words = ["drecksschweine", "packen", "vollidioten", "aersche", "scheisskerl", "zorg", "islamisierung", "brutal"]
    for word in words * 2:  # the second time from its cache
        assert reader.markers(word) == [m for m, p in lines if p.search(word)] * 2, word
    back = pickle.loads(pickle.dumps(reader))  # a pipeline's reader_: its parameters, its matcher rebuilt
    assert "_match" not in back.__getstate__()
    text = "Ihr Drecksschweine, packt euer Zeug"
    assert back.words(text) == reader.words(text) and back.words(text).count("0lexvermin") == 2


def test_the_lexicons_tries_match_what_its_plain_alternations_match() -> None:
    """The lexicon's patterns are tries of its stems (fast to search): they must match exactly the words a plain
    alternation of the same stems, longest first, matches; checked on every word of GermEval's posts where the data
    is here, and on our own words."""
    import re

    from hatespeech.core.wordreader import _ENDINGS, _FOLD, _lines

    def plain(stems: list[str]) -> str:
        found = {v for stem in stems for v in (stem, stem.translate(_FOLD))}
        return "(?:" + "|".join(re.escape(v) for v in sorted(found, key=lambda v: (-len(v), v))) + ")"

    kinds = {"word": "^{}$", "start": "^{}", "end": "{}" + _ENDINGS + "$", "tail": "{}$", "any": "{}"}
    lines = _lines(lexicon_text("de"))
    reference = [
        (name, re.compile("|".join(kinds[how].format(plain(stems)) for how, stems in found.items())))
        for name, found in lines.items()
    ]
    reader = WordReader(lexicon="de")
    words = {"drecksschweine", "packen", "vollidioten", "aersche", "idiotie", "sauber", "sau", "kanake", "brutal"}
    try:
        texts = languages.load("de").train.texts
    except DataError:
        texts = []  # our words alone
    words |= {w for text in texts for piece in text.split() for w in WordReader().letters(piece)}
    matched = 0
    for word in words:
        want = [name for name, pattern in reference if pattern.search(word)]
        if 3 <= len(word) <= LEXICON_CHARS:
            assert reader.markers(word) == want, word
            matched += bool(want)
    assert [m for m, p in read_lexicon(lexicon_text("de")) if p.search("drecksschweine")] == ["0lexvermin"]
    assert matched >= 3 and (not texts or matched > 300)


@pytest.mark.parametrize(
    "reader",
    [WordReader(), WordReader(syllables=True), WordReader(chars=(2, 4)), WordReader(chars=(2, 4), lexicon="de")],
)
def test_tokens_point_at_what_was_written(reader: WordReader) -> None:
    text = "RT  Du bist 한국어야, ﬁne! @x DUMM😡 Drecks-Pack, Scheiße"
    tokens, idioms = reader.tokens_and_idioms(text)
    assert [t.text for t in tokens] == reader.words(text) and idioms == []
    for token in tokens:
        written = text[token.start : token.end].lower()
        if token.text.startswith("0lex"):  # a lexicon marker points at its word
            assert reader.markers(written) == [token.text]
            continue
        assert token.text.lstrip("0").strip("_") in written or "ﬁ" in written or token.text == "0x1f621"
    assert reader.lexicon is None or {"0lexprofane", "0lexvermin"} <= {t.text for t in tokens}


def _corpus() -> tuple[list[str], np.ndarray]:
    hate = ["diese {w} Zorgs sollen verschwinden", "alle Zorgs sind {w} Ungeziefer", "{w} Blarfs raus hier"]
    offensive = ["halt die Klappe du {w} Idiot", "was für ein {w} Mist", "du {w} Trottel lol"]
    neither = ["einen {w} Tag euch allen", "das {w} Spiel beginnt um acht", "danke für das {w} Rezept 한국"]
    fillers = ["großer", "neuer", "alter", "roter", "lauter", "langsamer"]
    texts, labels = [], []
    for label, templates in ((HATE, hate), (OFFENSIVE, offensive), (NEITHER, neither)):
        for i in range(24):
            texts.append(templates[i % 3].format(w=fillers[i % len(fillers)]))
            labels.append(label)
    return texts, np.array(labels)


ODD = [
    "",
    "!!!",
    "Du Trottel, halt die Klappe!!! https://t.co/x @user",
    "ＤＵ ｔｒｏｔｔｅｌ ﬁne e\u0301 straße İstanbul",
    "바보야 ㅋㅋㅋ 진짜 Zorgs",
    "Zorgs " * 500,
    "kill for a coffee, kill you",  # an English idiom's word: the compiled model's idiom path
    "\x00 \ud800 😀 &amp;",
    "Du bist a〇b 〇〇 ᛮᛮ 𐍁𐍁 〇",  # letter-like numerals NFKC keeps: a word with them is a word, not an emoji
    "Drecksschweine! Asylantenpack, VOLLIDIOT Scheisse-Ungeziefer Zorgidioten " + "idiot" * 10,  # the lexicon's
]


@pytest.mark.parametrize(
    ("syllables", "ngram", "chars", "nb", "lexicon"),
    [
        (False, (1, 2), None, False, None),
        (True, (1, 3), None, False, None),
        (False, (1, 1), (3, 5), False, None),
        (False, (1, 1), (3, 5), True, None),
        (False, (1, 1), (3, 5), True, "de"),
        (False, (1, 2), None, False, "de"),
    ],
)
def test_the_compiled_model_scores_as_the_pipeline(
    syllables: bool, ngram: tuple[int, int], chars: tuple[int, int] | None, nb: bool, lexicon: str | None
) -> None:
    texts, labels = _corpus()
    built = languages.build_pipeline(syllables, ngram, 0.25, chars, nb, lexicon=lexicon, lexicon_weight=4)
    pipeline = fit(built, texts, labels)
    arrays = compile_checked(pipeline)
    compiled = CompiledModel(arrays)
    probes = texts[::7] + ODD
    expected = pipeline.predict_proba(probes)
    got_one = np.array([compiled.proba_one(t) for t in probes])
    assert np.abs(got_one - expected).max() <= TOLERANCE
    assert np.abs(compiled.predict_proba(probes) - expected).max() <= TOLERANCE
    assert to_arrays(pipeline)["reader"] == ("syllables" if syllables else "words")
    if lexicon:
        assert {"0lexinsult", "0lexvermin"} <= set(compiled.vocab)  # "Idiot", "Trottel", "Ungeziefer"
        assert arrays["lexicon"] == lexicon_text(lexicon) and arrays["lexicon_weight"] == 4
        # the compiled model reads with the lexicon it was trained with, whatever the package's file says now
        own = CompiledModel({**arrays, "lexicon": "insult word: zorgs"})
        assert own.reader.markers("zorgs") == ["0lexinsult"] * 4 and own.reader.markers("idiot") == []
    else:
        assert "lexicon" not in arrays


def test_nb_scaling_is_a_linear_model_on_the_unscaled_features() -> None:
    texts, labels = _corpus()
    x = (
        languages.build_pipeline(chars=(3, 4))
        .named_steps["features"]
        .fit_transform(WordReader(chars=(3, 4)).normalise_all(texts))
    )
    weights = np.linspace(0.5, 2.0, len(texts))
    nb = languages.NBLinearSVC(C=0.5).fit(x, labels, sample_weight=weights)
    for k, label in enumerate(nb.classes_):
        # what it learns for a class is a binary SVC on the features scaled by that class's log-count ratio
        mine = labels == label
        p = 1.0 + np.asarray((x[mine] > 0).sum(axis=0)).ravel()
        q = 1.0 + np.asarray((x[~mine] > 0).sum(axis=0)).ravel()
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        svc = LinearSVC(C=0.5, random_state=languages.SEED).fit(x.multiply(r).tocsr(), mine, sample_weight=weights)
        assert np.abs(nb.decision_function(x)[:, k] - svc.decision_function(x.multiply(r).tocsr())).max() < 1e-9
        assert np.abs(r).max() > 0.5  # the scaling is not the identity
    assert (nb.predict(x) == labels).mean() > 0.9


def _write(path: Path, text: str) -> dict[str, object]:
    path.write_text(text, encoding="utf-8")
    return {"paths": [str(path)], "sha256": hashlib.sha256(text.encode()).hexdigest()}


def test_each_format_maps_its_labels(tmp_path: Path) -> None:
    germeval = _write(
        tmp_path / "g.txt", "Ihr Zorgs|LBR|raus\tOFFENSE\tABUSE\nDu Trottel\tOFFENSE\tINSULT\nHallo\tOTHER\tOTHER\n"
    )
    told = _write(
        tmp_path / "t.csv",
        "text,homophobia,obscene,insult,racism,misogyny,xenophobia\n"
        "a,0,0,0,2,0,0\nb,0,3,0,0,0,0\nc,0,1,1,1,0,0\nd,0,0,0,0,0,0\ne,0,0,0,0,0,0\n",
    )
    manifest = tmp_path / "languages.toml"
    manifest.write_text(
        f"""
[de]
title = "t"
licence = "l"
format = "germeval"
train = {{ paths = {germeval["paths"]!r}, sha256 = "{germeval["sha256"]}" }}
test = {{ paths = {germeval["paths"]!r}, sha256 = "{germeval["sha256"]}" }}
test_split = "test"
labels = {{ ABUSE = "hate speech", INSULT = "offensive language", PROFANITY = "offensive language", OTHER = "neither" }}
features = "words"
ngram = [1, 2]

[pt]
title = "t"
licence = "l"
format = "told-br"
train = {{ paths = {told["paths"]!r}, sha256 = "{told["sha256"]}" }}
test_split = "held out"
held_out = 0.4
votes = 2
hate = ["homophobia", "racism", "misogyny", "xenophobia"]
offensive = ["obscene", "insult"]
features = "words"
ngram = [1, 2]
""".replace("'", '"'),
        encoding="utf-8",
    )
    de = languages.load("de", manifest, tmp_path)
    assert de.train.texts[0] == "Ihr Zorgs raus" and de.train.labels.tolist() == [HATE, OFFENSIVE, NEITHER]
    with pytest.raises(DataError, match="no language"):
        languages.load("xx", manifest, tmp_path)
    # 5 rows, of which one hate and one offensive: no stratified split
    with pytest.raises(ValueError, match="least populated class"):
        languages.load("pt", manifest, tmp_path)
    (tmp_path / "g.txt").write_text("changed\tOTHER\tOTHER\n", encoding="utf-8")
    with pytest.raises(DataError, match="sha256"):
        languages.load("de", manifest, tmp_path)


@pytest.mark.parametrize(
    ("code", "train_rows", "test_rows"),
    [("de", 5009, 3532), ("pt", 16800, 4200), ("ko", 7896, 471)],
)
def test_the_research_data_is_read_as_declared(code: str, train_rows: int, test_rows: int) -> None:
    try:
        data = languages.load(code, root=ROOT)
    except DataError as err:
        missing(str(err))
    assert (data.train.rows, len(data.test_texts)) == (train_rows, test_rows)
    assert set(np.unique(data.train.labels)) == {HATE, OFFENSIVE, NEITHER}


def test_train_py_trains_a_language_and_scores_its_test_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts, labels = _corpus()
    fine = {HATE: "ABUSE", OFFENSIVE: "INSULT", NEITHER: "OTHER"}
    rows = "".join(
        f"{t}\t{'OTHER' if y == NEITHER else 'OFFENSE'}\t{fine[y]}\n" for t, y in zip(texts, labels, strict=True)
    )
    file = _write(tmp_path / "g.txt", rows)
    manifest = tmp_path / "languages.toml"
    manifest.write_text(
        f"""[de]
title = "made-up German"
licence = "ours"
format = "germeval"
train = {{ paths = ["{tmp_path / "g.txt"}"], sha256 = "{file["sha256"]}" }}
test = {{ paths = ["{tmp_path / "g.txt"}"], sha256 = "{file["sha256"]}" }}
test_split = "the training file again"
labels = {{ ABUSE = "hate speech", INSULT = "offensive language", PROFANITY = "offensive language", OTHER = "neither" }}
features = "words"
ngram = [1, 1]
chars = [3, 4]
scaling = "nb"
min_df = 1
rule = "coarse"
""",
        encoding="utf-8",
    )
    out = tmp_path / "out" / "model-de.json"
    argv = ["--language", "de", "--sources", str(manifest), "--out", str(out), "--folds", "2", "--inner-folds", "2"]
    assert train.main(argv) == 0
    assert "coarse (abusive vs neither) macro-F1" in capsys.readouterr().out
    compiled, card = load_compiled(out)
    assert card["data"]["language"] == "de" and card["metrics"]["test"]["coarse_macro_f1"] > 0.5
    assert card["decision_rule"]["tuned_for"].startswith("coarse")
    pipeline, _ = load_pipeline(out)
    assert "NB-SVM" in card["data"]["features"] and pipeline.named_steps["features"].min_df == 1
    assert isinstance(pipeline.named_steps["classifier"].estimator, languages.NBLinearSVC)
    assert card["decision_rule"]["weights"][2] in languages.COARSE_NEITHER_WEIGHTS.round(4)
    assert compiled.reader.words("Straßenbahnfahrer") == [
        "straßenbahnfahrer",
        *WordReader(chars=(3, 4)).expand("straßenbahnfahrer")[1:],
    ]


def test_a_coarse_rule_chooses_the_neither_weight_for_abusive_vs_neither() -> None:
    # abusive rows whose P(neither) is the largest but below 0.6: only a neither weight < 1 finds them
    rng = np.random.default_rng(0)
    abusive = np.column_stack([rng.uniform(0.1, 0.2, 40), rng.uniform(0.2, 0.3, 40)])
    abusive = np.column_stack([abusive, 1 - abusive.sum(axis=1)])
    clean = np.column_stack([rng.uniform(0.0, 0.1, 60), rng.uniform(0.0, 0.1, 60)])
    clean = np.column_stack([clean, 1 - clean.sum(axis=1)])
    probabilities = np.vstack([abusive, clean])
    labels = np.array([OFFENSIVE] * 40 + [NEITHER] * 60)
    weights = languages.tune_rule({"rule": "coarse"}, probabilities, labels, [2.0, 1.0, 1.0])
    assert weights[:2] == [2.0, 1.0] and weights[2] < 1.0
    said = weighted_argmax(probabilities, weights) != NEITHER
    assert said.tolist() == [True] * 40 + [False] * 60
    assert languages.tune_rule({}, probabilities, labels, [2.0, 1.0, 1.0]) == [2.0, 1.0, 1.0]


MODELS = ROOT / "models" / "languages"


@pytest.mark.parametrize("code", ["de", "pt", "ko"])
def test_the_committed_models_compile_exactly_on_their_languages_sentences(code: str) -> None:
    pipeline, card = load_pipeline(MODELS / f"model-{code}.json")
    compiled, _ = load_compiled(MODELS / f"model-{code}.json")
    sentences = (ROOT / "tests" / "data" / "languages" / f"{code}.txt").read_text("utf-8").splitlines()
    probes = sentences + ODD
    expected = pipeline.predict_proba(probes)
    assert np.abs(np.array([compiled.proba_one(t) for t in probes]) - expected).max() <= TOLERANCE
    assert np.abs(compiled.predict_proba(probes) - expected).max() <= TOLERANCE
    assert card["data"]["language"] == code and card["metrics"]["test"]["split"]


def test_the_german_model_counts_an_insult_it_never_saw_in_training() -> None:
    compiled, card = load_compiled(MODELS / "model-de.json")
    assert "lexicon markers" in card["data"]["features"]
    # made-up compounds: no training tweet has them, their parts are the lexicon's
    p_neither = [compiled.proba_one(f"Ihr seid doch alle {w}")[NEITHER] for w in ["Zorgpack", "Zorgteam"]]
    assert p_neither[0] < p_neither[1] - 0.1
