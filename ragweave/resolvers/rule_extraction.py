"""The offline graph extractor, used when no LLM is configured: capitalised phrases and verb patterns.

Entities: a run of Capitalised words on one line, with of/de/du/da/del/der/van/von/la/le/& allowed between
words and an optional version at the end ("Atlas Engine v2"); Markdown headings are skipped. Leading stopwords
(The, In, It, We, After, ...), weekdays, months and titles (Dr, CEO) are dropped from a phrase. A lone word that
opens a sentence counts only if the text also capitalises it mid-sentence; a lone cue word ("Team") never does.
The type is the first that applies: a title word just before the name (Dr., CEO, engineer) → Person; a cue as
last, then first, word (Team/Squad → Team; Labs/Inc/Corp/Group/Department → Organization; Platform/Engine/API →
Product; Project/Initiative → Project; Launch/Offsite/Outage → Event; City/Street/Lake → Location; Index/Policy →
Concept); a version → Product; "in"/"near" just before → Location; two plain capitalised words (first + last
name) → Person; else Concept. A name typed several ways in one text keeps its first type other than Concept.
Node id = `entity_id(type, name)` = "<type lower>:<ascii slug of the normalised name>", stable across texts.

Relations, within one sentence: neighbouring entities joined by a verb phrase get a typed edge (`_RELATION_RULES`):
"X leads Y" / "X is the head of Y" / "Y is led by X" → LEADS; "X works at/for/in Y" / "X, a member of Y" →
MEMBER_OF; "X builds/develops/maintains Y" / "Y is built by X" → BUILDS; "X uses Y" → USES; "X is based/located
in Y" → LOCATED_IN; also FOUNDED, AFFECTS, ATTENDED, INVOLVED_IN, CUSTOMER_OF, REPORTS_TO, PARTNERS_WITH,
LAUNCHED_AT. An apposition may sit between ("X, a site engineer, works in Y"); "X leads Y and Z" also gives
X LEADS Z. Every other pair in a sentence gets RELATED_TO with properties {"evidence": "co-occurrence"}, unless
the pair has a typed edge. No self-edges; edges are unique by (source, target, type); nodes and edges come out
in order of first appearance.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from ragweave.records import ExtractedGraph, GraphEdge, GraphNode
from ragweave.resolvers.chunking import sentence_spans

ENTITY_TYPES = ("Person", "Organization", "Team", "Product", "Project", "Event", "Location", "Concept")
RELATED_TO = "RELATED_TO"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CONNECTORS = _words("of de du da del der van von la le &")
_WORD = r"[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
_CONNECTOR = "(?:" + "|".join(sorted(_CONNECTORS)) + ")"
_PHRASE = re.compile(rf"\b{_WORD}(?:[ \t]+(?:{_CONNECTOR}[ \t]+)?{_WORD})*(?:[ \t]+v\d+(?:\.\d+)*\b)?")
_VERSION = re.compile(r"v\d+(?:\.\d+)*")
_PLAIN_NAME = re.compile(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?")
_STOPWORDS = _words("""
    a an the in on at of to for from by with as and or but if so it its this that these those there here we our
    us you your i he she his her they their them my me who what when where why how which while after before
    during since until because although though also however then today tomorrow yesterday each every all some
    most many more no not yes one two three first second next last finally later ok please thanks note see
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december q1 q2 q3 q4 utc gmt""")
_TITLES = _words("""dr mr mrs ms mx prof professor sir dame ceo cto cfo coo cpo vp president founder co-founder
    engineer manager director researcher scientist designer analyst intern chair""")
_LAST_WORD_CUES = {
    "Team": _words("team squad crew guild"),
    "Organization": _words("""group department inc labs lab corp corporation company ltd llc gmbh foundation
        university institute agency ministry bank trust cooperative association council society partners
        holdings hospital library museum authority commission college school consortium"""),
    "Product": _words("platform engine console api sdk app studio cloud server toolkit kit suite db dashboard"),
    "Project": _words("project initiative program programme migration pilot"),
    "Event": _words("""launch summit conference offsite incident outage workshop meetup hackathon retreat
        retrospective post-mortem webinar kickoff expo day week"""),
    "Location": _words("city town village street road avenue square bay island county valley river coast district"),
    "Concept": _words("""index policy method model protocol framework score metric principle theory algorithm
        pattern standard architecture strategy"""),
}
_FIRST_WORD_CUES = {"Team": _words("team"), "Project": _words("project operation"),
                    "Organization": _words("department university bank ministry institute"),
                    "Location": _words("lake mount fort cape isle")}
_CUE_WORDS = frozenset().union(*_LAST_WORD_CUES.values(), *_FIRST_WORD_CUES.values())
_PLACE_PREPOSITIONS = _words("in near")

_APPOSITION = r"(?:,[a-z0-9\s'-]*,)?"  # "X, a site reliability engineer, works in Y"
_LEAD_IN = rf"^{_APPOSITION},?\s*(?:(?:who|which|that|also|now|still|currently|has|have|had|is|was|are|were)\s+)*"
_OBJECT = r"(?:\s+(?:the|a|an|its|their|our|his|her))?$"
_RELATION_RULES: list[tuple[str, bool, str]] = [  # (type, reversed, verb phrase between the two entities)
    ("LEADS", False, r"leads|led|heads|headed|runs|ran|manages|managed|directs|directed|"
                     r"(?:the\s+)?(?:head|lead|leader|director|manager)\s+of|in\s+charge\s+of"),
    ("LEADS", True, r"(?:led|headed|run|managed|directed)\s+by"),
    ("FOUNDED", False, r"founded|co-founded|(?:the\s+)?(?:co-)?founders?\s+of"),
    ("FOUNDED", True, r"(?:co-)?founded\s+by"),
    ("MEMBER_OF", False, r"(?:works?|worked|working)\s+(?:at|for|in|on)|joined|(?:an?\s+)?members?\s+of|part\s+of"),
    ("BUILDS", False, r"builds|built|develops|developed|maintains|maintained|creates|created|designs|designed|"
                      r"ships|shipped|owns|owned"),
    ("BUILDS", True, r"(?:built|developed|maintained|created|designed|owned)\s+by"),
    ("USES", False, r"uses|used|relies\s+on|relied\s+on|runs\s+on|ran\s+on|depends\s+on|adopted|"
                    r"(?:(?:a|an|the)\s+)?(?:[a-z]+\s+)?users?\s+of"),
    ("USES", True, r"used\s+by"),
    ("LOCATED_IN", False, r"(?:located|based|headquartered|held)\s+in|took\s+place\s+in|(?:an?\s+)?offices?\s+in"),
    ("AFFECTS", False, r"affected|affects|disrupted|disrupts|impacted|impacts|took\s+down"),
    ("ATTENDED", False, r"attended|attends|spoke\s+at|presented\s+at"),
    ("INVOLVED_IN", False, r"responded\s+to|handled|investigated|took\s+part\s+in|participated\s+in|involved\s+in"),
    ("CUSTOMER_OF", False, r"(?:(?:a|an|the)\s+)?(?:[a-z]+\s+)?customers?\s+of"),
    ("REPORTS_TO", False, r"reports\s+to|reported\s+to"),
    ("PARTNERS_WITH", False, r"partners\s+with|partnered\s+with"),
    ("LAUNCHED_AT", False, r"(?:unveiled|launched|announced|introduced)\s+at"),
]
_COMPILED_RULES = [(kind, flip, re.compile(_LEAD_IN + f"(?:{verb})" + _OBJECT)) for kind, flip, verb in _RELATION_RULES]
_LIST_SEPARATOR = re.compile(r"^\s*(?:,|,?\s+(?:and|or|as well as))(?:\s+(?:the|a|an))?\s*$")
_LIST_ENDS = r"and|or|in|at|on|for|with|from|to|of|as|during|since"  # "X uses Y and Z in ..." is still a list
_CLAUSE_GOES_ON = re.compile(rf"^\s+(?!(?:{_LIST_ENDS})\b)[a-z]")  # "..., and Tomas Reyes leads ..." is not
RELATION_TYPES = tuple(dict.fromkeys([RELATED_TO, *(kind for kind, _, _ in _RELATION_RULES)]))


def normalise_name(name: str) -> str:
    """Display form of a name: NFKC, single spaces, no surrounding quotes/punctuation, no possessive 's."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name))
    text = text.strip(" \"'`*_.,;:!?()[]{}\u201c\u201d\u2018\u2019")
    return re.sub(r"['\u2019]s$", "", text)


