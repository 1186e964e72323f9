"""Pure parsing of cell values: text, lists, phone numbers, vulnerability flags, coordinates."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from broadcaster.registry.models import PhoneKind

# Separators between several values in one cell.
LIST_SEPARATORS = re.compile(r"[;；,，、\s]+")
# Phone numbers may contain spaces themselves, so spaces are handled by `parse_phones`.
PHONE_SEPARATORS = re.compile(r"[;；,，、/]+")
_EXCEL_FLOAT = re.compile(r"^(\+?\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?e\+?\d+$", re.IGNORECASE)
# Digits and the punctuation people write numbers with; anything else is not a number.
_PHONE_CHARS = re.compile(r"^[\d\s\-+().]+$")
_CN_MOBILE_TEXT = re.compile(r"^1[0-9 \-]+$")
_CN_MOBILE = re.compile(r"^1(?:[3-68][0-9]|7[0-8]|9[0-9])[0-9]{8}$")
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

VULNERABILITY_FLAGS = (
    "elderly_alone",
    "disabled",
    "bedridden",
    "child_alone",
    "pregnant",
    "basement",
)
VULNERABILITY_LABELS = {
    "elderly_alone": "独居老人",
    "disabled": "残疾",
    "bedridden": "卧床",
    "child_alone": "留守儿童",
    "pregnant": "孕妇",
    "basement": "地下室",
}
_VULNERABILITY_SYNONYMS = {
    "elderly_alone": ("独居老人", "孤寡老人", "空巢老人", "独居", "独居老年人", "elderly"),
    "disabled": ("残疾", "残疾人", "残障", "残障人士", "disability"),
    "bedridden": ("卧床", "长期卧床", "卧床不起", "卧床老人"),
    "child_alone": ("留守儿童", "无人照看儿童", "child"),
    "pregnant": ("孕妇", "孕产妇", "pregnancy"),
    "basement": ("地下室", "地下室住户", "住地下室", "居住地下室"),
}
VULNERABILITY_SYNONYMS: dict[str, str] = {
    word.lower(): key for key, words in _VULNERABILITY_SYNONYMS.items() for word in (key, *words)
}
# Cell contents that mean "no flags" rather than an unknown flag.
NONE_WORDS = frozenset({"无", "否", "没有", "none", "no", "n/a", "-", "—", "/"})


def cell_text(value: object) -> str:
    """A cell as stripped text; integral floats lose their ".0" (Excel stores numbers so)."""
    if type(value) is str:  # the common case first: every CSV cell, most xlsx cells
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def fold(text: str) -> str:
    """Fold full-width forms (０-９, Ａ-Ｚ, full-width space) to ASCII, then strip."""
    return unicodedata.normalize("NFKC", text).strip()


def split_values(text: str) -> list[str]:
    """Split a multi-value cell on ; ； , ， 、 or whitespace; drop empties and repeats."""
    seen: dict[str, None] = {}
    for part in LIST_SEPARATORS.split(text):
        if part:
            seen.setdefault(part, None)
    return list(seen)


@dataclass(frozen=True)
class Phone:
    """A normalised phone number and what it can take."""

    e164: str
    kind: PhoneKind


class PhoneError(ValueError):
    """A value that is not a usable phone number; the message is bilingual."""


@lru_cache(maxsize=4096)
def normalise_phone(text: str, region: str = "CN") -> Phone:
    """One phone number in E.164: full-width digits, spaces, dashes and "….0" are accepted.

    Mobiles (and numbers that may be either) are `mobile`; landlines and other valid
    numbers are `landline` (voice only). Raise PhoneError with a bilingual reason.
    """
    if region == "CN":
        phone = _cn_mobile(text)
        if phone is not None:
            return phone
    return parse_phone(text, region)


def _cn_mobile(text: str) -> Phone | None:
    """The common case, a plain Chinese mobile, without phonenumbers.parse (several times faster).

    For 11 digits starting 13-19 (but not 179, a carrier prefix CN numbers may be dialled
    with) parse() keeps every digit as the national number, so building the number
    directly gives the same result; anything else returns None for the full parser.
    """
    if not _CN_MOBILE_TEXT.match(text):
        return None
    digits = text.replace(" ", "").replace("-", "")
    if not _CN_MOBILE.match(digits):
        return None
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(digits))
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    return Phone("+86" + digits, PhoneKind.mobile)


def parse_phone(text: str, region: str = "CN") -> Phone:
    """normalise_phone through phonenumbers.parse, for every number and region."""
    value = fold(text)
    if not value:
        raise PhoneError("号码为空 / empty number")
    excel = _EXCEL_FLOAT.match(value)
    if excel:
        value = excel.group(1)
    if _SCIENTIFIC.match(value):
        raise PhoneError(
            "号码被 Excel 写成了科学计数法，位数已丢失，请把该列设为文本 / "
            "number was stored in scientific notation and lost digits; format the column as text"
        )
    if not _PHONE_CHARS.match(value):
        raise PhoneError("号码中含有非数字字符 / the number contains characters other than digits")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("无法识别的电话号码 / not a phone number") from exc
    # number_type() is UNKNOWN exactly when is_valid_number() is False; one call does both.
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN:
        raise PhoneError("无效电话号码 / invalid phone number")
    kind = PhoneKind.mobile if number_type in _MOBILE_TYPES else PhoneKind.landline
    return Phone(phonenumbers.format_number(number, PhoneNumberFormat.E164), kind)


def _try_phone(text: str, region: str) -> Phone | None:
    try:
        return normalise_phone(text, region)
    except PhoneError:
        return None


def _split_spaced(tokens: list[str], region: str) -> tuple[list[Phone], list[str]]:
    """Read space-separated tokens as numbers, joining neighbours where that makes one.

    At each token the longest run of tokens that forms a valid number is taken
    ("138 0013 8000 023 86010708" is two numbers); runs that form none are bad values.
    """
    phones: list[Phone] = []
    bad: list[str] = []
    pending: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(len(tokens), i, -1):
            phone = _try_phone(" ".join(tokens[i:j]), region)
            if phone:
                if pending:
                    bad.append(" ".join(pending))
                    pending = []
                phones.append(phone)
                i = j
                break
        else:
            pending.append(tokens[i])
            i += 1
    if pending:
        bad.append(" ".join(pending))
    return phones, bad


def parse_phones(text: str, region: str = "CN") -> tuple[list[Phone], list[tuple[str, str]]]:
    """All numbers of a phones cell, in order and without repeats, and (bad value, reason)."""
    phones: list[Phone] = []
    bad: list[tuple[str, str]] = []
    for chunk in PHONE_SEPARATORS.split(fold(text)):
        tokens = chunk.split()
        if not tokens:
            continue
        try:
            phones.append(normalise_phone(" ".join(tokens), region))
            continue
        except PhoneError as exc:
            if len(tokens) == 1:
                bad.append((chunk.strip(), str(exc)))
                continue
        found, unreadable = _split_spaced(tokens, region)
        phones.extend(found)
        bad.extend((value, _reason(value, region)) for value in unreadable)
    unique: dict[str, Phone] = {}
    for phone in phones:
        unique.setdefault(phone.e164, phone)
    return list(unique.values()), bad


def _reason(value: str, region: str) -> str:
    try:
        normalise_phone(value, region)
    except PhoneError as exc:
        return str(exc)
    return "无效电话号码 / invalid phone number"


def parse_vulnerability(text: str) -> tuple[list[str], list[str]]:
    """Canonical flags (in canonical order) of a vulnerability cell, and unknown words."""
    words = split_values(fold(text))
    flags: set[str] = set()
    unknown: list[str] = []
    for word in words:
        key = VULNERABILITY_SYNONYMS.get(word.lower())
        if key:
            flags.add(key)
        elif word.lower() not in NONE_WORDS:
            unknown.append(word)
    return [flag for flag in VULNERABILITY_FLAGS if flag in flags], unknown


def parse_coordinate(text: str, limit: float) -> float:
    """A longitude or latitude in -limit..limit; raise ValueError with a bilingual reason."""
    value = fold(text).rstrip("°").strip()
    try:
        number = float(value)
    except ValueError:
        raise ValueError("不是数字 / not a number") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        bound = f"{-limit:g} 至 {limit:g}"
        raise ValueError(f"超出范围（{bound}） / out of range ({-limit:g}..{limit:g})")
    return number
