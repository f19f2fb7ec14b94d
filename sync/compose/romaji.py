"""Kana readings to romaji (SPEC §18): lower-case modified Hepburn, without macrons or apostrophes.

Two spellings. As written (`romaji`): each kana as written, long vowels kept as spelt (サトウ
satou, シンイチ shinichi). Passport (`romaji(passport)`): `ou`, `oo`, `uu` shortened to `o`, `u`
when a consonant or the end follows, and ン before b, m or p written m (ホンマ homma).

jaconv turns half-width katakana into full width (ｶﾞ becomes ガ) and hiragana into katakana; the
kana -> romaji table is ours. The libraries that romanise (pykakasi, cutlet) spell neither of the
two variants exactly: they write long vowels with macrons or fold them by their own dictionaries,
write ン before a vowel with an apostrophe, and read kanji, which a name rule must refuse instead.

Text that is not kana (Latin letters, kanji, spaces, the middle dot ・, iteration marks ヽ ゝ) is
left as it is. The passport rules apply within each run of kana: the end of a run is "the end".
"""

from __future__ import annotations

import functools
import re

import jaconv

# One kana, or a kana with the small kana after it, as written. Small kana alone are read as
# their full-size vowel or syllable (ァ a, ャ ya): each kana as written.
_ROWS = (
    ("アイウエオ", "a i u e o"),
    ("カキクケコ", "ka ki ku ke ko"),
    ("サシスセソ", "sa shi su se so"),
    ("タチツテト", "ta chi tsu te to"),
    ("ナニヌネノ", "na ni nu ne no"),
    ("ハヒフヘホ", "ha hi fu he ho"),
    ("マミムメモ", "ma mi mu me mo"),
    ("ヤユヨ", "ya yu yo"),
    ("ラリルレロ", "ra ri ru re ro"),
    ("ワヰヱヲン", "wa i e o n"),
    ("ガギグゲゴ", "ga gi gu ge go"),
    ("ザジズゼゾ", "za ji zu ze zo"),
    ("ダヂヅデド", "da ji zu de do"),
    ("バビブベボ", "ba bi bu be bo"),
    ("パピプペポ", "pa pi pu pe po"),
    ("ヴヷヸヹヺ", "vu va vi ve vo"),
    ("ァィゥェォ", "a i u e o"),
    ("ャュョヮヵヶ", "ya yu yo wa ka ke"),
)
MONOGRAPHS: dict[str, str] = {
    kana: sound for row, sounds in _ROWS for kana, sound in zip(row, sounds.split(), strict=True)
}
# Consonants that a small ャ ュ ョ joins (キャ kya, シャ sha, チャ cha, ジャ ja).
_YOON_STEMS = {
    "キ": "ky", "ギ": "gy", "シ": "sh", "ジ": "j", "チ": "ch", "ヂ": "j", "ニ": "ny",
    "ヒ": "hy", "ビ": "by", "ピ": "py", "ミ": "my", "リ": "ry",
}  # fmt: skip
# Sounds written with a small vowel (SPEC §18 names ティ ti, ディ di, ファ fa … ; the others as
# the Hepburn tables of loanwords spell them).
_EXTENDED = {
    "イェ": "ye", "ウィ": "wi", "ウェ": "we", "ウォ": "wo", "ヴァ": "va", "ヴィ": "vi",
    "ヴェ": "ve", "ヴォ": "vo", "ヴュ": "vyu", "クァ": "kwa", "グァ": "gwa", "シェ": "she",
    "ジェ": "je", "チェ": "che", "スィ": "si", "ズィ": "zi", "ツァ": "tsa", "ツィ": "tsi",
    "ツェ": "tse", "ツォ": "tso", "ティ": "ti", "ディ": "di", "トゥ": "tu", "ドゥ": "du",
    "テュ": "tyu", "デュ": "dyu", "ファ": "fa", "フィ": "fi", "フェ": "fe", "フォ": "fo",
    "フュ": "fyu",
}  # fmt: skip
DIGRAPHS: dict[str, str] = {
    **{stem + small: sound + vowel for stem, sound in _YOON_STEMS.items()
       for small, vowel in (("ャ", "a"), ("ュ", "u"), ("ョ", "o"))},
    **_EXTENDED,
}  # fmt: skip
SOKUON = "ッ"  # doubles the next consonant
CHOONPU = "ー"  # the long-vowel mark: adds nothing
N = "ン"
# Every character romaji reads (full-width katakana, after the width and hiragana conversion).
KANA = frozenset(MONOGRAPHS) | {SOKUON, CHOONPU}