def slug(name: str) -> str:
    """Lowercase ascii words joined by hyphens; a hash when nothing ascii is left (e.g. a name in CJK)."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words or "u" + hashlib.sha1(name.casefold().encode()).hexdigest()[:12]


def entity_id(type: str, name: str) -> str:
    """The stable id of an entity: same type and normalised name → same id, in any chunk or document."""
    return f"{type.strip().lower()}:{slug(normalise_name(name))}"


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    end: int
    name: str
    type: str


def _is_dropped(word: str) -> bool:
    plain = word.rstrip(".").lower()
    return plain in _STOPWORDS or plain in _TITLES or plain in _CONNECTORS


def _word_before(text: str) -> str:
    found = re.search(r"([A-Za-z][A-Za-z-]*)\W*$", text)
    return found.group(1).lower() if found else ""


def _classify(words: list[str], before: str) -> str:
    if _word_before(before) in _TITLES:
        return "Person"
    for word, cues in ((words[-1], _LAST_WORD_CUES), (words[0], _FIRST_WORD_CUES)):
        kind = next((kind for kind, cue_words in cues.items() if word.lower() in cue_words), None)
        if kind is not None:
            return kind
    if _VERSION.fullmatch(words[-1]):
        return "Product"
    if _word_before(before) in _PLACE_PREPOSITIONS:
        return "Location"
    if len(words) == 2 and all(_PLAIN_NAME.fullmatch(word) for word in words):
        return "Person"
    return "Concept"


def _phrases(sentence: str) -> list[tuple[int, int, bool]]:
    """(start, end, opens the sentence) of each capitalised phrase, leading stop and title words removed."""
    found = []
    for match in _PHRASE.finditer(sentence):
        words = list(re.finditer(r"\S+", match.group()))
        keep = next((i for i, word in enumerate(words) if not _is_dropped(word.group())), len(words))
        if keep < len(words):
            opens = keep == 0 and not re.search(r"[A-Za-z]", sentence[: match.start()])
            found.append((match.start() + words[keep].start(), match.end(), opens))
    return found


def _mentions(sentence: str, known_words: set[str]) -> list[_Mention]:
    mentions = []
    for start, end, opens in _phrases(sentence):
        words = sentence[start:end].split()
        lone_word = words[0] if len(words) == 1 else None
        if lone_word and (lone_word.lower() in _CUE_WORDS or (opens and lone_word not in known_words)):
            continue
        mentions.append(_Mention(start, end, normalise_name(sentence[start:end]), _classify(words, sentence[:start])))
    return mentions


def _resolved_types(found: list[list[_Mention]]) -> dict[str, str]:
    """Slug → type: the first type other than Concept that the name was given in this text."""
    types: dict[str, str] = {}
    for mention in (m for mentions in found for m in mentions):
        if types.get(slug(mention.name), "Concept") == "Concept":
            types[slug(mention.name)] = mention.type
    return types


def extract_entities(text: str) -> ExtractedGraph:
    """Entities and relations found by the rules in this module's docstring; mentions are left to the caller."""
    sentences = [text[a:b] for a, b in sentence_spans(text) if not text[a:b].startswith("#")]
    known_words = {w for s in sentences for start, end, opens in _phrases(s) if not opens for w in s[start:end].split()}
    found = [_mentions(sentence, known_words) for sentence in sentences]
    types = _resolved_types(found)
    nodes: dict[str, GraphNode] = {}
    edges: dict[tuple[str, str, str], GraphEdge] = {}
    for sentence, mentions in zip(sentences, found, strict=True):
        ids = [entity_id(types[slug(m.name)], m.name) for m in mentions]
        for mention, node_id in zip(mentions, ids, strict=True):
            nodes.setdefault(node_id, GraphNode(id=node_id, type=types[slug(mention.name)], name=mention.name))
        _add_typed_edges(sentence, mentions, ids, edges)
        _add_co_occurrence(ids, edges)
    typed_pairs = {frozenset((s, t)) for s, t, kind in edges if kind != RELATED_TO}
    kept = [e for (s, t, kind), e in edges.items() if kind != RELATED_TO or frozenset((s, t)) not in typed_pairs]
    return ExtractedGraph(nodes=list(nodes.values()), edges=kept)


