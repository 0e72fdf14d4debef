"""Escalation signals in the complaint text: the annotation guide's criteria that words can
show, each reported as a named reason with the phrase that triggered it.

These are a backstop beside the escalation model: explicit, explainable, and easy for an
organisation to extend. Guards keep common decoys out ("legal tender", "not planning to sue",
"my lawyer friend").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from classifier.money import Amount, amounts

_NEGATION_BEFORE = re.compile(
    r"\b(not|no|never|n't|without|nor|don't|won't|isn't|wasn't|aren't)\W+(\w+\W+){0,3}$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signal:
    reason: str
    phrase: str
    start: int
    end: int


@dataclass(frozen=True)
class _Rule:
    reason: str
    pattern: re.Pattern[str]  # case-insensitive, for any text
    lowered: re.Pattern[str]  # the same phrases for lower-cased text, about twice as fast
    negatable: bool = True


def _rule(reason: str, pattern: str, negatable: bool = True) -> _Rule:
    # Every phrase starts at the start of a word; saying so once, outside the alternatives,
    # lets the engine skip other positions at once. For lower-cased text the alternatives
    # then start with a plain letter, which the engine compares before trying one.
    alternatives = [a.removeprefix(r"\b") for a in _top_level_alternatives(pattern)]
    lowered = "|".join(re.sub(r"(\\.)|([A-Z])", _lower_literal, a) for a in alternatives)
    return _Rule(
        reason,
        re.compile(rf"\b(?=\w)(?:{pattern})", re.IGNORECASE),
        re.compile(rf"\b(?=\w)(?:{lowered})"),
        negatable,
    )


def _lower_literal(match: re.Match[str]) -> str:
    return match.group(1) or match.group(2).lower()  # escapes such as \W stay as written


def _top_level_alternatives(pattern: str) -> list[str]:
    """`pattern` split at the | that are outside groups and character classes."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = pattern.index("]", i + 2)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


_AUTHORITIES = (  # regulators and ombudsmen a customer may take a complaint to
    r"ombudsman|ofcom|ofgem|ofwat|\bfca\b|\bcaa\b|\bico\b|trading standards|"
    r"financial conduct authority|information commissioner|citizens advice|regulator"
)
RULES: tuple[_Rule, ...] = (
    _rule(
        "threat of legal action or a regulator complaint",
        r"\b(my|our|the family's) (lawyer|solicitor|attorney)s?\b(?! friend)|"
        r"\b(instruct|consult|contact|speak(ing)? to|hire|hiring|engage)\w* (a |my |our )?"
        r"(lawyer|solicitor|attorney)|\bsue\b|\bsuing\b|legal action|legal proceedings|"
        r"small claims|(take|taking|see|seeing|go|going|drag)\w* (you |this |them |it )?"
        r"(to |in )court|court action|county court|letter before (action|claim)|"
        r"(report|complain|refer|escalat|go|going|writ|tak|contact)\w* "
        r"(this |you |it |the matter )?(to )?(the )?(" + _AUTHORITIES + r")",
    ),
    _rule(
        "risk to safety or health",
        r"\binjur(y|ies|ed)\b|\bhurt\b|\bburn(ed|t|s)\b|caught fire|\bon fire\b|\bsmoke\b|"
        r"electric shock|\bsparking\b|\bhospital\b|\bA&E\b|allergic reaction|anaphyla|"
        r"food poisoning|carbon monoxide|gas leak|\bunsafe\b|\bdangerous\b|brakes? (fail|went)|"
        r"\bfell\b|\bfracture|\bchoking\b|\bmould\b.*\b(asthma|breath)",
    ),
    _rule(
        "personal data breach or data-protection request",
        r"\bgdpr\b|data protection|data breach|subject access|\bDSAR\b|"
        r"right to (be forgotten|erasure)|(delete|erase) (all )?my (personal )?"
        r"(data|details|information)|someone else'?s (details|data|account|address|name)|"
        r"(my|our) (data|details) (was|were|has been|have been) (leaked|shared|sold)",
        negatable=False,
    ),
    _rule(
        "public attention: press, social media reach or a campaign",
        r"\bjournalist|newspaper|\bthe press\b|press office|\bBBC\b|\bITV\b|local paper|"
        r"\bgo(ing|ne)? viral\b|\b\d[\d,.]*\s?k? followers|\bpetition\b|\bcampaign\b|"
        r"\bmy MP\b|\bwatchdog\b|\bon the radio\b|\bTikTok\b",
    ),
    _rule(
        "repeated contact or long unresolved",
        r"\b(third|fourth|fifth|sixth|3rd|4th|5th|6th) (call|email|e-mail|message|letter|"
        r"complaint|request|chase|attempt to (get|reach|contact))|"
        r"\b(third|fourth|fifth|3rd|4th|5th) time (i|we)('ve| have)? (called|rung|rang|phoned|"
        r"emailed|written|wrote|contacted|asked|chased|complained)|"
        r"\b(called|rung|rang|phoned|emailed|written|wrote|contacted|chased|messaged)"
        r"( to)?( you| us)? (three|four|five|six|seven|\d+) times|"
        r"(waiting|waited|been|chasing|outstanding|unresolved|still)\w*( for)?"
        r"( over| nearly| almost)? (two|three|four|five|six|\d+) (months|weeks)\b|"
        r"\bover a month\b",
        negatable=False,
    ),
    _rule(
        "vulnerable customer",
        r"\bbereave|passed away|\bdied\b|\bfuneral\b|\bwidow|\bcancer\b|\bterminal(ly)? ill|"
        r"chemotherapy|\bdisabled\b|\bdisability\b|\bwheelchair\b|\bblind\b|\bdeaf\b|"
        r"\bdementia\b|\bhardship\b|can'?t afford|food bank|\boxygen\b|\bdialysis\b|\bcarer\b",
    ),
    _rule(
        "systemic problem affecting many customers",
        r"\boutage\b|\brecall\b|\b(hundreds|thousands) of\b|\beveryone (else|on|in)\b|"
        r"\bwhole (street|estate|area|town|village|building)\b|\ball (your )?customers\b|"
        r"\bother customers\b|\bnationwide\b",
    ),
    _rule(
        "claim of discrimination or unequal treatment",
        r"\bdiscriminat|\bracis[tm]\b|\bsexis[tm]\b|\bhomophob|\bageis[tm]\b|"
        r"because (of )?(I am|I'm|my) (black|muslim|jewish|disabled|gay|a woman|foreign|old)|"
        r"equality act|\bprejudice",
        negatable=False,
    ),
)


