"""The identity-attack check: explainable patterns for an attack on a group of people that needs no slur.

An attack here is a group of people named by what they are (a religion, an ethnicity or nationality, a
race, a sexual orientation or gender identity, women or men, immigrants or refugees, disabled people:
"Muslims", "the Jews", "these immigrants", "all gay people", "every Mexican") and, said of the whole group:

- a dehumanising predicate: "are vermin / rats / parasites / animals / a disease / a cancer / filth /
  invaders / not human", "breed like rats", "infest our country" (the vermin, disease and animal
  metaphors of Mendelsohn, Tsvetkov & Jurafsky 2020, "A Framework for the Computational Linguistic
  Analysis of Dehumanization");
- a call for exclusion or elimination: "should be deported / wiped out", "get rid of all X", "X don't
  belong here", "X should not be allowed to vote", "go back to where you came from";
- a sweeping derogatory generalisation: "all X are criminals / liars / stupid", "X can't be trusted",
  "X ruin everything".

These are the kinds that Röttger et al. 2021 (HateCheck) list as hate without a slur (dehumanisation,
calls for exclusion, derogatory generalisations); the lexicons here are written for this check, not
taken from any test suite. What is not an attack: counter-speech that quotes or denounces one ("calling
immigrants vermin is disgusting", "people who say Muslims are terrorists are wrong"), reporting ("he
said Jews are rats and was banned"), questions, negation ("immigrants are not criminals", "not all X
are ..."), and the same words said of no group ("rats in the basement", "my cat is an animal").

It reads the text as the model reads it (``hatespeech.core.reader.Reader``: folded, disguises
resolved), as the threat check does (``hatespeech.core.threats``), and reports the span of the
original text that matched. Every pattern has bounded gaps and no nested quantifier, and the checks
around a match look at a bounded number of words: linear in the text's length. Measured on
tests/data/attacks.tsv (attacks and near-misses written for it): ``bench/attacks.py``.

>>> from hatespeech.core.reader import PLAIN
>>> check(PLAIN, "Honestly, immigrants are VERMIN. Sad.")
{'start': 10, 'end': 31, 'text': 'immigrants are VERMIN'}
>>> check(PLAIN, "Calling immigrants vermin is disgusting.") is None
True
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

from hatespeech.core.policy import ACTION_RANK, REVIEW, AttackReason, Moderation, is_flagged
from hatespeech.core.text import without_lookaheads

CATEGORY: Final = "identity attack"  # the reason's and the category's name in a /moderate answer
HATE: Final = "hate speech"  # the class an identity attack is an instance of


def _alt(words: str) -> str:
    """One alternation of space-separated words (a phrase's words joined by "_"), the longest first."""
    items = sorted({w.replace("_", r"\s+") for w in words.split()}, key=lambda w: (-len(w), w))
    return "(?:" + "|".join(items) + ")"


def _words(*lists: str) -> frozenset[str]:
    """One word of each entry of the lists, the longest of a phrase's ("not_human": "human"): what the gate looks
    for, since a match holds all of an entry's words."""
    return frozenset(
        max(phrase.split("_"), key=lambda w: (w not in _VAGUE, len(w))) for words in lists for phrase in words.split()
    )


_VAGUE = frozenset({"people", "person", "persons", "real", "fully", "even"})  # in a phrase, a word naming no one


# --- who: a group of people named by what they are ------------------------------------------------

_PLURAL = (  # the group as a plural noun
    "muslims moslems muslim_people jews jewish_people christians catholics protestants mormons hindus sikhs buddhists"
    " atheists evangelicals blacks whites asians arabs mexicans latinos latinas latinx hispanics africans"
    " chinese indians pakistanis bangladeshis somalis syrians afghans iraqis iranians turks kurds palestinians"
    " israelis gypsies roma romanians poles albanians nigerians haitians jamaicans filipinos koreans japanese"
    " vietnamese russians germans italians americans europeans puerto_ricans native_americans aborigines"
    " aboriginals gays lesbians bisexuals homosexuals transsexuals transgenders trannies queers"
    " immigrants migrants refugees asylum_seekers foreigners illegals illegal_aliens"
    " illegal_immigrants minorities people_of_colour people_of_color poc cripples autistics retards"
    " niggers kikes spics wetbacks chinks gooks faggots fags dykes towelheads ragheads beaners coons pakis muzzies"
)
_SINGULAR = (  # the group as one member, after "every", "each" or "any"
    "muslim moslem jew christian catholic hindu sikh atheist black white asian arab mexican latino hispanic"
    " african indian pakistani somali syrian immigrant migrant refugee foreigner illegal woman female man male gay"
    " lesbian homosexual tranny trans_person nigger kike spic faggot fag paki"
)
_ADJECTIVE = (  # "<adjective> people": the group named by an adjective
    "black white asian muslim jewish christian catholic hindu sikh arab mexican african chinese indian hispanic"
    " latino gay lesbian bisexual bi trans transgender queer lgbt lgbtq nonbinary non_binary disabled handicapped"
    " autistic deaf blind immigrant foreign brown native indigenous old elderly somali syrian pakistani"
)
_PEOPLE = "people folks men women persons guys girls boys kids children families immigrants migrants refugees"
_THE_ADJECTIVE = "disabled handicapped elderly deaf blind mentally_ill mentally_disabled"  # "the disabled"
_LOADED = "fucking fuckin fkn filthy dirty damn damned bloody stupid disgusting stinking goddamn"  # "filthy X"
_DETERMINER = (  # what may come before the group (none: a bare plural, "immigrants are ...")
    r"(?:(?:all\s+(?:of\s+)?(?:the|these|those|you)|all|most|these|those|the|you|so\s+many)\s+)?"
)
_GENDERS = "women females men males"  # not after "the": "the men were animals in that match" is a team
_GROUP = (
    _DETERMINER
    + rf"(?:{_alt(_LOADED)}\s+)?"
    + rf"(?:{_alt(_ADJECTIVE)}\s+{_alt(_PEOPLE)}|{_alt(_PLURAL)}|the\s+{_alt(_THE_ADJECTIVE)})"
    + r"|(?<!\bthe )(?:(?:all\s+(?:of\s+)?(?:the|these|those|you)|all|most|these|those|you|so\s+many)\s+)?"
    + rf"(?:{_alt(_LOADED)}\s+)?{_alt(_GENDERS)}"
    + rf"|(?:every|each|any)\s+(?:single\s+)?{_alt(_SINGULAR)}"
)
# Where the group is said to be ("immigrants in this country are ..."), and a resumed subject ("Muslims, they
# are ..."): a few words at most, none of which makes it a part of the group ("immigrants who ...").
_WHERE = (
    r"(?:\s+(?:here|over\s+here|nowadays|today|these\s+days|in\s+general|everywhere|(?:in|from|of|living\s+in"
    r"|coming\s+(?:to|from|into))\s+(?:this|our|the|my|your|their|\w+)(?:\s+(?:country|countries|city|town|area"
    r"|neighbourhood|neighborhood|world|state|nation|continent|west))?))?"
)
_SUBJECT = r"(?:" + _GROUP + r")" + _WHERE + r"(?:\s+\|)?(?:\s+(?:they|them))?"

# --- what is said of them -------------------------------------------------------------------------

_BE = r"(?:are|is|re|r|s|were|was|be|=)"
_MODIFIERS = (  # between "are" and the predicate: degree, quantity, comparison, loaded adjectives; never a negation
    "all just simply only basically literally really truly actually nothing_but nothing_more_than no_better_than"
    " no_different_than no_different_from worse_than lower_than like just_like such so very too a an the bunch_of"
    " pack_of herd_of horde_of hordes_of swarm_of plague_of fucking fuckin fkn damn bloody dirty filthy disgusting"
    " stinking dumb stupid lazy dangerous violent savage ugly born natural inherently genetically naturally always"
    " mostly pretty_much total complete utter absolute lying thieving greedy mere little evil vile sick"
    " the_same_as fundamentally by_nature invasive wild rabid diseased sneaky worthless useless nasty primitive"
    " subhuman mindless brainless pure human walking breeding inbred biologically nothing_more_than disgusting"
    " inferior dangerous backward uncivilized gross nothing_except"
)
_MOD = rf"(?:\s+{_alt(_MODIFIERS)}){{0,3}}?"
_DEHUMANISING = (  # vermin, animals, filth, disease, invasion (Mendelsohn et al. 2020's metaphors)
    "vermin parasite parasites rat rats cockroach cockroaches roach roaches animal animals savages beast beasts"
    " subhuman subhumans sub_human sub_humans untermensch pig pigs swine dog dogs ape apes monkey monkeys baboons"
    " gorillas insects maggot maggots leech leeches lice locusts termites snake snakes vipers rodents pest pests"
    " vultures hyenas creatures mongrels filth trash garbage rubbish scum scumbags waste invader invaders invasion"
    " infestation plague disease cancer virus tumour tumor infection pestilence blight poison sickness"
    " abomination abominations demons devils not_human not_humans less_than_human not_even_human barely_human"
    " not_people not_real_people not_persons not_fully_human"
)
_NOT_A_COMPOUND = (  # "animal lovers", "cancer survivors", "the rat race": the noun names something else
    r"(?!\s+(?:lovers?|rights|welfare|shelters?|activists?|control|experts?|doctors?|vets?|farms?|farmers?|kingdom"
    r"|crossings?|prints?|survivors?|patients?|research|researchers|screening|awareness|treatment|ward|cells?"
    r"|sufferers?|victims?|collectors?|pickers?|truck|talk|talking|can|bin|bags?|day|collection|infestations?"
    r"|traps?|catchers?|shows?|movies?|films?|game|series|costumes?|documentar(?:y|ies)|sanctuar(?:y|ies)|testing"
    r"|cruelty|abuse|husbandry|instincts?|spirits?|style|crackers|food|feed|owners?|fans?|hair|eyes|bites?|race"
    r"|poisoning|man|men|woman|women|walkers?|sitters?|handlers?|trainers?|breeders?|keepers?|whisperers?|ladies"
    r"|babies|friendly|care|to\s+(?:nobody|no\s+one)|of\s+being|and\s+tired)\b)"
)
_DEROGATORY = (  # sweeping generalisations
    "criminals criminal rapists rapist terrorists terrorist thieves thief stupid dumb idiots idiot morons moron"
    " imbeciles retarded liars liar lazy violent dirty filthy disgusting evil inferior pedophiles pedophile"
    " paedophiles paedophile pedos paedos perverts pervert perverted degenerates degenerate freaks freak sick"
    " mentally_ill crazy insane psychos useless worthless burden frauds greedy vile ugly smelly thugs gangsters"
    " murderers killers barbarians barbaric primitive backward backwards uncivilized uncivilised untrustworthy"
    " dishonest sneaky cheats cheaters scammers crooks dangerous danger threat menace enemy enemies problem"
    " traitors hypocrites losers weak cowards incompetent unintelligent brainless ignorant whores whore sluts"
    " slut hoes bitches gold_diggers hysterical irrational too_emotional groomers predators molesters"
    " child_molesters abusers drug_dealers drain freeloaders spongers moochers scroungers unclean unnatural"
    " abnormal sinful wicked satanic demonic mistake mistakes pathetic brutes inbred illiterate extremists"
    " jihadis jihadists nazis racists disgrace not_to_be_trusted good_for_nothing a_waste_of_space gang_members"
    " man_haters brainwashed_sheep"
)
_PREDICATE = rf"(?:{_alt(_DEHUMANISING)}{_NOT_A_COMPOUND}|{_alt(_DEROGATORY)}{_NOT_A_COMPOUND})"

_SHOULD = (  # a call: what should happen to them
    r"(?:should|must|need\s+to|needs\s+to|ought\s+to|deserve\s+to|have\s+to|has\s+to|gotta|got\s+to|shall)"
)  # not "will" or "can": "X will be deported under the new law" reports, "refugees can go home now" is news
_DONE = (  # what should be done to them: excluded, removed, eliminated
    "deported banned removed expelled exterminated eradicated eliminated wiped_out gassed sterilised sterilized"
    " castrated locked_up rounded_up kicked_out thrown_out shipped_back shipped_out shipped_off sent_back"
    " sent_home put_down purged cleansed segregated executed killed hanged hung shot burned burnt lynched"
    " imprisoned jailed interned put_in_camps put_in_concentration_camps locked_away kept_out barred excluded"
    " euthanized euthanised exiled banished culled slaughtered murdered erased wiped_off stamped_out drowned"
    " stripped_of treated_like_animals treated_like_dogs treated_like_vermin denied_entry denied_rights"
    " thrown_in_jail sent_to_camps removed_from_society shipped_home"
)
_GONE = (  # or what they should do: go away, die
    "die disappear go_away go_home be_gone burn rot perish vanish get_out stay_out"
    " stay_in_their_own_countries stay_in_their_country stay_where_they_are leave_our_country leave_this_country"
    " be_shot be_hanged not_exist never_exist not_be_born not_breed not_reproduce not_have_kids not_have_children"
    " know_their_place be_kept_in_their_place"
)
_LEAVE = (  # "go" or "leave" is a call to leave the country only where it ends ("women should go to the doctor")
    r"(?:go|leave|go\s+back)(?:\s+(?:now|already|immediately|too))?\s*(?:\||$)|go\s+back\s+to\s+(?:where|their"
    r"|africa|asia|mexico|the\s+(?:desert|jungle|middle\s+east))|leave\s+(?:our|this|the|my)\s+(?:country|countries"
    r"|nation|continent|west|uk|us|usa|city|town|neighbou?rhood)"
)
_MUST_NOT = (  # a call that they must not: the negation is what makes it one ("X should be allowed to vote" is not)
    r"(?:(?:should|must|shall|can|may)\s+(?:not|never)|shouldn\s+t|shouldnt|mustn\s+t|mustnt|cannot|can\s+t|cant)"
)
_RIGHTS = (  # what they should not have
    r"(?:the\s+right\s+to\s+\w+|rights|equal\s+rights|human\s+rights|the\s+vote|a\s+vote|kids|children|citizenship"
    r"|jobs|a\s+voice|a\s+say|any\s+rights|a\s+place)"
)
_CALL_VERBS = (  # calls on others: "deport them all", "get rid of the X"
    "deport ban expel exterminate eradicate eliminate wipe_out gas sterilise sterilize castrate purge cleanse"
    " remove round_up lock_up intern get_rid_of kill_off exile banish"
)
_CALL_BACK_VERBS = "kick throw send ship keep"  # "kick the X out", "send them back"
_CALL_PREFIX = (  # who may make the call: no one in particular, or someone urging it ("we must", "time to")
    r"(?:(?:^|\|)\s*|(?:should|must|need\s+to|needs\s+to|have\s+to|has\s+to|gotta|got\s+to|ought\s+to|let\s+s"
    r"|lets|let\s+us|time\s+to|just|please|pls|and|so|we|i\s+say|now|simply)\s+)"
    r"(?:(?:all|just|simply|finally|immediately|really|now|also|then|go)\s+)?"
)
_PLACE = (  # where they are said not to belong
    r"(?:here|our\s+\w+|this\s+\w+|the\s+(?:country|west|uk|us|usa|world|nation|city|town|neighbourhood"
    r"|neighborhood|workplace|military|army|government|schools?)|europe|america|britain|england|france|germany"
    r"|australia|canada|society|civilised\s+society|civilized\s+society|public|anywhere)"
)
_RUIN = (  # what they are said to do to everyone
    r"(?:ruin|ruins|ruined|ruining|destroy|destroys|destroyed|destroying|poison|poisons|poisoning|pollute"
    r"|pollutes|polluting|corrupt|corrupts|corrupting|infest|infests|infesting|infested|invade|invades|invading"
    r"|flood|floods|flooding|swarm|swarming|overrun|overrunning|overran|take\s+over|taking\s+over|took\s+over"
    r"|takes\s+over|replace|replacing|outbreed|outbreeding)\s+(?:everything|every\s+\w+|our\s+\w+|this\s+\w+|us"
    r"|europe|america|britain|society|the\s+(?:country|world|nation|neighbou?rhood|city|economy|west|culture"
    r"|planet|race|white\s+race)|white\s+people|whites|it\s+all)"
)
_LIKE = (  # compared with vermin, animals or a disease by what they do
    r"(?:breed|breeding|breeds|multiply|multiplying|multiplies|spread|spreading|spreads|live|living|lives|act"
    r"|acting|acts|behave|behaving|behaves|smell|smells|look|looks|swarm|swarming)\s+like\s+(?:a\s+|the\s+)?"
    + rf"{_alt(_DEHUMANISING)}{_NOT_A_COMPOUND}"
)
_CONTROL = (  # the conspiracy trope: a group said to run the world in secret
    r"(?:control|controls|controlling|run|runs|own|owns)\s+(?:the\s+|all\s+the\s+|our\s+)?(?:media|banks|world"
    r"|government|governments|hollywood|money|finance|news|fed|everything)"
)
_DO_HARM = (  # what they are said to do, always
    r"(?:rape|rapes|steal|steals|lie|lies|cheat|cheats|kill|kills|murder|murders|molest|molests|abuse|abuses"
    r"|groom|grooms)\s+(?:our|white|everything|all|every|anything|children|kids|women|girls|jobs|benefits"
    r"|babies|everyone)\b"
    r"|(?:only|just)\s+(?:care\s+about|want|think\s+about|know)\s+(?:money|benefits|welfare|handouts|sex|violence"
    r"|themselves)|bring\s+(?:nothing\s+but|only)\s+(?:crime|disease|diseases|drugs|violence|terror|rape"
    r"|trouble|problems)|(?:contribute|add|bring)\s+nothing|belong\s+in\s+(?:the\s+)?(?:kitchen|zoo|jungle|trees"
    r"|gutter|cages?|gas\s+chambers?|ovens?|camps?|trash|ghetto|jail|prison|cave|caves)"
)

_TAILS = [  # what is said of the group, after it
    # (a), (c): X are vermin / a disease / criminals; all X are liars; X are nothing but parasites
    r"(?:\s+(?:will|ll|would|always|all|just|still)){0,2}\s+" + _BE + _MOD + r"\s+" + _PREDICATE,
    r"\s+(?:can\s+t|cannot|can\s+not|should\s+never|shouldn\s+t|should\s+not|must\s+never|are\s+not\s+to"
    r"|re\s+not\s+to|aren\s+t\s+to|will\s+never|can\s+never)\s+be\s+trusted",
    # (a): X breed like rats; X are infesting our country
    r"(?:\s+(?:are|re|r|is|keep|keeps))?(?:\s+(?:all|just|always|only|really|literally|basically))?\s+(?:"
    + _LIKE
    + "|"
    + _RUIN
    + r")",
    # (c): X control the media; X steal our jobs; X only care about money
    r"(?:\s+(?:all|just|always|only|really|secretly))?\s+(?:" + _CONTROL + "|" + _DO_HARM + r")",
    # (b): X should be deported / wiped out; X must go; X should not be allowed to vote
    r"\s+" + _SHOULD + r"(?:\s+all)?\s+(?:be|get)(?:\s+all)?\s+" + _alt(_DONE),
    r"\s+" + _SHOULD + r"(?:\s+all|\s+just)?\s+(?:" + _alt(_GONE) + r"\b|" + _LEAVE + r")",
    r"\s+" + _MUST_NOT + r"(?:\s+ever)?\s+be\s+(?:allowed|permitted)\s+(?:to|in|into|here|near|around|anywhere|on"
    r"|at)\b",
    r"\s+(?:" + _MUST_NOT + r"|don\s+t|dont|do\s+not|never)\s+(?:have|get|be\s+given|deserve)\s+" + _RIGHTS,
    r"\s+(?:should|must|deserve\s+to|need\s+to)\s+(?:have|get|be\s+given)\s+no\s+(?:rights|say|vote|voice|place|kids"
    r"|children|jobs|benefits|citizenship|help|healthcare)\b",
    r"\s+(?:don\s+t|dont|do\s+not|doesn\s+t|does\s+not|never)\s+deserve\s+(?:to\s+(?:live|exist|vote|be\s+here"
    r"|be\s+alive|breathe)|rights|human\s+rights|respect|to\s+be\s+treated)",
    r"\s+(?:don\s+t|dont|do\s+not|doesn\s+t|does\s+not|never|will\s+never|shouldn\s+t|should\s+not)\s+belong"
    r"\s+(?:here|in|among|anywhere|with)\b",
    r"\s+(?:have|has)\s+no\s+(?:place|right|business|rights)\s+(?:here|in|to|among|anywhere|on|being)\b",
    r"(?:\s+(?:are|re|is))?\s+(?:not|never)\s+welcome\b",
    r"\s+(?:out|go\s+home|go\s+back|get\s+out|fuck\s+off|piss\s+off|must\s+go)(?:\s+(?:of\s+)?"
    + _PLACE
    + r")?\s*(?:\||$)",
    r"\s+out\s+of\s+" + _PLACE,
]
_AROUND_GROUP = [  # (what comes before the group, what may follow it): calls on others, wishes, the world without them
    (r"no\s+(?:more|place\s+for|room\s+for)\s+", r"\b(?!\s+(?:than|then)\b)"),
    (
        _CALL_PREFIX + _alt(_CALL_VERBS) + r"\s+(?:all\s+|every\s+last\s+one\s+of\s+|every\s+one\s+of\s+|each\s+)?",
        r"\b",
    ),
    (_CALL_PREFIX + _alt(_CALL_BACK_VERBS) + r"\s+(?:all\s+)?", r"\s+(?:out|back|away|home)\b"),
    (
        r"(?:world|country|earth|planet|society|europe|america)\s+(?:would\s+be|is|will\s+be|d\s+be)\s+(?:a\s+)?"
        r"(?:better|safer|cleaner|nicer)(?:\s+place)?(?:\s+off)?\s+without\s+",
        r"\b",
    ),
    (r"rid\s+(?:the|our|this)\s+(?:world|country|earth|planet|nation|society|city)\s+of\s+", r"\b"),
    (
        r"(?:i\s+)?wish\s+(?:there\s+were\s+no|all\s+the|all)\s+",
        r"\b(?:\s+(?:would|were|to))?(?:\s+(?:die|disappear|go\s+away|leave|dead|gone|vanish))?",
    ),
]
_GROUP_LEADS = [before + r"(?:" + _GROUP + r")" + after for before, after in _AROUND_GROUP]
_LEADS = [  # what comes before the group: calls on others, wishes, the world without them
    r"never\s+trust\s+(?:(?:a|an|any|the|those|these)\s+)?(?:" + _alt(_SINGULAR) + "|" + _alt(_PLURAL) + r")\b",
    r"the\s+only\s+good\s+" + _alt(_SINGULAR) + r"\s+is\s+a\s+dead\s+(?:one|" + _alt(_SINGULAR) + r")",
    *_GROUP_LEADS,
    # (b) addressed to someone: go back to where you came from
    r"(?:(?:^|\|)\s*|(?:you|u|ya|yall|they|should|must|just|please|now|and|so|all|off|can|pls|plz)\s+)go\s+back"
    r"\s+to\s+(?:where\s+(?:you|u|ya|they|yall)\s+(?:came|come)\s+from|(?:your|ur|their)\s+(?:own\s+)?(?:country"
    r"|countries|shithole|jungle|cave|caves|desert|village|land|kind)|africa|mexico|the\s+jungle|the\s+desert)",
]
# One pattern, tried where a match can start (``_starts``): the group once, then each thing said of it; or a lead.
# Every part is a bounded sequence of alternations of words: linear in the words tried.
_ATTACK = re.compile(r"(?:" + _SUBJECT + r")(?:" + "|".join(_TAILS) + r")|" + "|".join(f"(?:{p})" for p in _LEADS))
LEAD = 16  # no pattern has more words than this before its group's first word ("let us just get rid of all of the")


def _loosened(pattern: str) -> str:
    """``pattern`` without clause marks and negative lookaheads: it matches a text's words joined without clause
    marks wherever ``pattern`` matches them joined with (and in more places). Cheaper to get than the spans."""
    for mark in (r"(?:\s+\|)?", r"(?:^|\|)\s*", r"\s*(?:\||$)"):
        pattern = pattern.replace(mark, "")
    return without_lookaheads(pattern)


# The leads of ``_AROUND_GROUP`` are one pattern in it: any of their beginnings, then the group (what may follow it
# dropped: a match of one of them starts with a match of this). It holds ``_GROUP`` once, not six times: a regex
# ~40% shorter, compiled at every start (tests/core/test_attacks.py checks it is looser, on every post we have).
_AROUND = r"(?:" + "|".join(before for before, _ in _AROUND_GROUP) + r")(?:" + _GROUP + r")"
_LOOSE = re.compile(
    _loosened(
        r"(?:"
        + _SUBJECT
        + r")(?:"
        + "|".join(_TAILS)
        + r")|"
        + "|".join(f"(?:{p})" for p in [*(p for p in _LEADS if p not in _GROUP_LEADS), _AROUND])
    )
)

# The gate: every pattern needs a group word, or "back" (go back to ...), and one of the other words it holds.
_GROUP_WORDS = _words(_PLURAL, _GENDERS, _SINGULAR, _ADJECTIVE, _THE_ADJECTIVE) | {"back"}
_TRIGGERS = _words(_DEHUMANISING, _DEROGATORY, _DONE, _GONE, _CALL_VERBS, _CALL_BACK_VERBS) | _words(
    "trusted ruin ruins ruined ruining destroy destroys destroyed destroying poison poisons poisoning pollute"
    " pollutes polluting corrupt corrupts corrupting infest infests infesting infested invade invades invading"
    " flood floods flooding swarm swarming overrun overrunning overran take taking took takes replace replacing"
    " outbreed outbreeding like control controls controlling run runs own owns rape rapes steal steals lie lies"
    " cheat cheats kill kills murder murders molest molests abuse abuses groom grooms care want bring contribute"
    " add belong allowed permitted have get given deserve place welcome out home off more room without rid wish"
    " trust good back go leave"
)
_MARKERS = frozenset({"lexrace", "lexgay", "lexdis"})
_CLAUSE = re.compile(r"[.,!?;:]")
_SENTENCE = re.compile(r"[.!?]")

# --- what makes a match no attack -----------------------------------------------------------------

LOOK_BACK = 8  # words before a match, in its sentence, that may say it is quoted, reported or denounced
LOOK_AHEAD = 5  # words after it that may
_REPORTING = _words(
    "calling call called calls saying say says said claim claims claimed claiming tweet tweeted tweets tweeting"
    " wrote writes write writing post posted posts posting shout shouted shouting yell yelled yelling scream"
    " screamed screaming chant chanted chanting argue argues argued arguing insist insists insisted insisting"
    " suggest suggests suggested suggesting imply implies implied implying pretend pretends pretending think"
    " thinks thought thinking believe believes believed believing assume assumes assumed assuming tell tells"
    " told telling hear heard read reads quote quoted quoting repeat repeats repeated repeating spread spreads"
    " spreading label labels labelled labeled labelling labeling describe describes described describing brand"
    " branded branding compare compares compared comparing equate equates equated equating portray portrays"
    " portrayed portraying depict depicts depicted depicting paint paints painted painting myth myths lie lies"
    " idea ideas notion stereotype stereotypes stereotyping trope tropes narrative rhetoric propaganda slogan"
    " slogans sign signs banner banners poster posters graffiti meme memes joke jokes claim assumption"
    " assumptions belief beliefs conspiracy prejudice bigotry racism sexism homophobia transphobia islamophobia"
    " antisemitism xenophobia misogyny if whether why wants wanted plans planned promised promises vowed vows"
    " threatened threatens tried tries proposed proposes announced announces pledged pledges ordered orders"
    " accused accuse accuses accusing insinuate insinuates insinuating meant wrong false untrue"
    " nonsense bullshit absurd ridiculous offensive unacceptable bigoted hateful dehumanising dehumanizing"
    " denounce denounced condemn condemned condemns condemning reject rejected rejects banned"
    " report reported reporting reports misinformation disinformation lied hoax"
)
_SPEAKER_VERBS = _words(  # a cue that is no cue after "I" or "we": "I think X are vermin" is the speaker's own
    "say says said saying think thought thinking believe believed tell told telling mean meant claim argue insist"
    " repeat suggest call calling"
)
_FIRST_PERSON = frozenset({"i", "we", "im", "ive", "id"})
_NEGATORS = frozenset({"not", "never", "nt", "dont", "didnt", "wont", "wouldnt", "cant", "no"})
_NEGATED_T = frozenset({"don", "didn", "won", "wouldn", "can", "isn", "aren", "wasn", "weren", "ain", "doesn"})
_NOT_ALL = frozenset({"not", "never", "none", "some", "few", "hardly", "nt"})  # "not all X", "some X are"
_DENOUNCED = re.compile(  # after the match: "... is a lie", "... is what racists say", "..., he said"
    r"^(?:(?:which|that|this|it)\s+)?(?:is|was|s|isn\s+t|wasn\s+t|is\s+just)\s+(?:so\s+|just\s+|totally\s+|pure\s+)?"
    r"(?:wrong|false|a\s+lie|lies|racist"
    r"|bigoted|bigotry|disgusting|hateful|hate|unacceptable|nonsense|bullshit|ignorant|dehumanising|dehumanizing"
    r"|vile|offensive|propaganda|a\s+myth|myth|a\s+trope|trope|a\s+stereotype|stereotype|gross|appalling|sick"
    r"|ridiculous|absurd|harmful|untrue|bs|misinformation|hate\s+speech|xenophobic|homophobic|transphobic|sexist"
    r"|antisemitic|islamophobic|ableist|misogynistic|dangerous\s+rhetoric|not\s+(?:ok|okay|true|acceptable|cool|fine"
    r"|right|funny)|what\s+(?:\w+\s+)?(?:racists|bigots|nazis|idiots|people|they|trolls)\s+(?:say|said|think|believe"
    r"|want))\b"
    r"|^(?:\w+\s+){0,3}?(?:said|says|claimed|claims|wrote|writes|tweeted|yelled|shouted|screamed|chanted|argued"
    r"|insisted|according|posted)\b"
    r"|^(?:\w+\s+){0,1}?said\s+no\s+one"
)


def _cue_counts(words: Sequence[str], i: int, low: int) -> bool:
    """Whether ``words[i]``, a cue, says the match is quoted, reported or denounced: a speaker's verb after "I"
    or "we" (``low``..``i``, not negated) is the speaker's own claim ("I think X are ...")."""
    if words[i] not in _SPEAKER_VERBS:
        return True
    for j in range(i - 1, max(low, i - 4) - 1, -1):
        w = words[j]
        if w in _NEGATORS or (w == "t" and j and words[j - 1] in _NEGATED_T):
            return True  # "I don't think", "I'm not saying"
        if w in _FIRST_PERSON:
            return False
    return True


def _not_an_attack(words: Sequence[str], first: int, last: int, sentence: int, end: int, question: bool) -> bool:
    """Whether the match ``words[first..last]`` (in the sentence ``words[sentence:end]``) is quoted, reported,
    denounced, negated or asked about rather than said: a bounded look either side."""
    if question:
        return True
    low = max(sentence, first - LOOK_BACK)
    for i in range(low, first):
        if words[i] in _REPORTING and _cue_counts(words, i, low):
            return True
        if words[i] in ("true", "case", "so") and i > low and words[i - 1] in ("not", "t", "never"):
            return True  # "it's not true that X are ..."
    for i in range(max(sentence, first - 3), first):
        w = words[i]
        if w in _NOT_ALL or (w == "t" and i and words[i - 1] in _NEGATED_T):
            return True  # "not all X", "some X", "isn't it X"
    after = " ".join(words[last + 1 : min(end, last + 1 + LOOK_AHEAD)])
    match = _DENOUNCED.search(after)
    if match is None:
        return False
    said = re.search(r"(?:said|says|claimed|claims|wrote|writes|posted)", match.group())
    before = match.group()[: said.start()].split() if said else []
    return not (before and before[-1] in _FIRST_PERSON)  # "X are vermin, I said it" is the speaker's own


def _matches(
    words: Sequence[str], joined: str, starts: Sequence[int], bars: Sequence[int], pattern: re.Pattern[str]
) -> Iterator[tuple[int, int]]:
    """``(first, last)`` word indices of each match of ``pattern`` in ``joined`` (``words`` joined, word ``i`` at
    ``starts[i]``, its clause mark, if any, at ``bars[i]``), leftmost first.

    Tried only where a match can start: at most ``LEAD`` words before a group word (a bounded number of
    attempts per word, whatever the text), not at every word."""
    tried = 0  # words before this one have been tried
    for g, word in enumerate(words):
        if word not in _GROUP_WORDS:
            continue
        for j in range(max(tried, g - LEAD), g + 1):
            for pos in (bars[j], starts[j]):
                match = pattern.match(joined, pos) if pos >= 0 else None
                if match is not None:
                    yield j, max(j, bisect_right(starts, match.end() - 1) - 1)
        tried = g + 1


def _joined(words: Sequence[str], marks: Sequence[bool]) -> tuple[str, list[int], list[int]]:
    """``words`` joined by spaces, a clause mark ("|") before each word whose ``marks`` is true: the string, each
    word's offset in it, and each word's mark's offset (-1: none)."""
    parts: list[str] = []
    starts: list[int] = []
    bars: list[int] = []
    at = 0
    for word, mark in zip(words, marks, strict=True):
        bars.append(at if mark else -1)
        if mark:
            parts.append("|")
            at += 2
        parts.append(word)
        starts.append(at)
        at += len(word) + 1
    return " ".join(parts), starts, bars


def find(tokens: Sequence[Any], text: str) -> dict[str, Any] | None:
    """The first attack among ``tokens`` of ``text`` (``Token``s from ``Reader.tokens``):
    ``{"start", "end", "text"}`` with offsets into ``text``, or ``None``."""
    words = [t for t in tokens if t.text not in _MARKERS]
    texts = [t.text for t in words]
    gaps = [""] + [text[words[i - 1].end : words[i].start] for i in range(1, len(words))]
    joined, starts, bars = _joined(texts, [bool(_CLAUSE.search(gap)) for gap in gaps])
    sentence_of: list[int] = []  # each word's sentence's first word
    for i, gap in enumerate(gaps):
        sentence_of.append(i if not i or _SENTENCE.search(gap) else sentence_of[-1])
    ends = [0] * len(words)  # each word's sentence's end (exclusive), and whether that sentence asks something
    asks = [False] * len(words)
    for i in range(len(words) - 1, -1, -1):
        if i == len(words) - 1 or sentence_of[i + 1] != sentence_of[i]:
            tail = gaps[i + 1] if i + 1 < len(words) else text[words[i].end :]
            ends[i], asks[i] = i + 1, "?" in tail
        else:
            ends[i], asks[i] = ends[i + 1], asks[i + 1]
    for first, last in _matches(texts, joined, starts, bars, _ATTACK):
        if not _not_an_attack(texts, first, last, sentence_of[first], ends[last], asks[last]):
            start, end = words[first].start, words[last].end
            return {"start": start, "end": end, "text": text[start:end]}
    return None


def may_attack(words: Sequence[str]) -> bool:
    """The gate, from a text's normalised words: whether any pattern could match (a group word and a word of
    a predicate or a call). ``False`` for most texts, which are then not read again."""
    return not _GROUP_WORDS.isdisjoint(words) and not _TRIGGERS.isdisjoint(words)


def check(reader: Any, text: str, read: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The identity attack in ``text`` as ``reader`` (the model's ``Reader``) reads it, or ``None``; ``read``:
    ``reader.words(text)`` where the caller has it."""
    words = [w for w in (reader.words(text) if read is None else read) if w not in _MARKERS]
    if not may_attack(words):  # most texts: no spans read, no search
        return None
    joined, starts, bars = _joined(words, [False] * len(words))
    if next(_matches(words, joined, starts, bars, _LOOSE), None) is None:  # most of the others: no spans read
        return None
    return find(reader.tokens(text), text)


# Per set of stop words: the group words they hide, as a pattern ignoring case and as one for lower-case text (an
# ASCII text lowered matches it exactly where the first matches the text, at ~60% of the cost: every text asks).
_HIDDEN: dict[frozenset[str], tuple[re.Pattern[str], re.Pattern[str]]] = {}


def check_scored(model: Any, text: str, seen: Sequence[str] | None = None) -> dict[str, Any] | None:
    """``check`` with the compiled model's reader, right after scoring ``text``: its gate first reads the
    model's per-piece cache (the tokens scoring saw, a few dictionary lookups) for a group word, and the text
    itself for a group word that is also a stop word of the model ("men", "old"), written plainly. A text
    with neither, most texts, is not read again. ``seen``: ``model.tokens(text)`` if the caller has them."""
    stop = model.stop
    hidden = _HIDDEN.get(stop)
    if hidden is None:
        words = r"\b(?:" + "|".join(sorted(_GROUP_WORDS & stop) or ["(?!)"]) + r")\b"
        hidden = _HIDDEN.setdefault(stop, (re.compile(words, re.IGNORECASE), re.compile(words)))
    if (
        _GROUP_WORDS.isdisjoint(model.tokens(text) if seen is None else seen)
        and (hidden[1].search(text.lower()) if text.isascii() else hidden[0].search(text)) is None
    ):
        return None
    return check(model.reader, text, model.words(text))


LEAST_ACTION = REVIEW  # an identity attack goes to a person, whatever the model's scores say


def raise_action(action: str, found: dict[str, Any] | None) -> str:
    """The action once the identity-attack check has spoken: at least ``review`` on an attack."""
    if found is None:
        return action
    return max(action, LEAST_ACTION, key=ACTION_RANK.__getitem__)


def apply(answer: Moderation, found: dict[str, Any] | None) -> Moderation:
    """Add the check's verdict to a ``/moderate`` answer: ``categories["identity attack"]``; on a match, the span
    as a reason after the classes' (``Moderator`` applies the threat check next, whose reason comes last),
    ``categories["hate speech"]`` true (an attack on a group is hate speech, when the policy has that class), and
    the action raised by ``raise_action``."""
    answer["categories"][CATEGORY] = found is not None
    if found is not None:
        reason = cast(AttackReason, {"category": CATEGORY, **found})  # found holds start, end and text
        answer["reasons"] = [*answer.get("reasons", ()), reason]
        if HATE in answer["categories"]:
            answer["categories"][HATE] = True
        answer["action"] = raise_action(answer["action"], found)
        answer["flagged"] = is_flagged(answer["action"])
    return answer