def _relation(between: str) -> tuple[str, bool] | None:
    """(relation type, reversed) when the text between two entities is one of the verb phrases."""
    phrase = re.sub(r"\s+", " ", between.lower()).strip()
    return next(((kind, flip) for kind, flip, pattern in _COMPILED_RULES if pattern.match(phrase)), None)


def _continues_list(sentence: str, left: _Mention, right: _Mention) -> bool:
    """`right` is the next item of a list after `left` ("Y and Z"), not the subject of a new clause."""
    separated = _LIST_SEPARATOR.match(sentence[left.end : right.start])
    return bool(separated) and not _CLAUSE_GOES_ON.match(sentence[right.end :])


def _add_typed_edges(sentence: str, mentions: list[_Mention], ids: list[str], edges: dict) -> None:
    previous: tuple[str, bool, str] | None = None  # (type, reversed, the entity before the verb)
    for left, right, left_id, right_id in zip(mentions, mentions[1:], ids, ids[1:], strict=False):
        relation = _relation(sentence[left.end : right.start])
        if relation is not None:
            previous = (*relation, left_id)
        elif previous is None or not _continues_list(sentence, left, right):
            previous = None
            continue
        kind, flip, subject_id = previous
        source, target = (right_id, subject_id) if flip else (subject_id, right_id)
        if source != target:
            edges.setdefault((source, target, kind), GraphEdge(source, target, kind))


def _add_co_occurrence(ids: list[str], edges: dict) -> None:
    unique = list(dict.fromkeys(ids))
    for i, source in enumerate(unique):
        for target in unique[i + 1 :]:
            if (target, source, RELATED_TO) not in edges:
                edge = GraphEdge(source, target, RELATED_TO, {"evidence": "co-occurrence"})
                edges.setdefault((source, target, RELATED_TO), edge)