def _first_letters(alternative: str) -> str | None:
    """The letters an alternative that opens with a group of plain words can start with
    ("(my|our) lawyer" -> "mo"), or None when that is not so simple to tell."""
    if not alternative.startswith("("):
        return None
    if "\\(" in alternative or "\\)" in alternative or "[" in alternative:
        return None  # parentheses that do not open or close a group
    depth, end = 0, 0
    while end == 0 or depth > 0:
        depth += {"(": 1, ")": -1}.get(alternative[end], 0)
        end += 1
    options = _top_level_alternatives(alternative[1 : end - 1])
    if not all(o[:1].isalnum() for o in options):
        return None
    return "".join(sorted({o[0] for o in options}))


def _any_rule(rules: tuple[_Rule, ...]) -> re.Pattern[str]:
    """Where any rule matches lower-cased text: one pass over the text instead of one per
    rule. A zero-width lookahead, so every such position is found, overlapping or not.

    The rules' alternatives are grouped by their first letter ("s(?:ue\\b|uing\\b|...)"):
    at each word the engine then compares one letter per group instead of entering every
    rule, which made this pass about 40% faster on long letters."""
    by_letter: dict[str, list[str]] = {}
    others = []
    for rule in rules:
        inner = rule.lowered.pattern.removeprefix(r"\b(?=\w)(?:").removesuffix(")")
        for alternative in _top_level_alternatives(inner):
            alternative = alternative.removeprefix(r"\b")
            if alternative[:1].isalnum() and alternative[1:2] not in ("?", "*", "+", "{"):
                by_letter.setdefault(alternative[0], []).append(alternative[1:])
            else:
                letters = _first_letters(alternative)
                others.append(f"(?=[{letters}]){alternative}" if letters else alternative)
    grouped = [f"{letter}(?:{'|'.join(rest)})" for letter, rest in sorted(by_letter.items())]
    return re.compile(r"\b(?=\w)(?=" + "|".join([*grouped, *others]) + ")")


_ANY_RULE = _any_rule(RULES)
_QUOTED = re.compile(r"(?m)^[ \t]*>.*$")  # a quoted line; without a ">" there is none


def _matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(text)` yields, trying only `starts`: the positions where some
    rule matches include every position where this one does."""
    after = 0
    for start in starts:
        if start >= after and (match := pattern.match(text, start)):
            after = match.end()
            yield match


def detect(
    text: str, *, amount_limit: float, found: Sequence[Amount] | None = None
) -> list[Signal]:
    """The escalation signals in `text`, at most one per reason, in rule order. `found` are
    the money amounts in `text` when they are already known."""
    # Quoted earlier correspondence ("> ...") is our own or old text, not the customer's words.
    own = _QUOTED.sub(lambda m: " " * len(m.group()), text) if ">" in text else text
    lowered = own.lower()
    same_offsets = len(lowered) == len(own)  # lower() lengthens a few letters, such as İ
    starts = [m.start() for m in _ANY_RULE.finditer(lowered)] if same_offsets else []
    signals = []
    for rule in RULES:
        matches = (
            _matches_at(rule.lowered, lowered, starts)
            if same_offsets
            else rule.pattern.finditer(own)
        )
        for match in matches:
            start, end = match.span()
            if rule.negatable and _NEGATION_BEFORE.search(own[max(0, start - 40) : start]):
                continue
            signals.append(Signal(rule.reason, own[start:end], start, end))
            break
    if found is None or own != text:  # quoted lines left out: their amounts are not the case's
        found = amounts(own)
    large = [a for a in found if a[0] >= amount_limit]
    if large:
        value, written, start, end = max(large)
        signals.append(Signal(f"a large sum at stake ({written})", written, start, end))
    return signals