_VOWELS = frozenset("aeiou")
# the second letter of ou, oo, uu before anything but a vowel (a consonant or the run's end)
_PASSPORT_LONG = re.compile("(?<=o)[ou](?![aeiou])|(?<=u)u(?![aeiou])")
_SOUNDS = {**MONOGRAPHS, SOKUON: "", CHOONPU: ""}
_KANA_RUN = re.compile(f"[{''.join(sorted(KANA))}]+")
# a kana and the small kana after it; a pair that is no digraph is read as two kana
_SMALL = "".join(sorted({pair[1] for pair in DIGRAPHS}))
_SYLLABLE = re.compile(f".[{_SMALL}]?", re.DOTALL)
_SMALL_KANA = re.compile(f"[{_SMALL}]")
_DIGRAPH = re.compile("|".join(DIGRAPHS))
_TRANSLATION = str.maketrans(_SOUNDS)
_PASSPORT_N = re.compile("n(?=[bmp])")
# the conversions are skipped for text without half-width katakana or hiragana: most readings
_TO_CONVERT = re.compile("[\uff61-\uff9f\u3041-\u309f]")


def to_romaji(text: str, passport: bool = False) -> str:
    """`text` with every run of kana spelt in romaji; anything else as it is."""
    return passport_spelling(text) if passport else as_written(text)


# A run romanises the same readings again and again (one surname reading is many people's):
# remembered, a reading costs a dictionary look-up after its first time. Bounded: a directory's
# distinct readings, not its people, fill it.
@functools.lru_cache(maxsize=1 << 15)
def as_written(text: str) -> str:
    """`romaji`: to_romaji(text)."""
    return _romaji(text, passport=False)


@functools.lru_cache(maxsize=1 << 15)
def passport_spelling(text: str) -> str:
    """`romaji(passport)`: to_romaji(text, passport=True)."""
    return _romaji(text, passport=True)


def _romaji(text: str, passport: bool) -> str:
    if _TO_CONVERT.search(text):
        text = jaconv.hira2kata(jaconv.h2z(text, kana=True, ascii=False, digit=False))
    if _KANA_RUN.fullmatch(text):  # most readings: one run, nothing around it
        return _spell(text, passport)
    return _KANA_RUN.sub(lambda run: _spell(run[0], passport), text)


def _spell(run: str, passport: bool) -> str:
    """One run of kana in romaji. Without ッ, no syllable looks at its neighbours: the pairs are
    replaced, the rest translated, at C speed; ッ takes the syllable by syllable way."""
    if SOKUON in run:
        return _spell_syllables(run, passport)
    if _SMALL_KANA.search(run):
        run = _DIGRAPH.sub(_digraph_sound, run)
    spelt = run.translate(_TRANSLATION)
    if not passport:
        return spelt
    if N in run:  # every n before a consonant is ン's: the n of na, nya … precedes a vowel or y
        spelt = _PASSPORT_N.sub("m", spelt)
    return _passport_vowels(spelt)


def _passport_vowels(spelt: str) -> str:
    if "oo" in spelt or "ou" in spelt or "uu" in spelt:
        return _PASSPORT_LONG.sub("", spelt)
    return spelt


def _digraph_sound(pair: re.Match[str]) -> str:
    return DIGRAPHS[pair[0]]


def _spell_syllables(run: str, passport: bool) -> str:
    syllables = _syllables(run)
    sounds = [DIGRAPHS.get(s) or _SOUNDS[s] for s in syllables]
    for index, syllable in enumerate(syllables):
        if syllable == SOKUON:
            sounds[index] = _geminate(syllables, sounds, index)
        elif syllable == N and passport and _next_sound(sounds, index)[:1] in ("b", "m", "p"):
            sounds[index] = "m"
    spelt = "".join(sounds)
    return _passport_vowels(spelt) if passport else spelt


def _syllables(run: str) -> list[str]:
    syllables: list[str] = []
    for token in _SYLLABLE.findall(run):
        if len(token) == 1 or token in DIGRAPHS:
            syllables.append(token)
        else:
            syllables += token
    return syllables


def _geminate(run: list[str], sounds: list[str], index: int) -> str:
    """What ッ adds: the first consonant of the next syllable (t before ch); nothing before a
    vowel, ン, ー, another ッ, or the end."""
    following = run[index + 1] if index + 1 < len(run) else ""
    sound = sounds[index + 1] if following else ""
    if not sound or following == N or sound[0] in _VOWELS:
        return ""
    return "t" if sound.startswith("ch") else sound[0]


def _next_sound(sounds: list[str], index: int) -> str:
    """The spelling of the next syllable that writes anything (ー writes nothing)."""
    return next((s for s in sounds[index + 1 :] if s), "")
