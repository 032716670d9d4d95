"""Normalisation of English and Arabic text before features are taken.

Arabic is written with optional short vowels (harakat), a stretching character (tatweel) and several
spellings of the same letter (alef with or without hamza, final ya/alef maqsura, ta marbuta/ha). Writers mix
them freely, so the same word would otherwise give different features: they are folded to one form each.
"""

from __future__ import annotations

import re
import unicodedata

# Harakat, tanween, shadda, sukun, superscript alef, Quranic marks.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_FOLD = str.maketrans(
    {
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u0622": "\u0627",  # آ -> ا
        "\u0671": "\u0627",  # ٱ -> ا
        "\u0649": "\u064a",  # ى -> ي
        "\u0629": "\u0647",  # ة -> ه
        "\u0624": "\u0648",  # ؤ -> و
        "\u0626": "\u064a",  # ئ -> ي
        "\u06a9": "\u0643",  # Persian kaf -> ك
        "\u06cc": "\u064a",  # Persian yeh -> ي
        "\u060c": ",",  # Arabic comma
        "\u061f": "?",  # Arabic question mark
        "\u061b": ";",  # Arabic semicolon
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
    }
)
# Letters some dialects write to show sounds MSA lacks (چ g/ch, گ g, ڤ v, پ p): kept, they are markers.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_ELONGATION = re.compile(r"(.)\1{2,}")


def normalize(text: str) -> str:
    """Lower-case, fold Arabic letter variants, drop harakat and tatweel, squeeze letters repeated 3+ times
    ("sooooo", "كتيييير") to two, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = _ARABIC_MARKS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_FOLD).lower()
    text = _ELONGATION.sub(r"\1\1", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """The words of already normalised text (letters and digits; an inner apostrophe kept: "don't")."""
    return _WORD.findall(text)


def is_arabic_letter(char: str) -> bool:
    return "\u0621" <= char <= "\u064a" or char in "\u0686\u06af\u06a4\u067e\u0671"


def is_latin_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def script_counts(text: str) -> tuple[int, int]:
    """(Arabic letters, Latin letters) in ``text``."""
    arabic = sum(1 for char in text if is_arabic_letter(char))
    latin = sum(1 for char in text if is_latin_letter(char))
    return arabic, latin


def language(text: str) -> str:
    """``ar``, ``en`` or ``mixed`` by script (``unknown`` with no letters): a quarter of the letters in the
    minority script makes a message mixed."""
    arabic, latin = script_counts(text)
    total = arabic + latin
    if total == 0:
        return "unknown"
    if min(arabic, latin) / total >= 0.25:
        return "mixed"
    return "ar" if arabic > latin else "en"


_ENGLISH_STOPWORDS = """a an the and or but of to in on at by for with from as is are was were be been being
it its this that these those we you they he she i our your their my me us them do does did have has had will
would shall should can could may might must not no so if then than there here what which who whom when where
how about into over under after before up down out off again just also only very more most such each any all
both few other some same own too per via"""
_ARABIC_STOPWORDS = """في من الى إلى على عن مع هذا هذه ذلك تلك التي الذي الذين او أو ثم قد لقد كان كانت يكون
ان أن إن كل بعض هو هي هم نحن انا أنا انت أنت ما لا لم لن و ف ب ل"""
# Function words that say nothing about what a text is about (normalised): retrieval's lexical score and the
# sandbox's embedding model leave them out.
STOPWORDS = frozenset(normalize(word) for word in f"{_ENGLISH_STOPWORDS} {_ARABIC_STOPWORDS}".split())


_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_CONJUNCTIONS = ("و", "ف", "ب", "ل")


def light_stem(word: str) -> str:
    """An Arabic word without its article and a glued conjunction/preposition (``والعقد``, ``بالعقد``,
    ``للعقد`` -> ``عقد``), keeping at least three letters; other words are returned as they are."""
    if not word or not is_arabic_letter(word[0]):
        return word
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            return word[len(prefix) :]
    if word[0] in _ARABIC_CONJUNCTIONS and len(word) >= 5:
        return word[1:]
    return word


def content_words(text: str) -> list[str]:
    """The normalised, lightly stemmed words of ``text`` that are not stopwords."""
    return [light_stem(word) for word in words(normalize(text)) if word not in STOPWORDS]
