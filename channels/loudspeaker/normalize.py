"""Warning text to speakable Mandarin: numbers, units, dates, times, phones, symbols, links."""

from __future__ import annotations

import re
import unicodedata

from channels.loudspeaker.numbers import read_digits, read_integer, read_number, read_phone

LINK_PHRASE = "详见短信链接"
"""What a link becomes; pass url_replacement="" to drop links instead."""

SERVICE_NUMBERS = frozenset(
    {"110", "119", "120", "122", "12110", "12119", "12121", "12319", "12320", "12322", "12345"}
    | {"12369", "12379", "12395"}
)
"""Short public numbers read digit by digit, unless a unit, quantifier or amount word
(约, 达, 第, 量…) around them makes them a quantity."""

_FULLWIDTH: dict[int, int | str] = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_FULLWIDTH.update({code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)})
_FULLWIDTH.update({code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)})
_FULLWIDTH.update({ord(a): b for a, b in zip("％＋－～／", "%+-~/", strict=True)})
_FULLWIDTH.update({ord("−"): "-", ord("–"): "-", ord("—"): "-"})
_SYMBOL_WORDS = {"㎜": "mm", "㎝": "cm", "㎞": "km", "㎡": "m²", "㎥": "m³"}

_NUM = r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?"
_RANGE = r"\s*(?:-|~|至|到)\s*"
_QUANTIFIERS = (
    "人户个名位家处条座所辆艘头只台次元"
    + "米厘毫公吨方立度年月日号时分秒天周点岁级层间栋亩斤克万亿千百十"
)
_NOT_A_NUMBER_END = rf"(?![\d.%‰]|\s*[{_QUANTIFIERS}]|\s*[A-Za-z℃°])"

_UNITS: list[tuple[str, str]] = [
    ("mm/h", "毫米每小时"),
    ("m³/s", "立方米每秒"),
    ("m3/s", "立方米每秒"),
    ("km/h", "公里每小时"),
    ("m/s", "米每秒"),
    ("hPa", "百帕"),
    ("min", "分钟"),
    ("mm", "毫米"),
    ("cm", "厘米"),
    ("km", "公里"),
    ("kg", "公斤"),
    ("m²", "平方米"),
    ("m³", "立方米"),
    ("°C", "摄氏度"),
    ("°c", "摄氏度"),
    ("℃", "摄氏度"),
    ("°", "度"),
    ("m", "米"),
    ("t", "吨"),
    ("h", "小时"),
    ("s", "秒"),
]
_UNIT_WORDS = dict(_UNITS)
_UNIT_RE = "|".join(re.escape(unit) for unit, _ in _UNITS)

_URL = re.compile(
    r"(?:(?:详情|详见|详情见|详情请见|请点击|点击|点此|链接|网址)\s*[:：]?\s*)?"
    r"(?:https?://|www\.|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:cn|com|net|org|gov|edu|top|cc|io)\b)"
    r"[^\s，。；！？、）)】\u4e00-\u9fff]*",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})\s*年(?!一遇)")
_TIME = re.compile(r"(?<![\d.])([01]?\d|2[0-4])[:：]([0-5]\d)(?:[:：]([0-5]\d))?(?![\d.])")
_MOBILE = re.compile(r"(?<![\d.])(?:\+?86[-\s]?)?(1[3-9]\d(?:[-\s]?\d{4}){2})(?![\d.])")
_LANDLINE = re.compile(r"(?<![\d.])(0\d{2,3})[-\s]?(\d{7,8})(?![\d.])")
_CONTEXT_PHONE = re.compile(r"(电话|热线|拨打|致电|呼叫|联系)(号码)?([:：\s]*)(\d{3,12})(?![\d.])")
_SERVICE = re.compile(r"(?<![\d.达约共超近第量为是至到有过计])(\d{3,5})" + _NOT_A_NUMBER_END)
_PERCENT_RANGE = re.compile(rf"({_NUM})\s*[%‰]?{_RANGE}({_NUM})\s*([%‰])")
_PERCENT = re.compile(rf"({_NUM})\s*([%‰])")
_NUM_RANGE = re.compile(r"(?<=\d)\s*[-~]\s*(?=[+-]?\d)")
_DIGIT_SPACE = re.compile(r"(?<=[^\x00-\x7f])[ \t]+(?=[-+]?\d)|(?<=\d)[ \t]+(?=[^\x00-\x7f])")
_LEVEL = re.compile(r"(?<![A-Za-z])(Ⅳ|Ⅲ|Ⅱ|Ⅰ|IV|III|II|I)\s*级")
_WITH_UNIT = re.compile(rf"({_NUM})\s*([万亿]?)\s*({_UNIT_RE})(?![A-Za-z0-9²³])")
_NUMBER = re.compile(r"(?<![\dA-Za-z])-?\d+(?:,\d{3})*(?:\.\d+)?|\d+(?:,\d{3})*(?:\.\d+)?")
_BRACKETED = re.compile(r"[【\[〔]([^】\]〕]*)[】\]〕]")
_PARENS = re.compile(r"[（(]([^）)]*)[）)]")
_DROP = re.compile(r"[#*@&_=|\\^`<>{}/~\"'“”‘’「」『』《》〈〉]")
_DASH = re.compile(r"\s*-+\s*")
_CJK_GAP = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")
_SYMBOLS = frozenset({"So", "Sk", "Cf", "Co"})
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_PUNCT_RUN = re.compile(r"([，。！？；：、])[，。！？；：、\s]*")
_ASCII_PUNCT = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}
_LEVELS = {"Ⅰ": "一", "I": "一", "Ⅱ": "二", "II": "二", "Ⅲ": "三", "III": "三"}
_LEVELS.update({"Ⅳ": "四", "IV": "四"})


def normalize(text: str, *, url_replacement: str = LINK_PHRASE, phone_one: str = "幺") -> str:
    """Rewrite a warning text so that a Mandarin TTS voice reads it as a person would.

    Rules, in order: full-width forms to ASCII; links → `url_replacement`; 【】 headers and
    brackets → pauses; ISO dates and 4-digit years (digit by digit: 二零二六年); phone
    numbers digit by digit with 1 read as `phone_one` (mobiles, landlines, numbers after
    电话/拨打/热线…, short public numbers such as 110 or 12345 unless a unit, quantifier or
    amount word makes them a quantity); ranges between numbers (20-30 → 二十到三十); clock
    times (14:30 → 十四点三十分, 2:00 → 两点整); percentages (百分之…); warning levels
    (Ⅳ级 → 四级); numbers with units (℃, mm, m, km/h, m³/s…; -5℃ → 零下五摄氏度); other
    numbers as quantities (两千三百, 十二点五); leftover symbols dropped; a space between
    Chinese words becomes a pause (，).
    """
    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH)
    for symbol, word in _SYMBOL_WORDS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"(?<=\d)．(?=\d)", ".", text)
    text = _URL.sub(lambda m: f"，{url_replacement}，" if url_replacement else "，", text)
    text = re.sub(r"[\r\n]+", "。", text)
    text = _BRACKETED.sub(lambda m: f"{m.group(1)}，", text)
    text = _PARENS.sub(lambda m: f"，{m.group(1)}，", text)
    text = _DIGIT_SPACE.sub("", text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _YEAR.sub(lambda m: read_digits(m.group(1)) + "年", text)
    text = _MOBILE.sub(lambda m: read_phone(m.group(1), one=phone_one), text)
    text = _LANDLINE.sub(lambda m: read_phone(m.group(1) + m.group(2), one=phone_one), text)
    text = _CONTEXT_PHONE.sub(
        lambda m: (
            m.group(1) + (m.group(2) or "") + m.group(3) + read_phone(m.group(4), one=phone_one)
        ),
        text,
    )
    text = _SERVICE.sub(
        lambda m: (
            read_phone(m.group(1), one=phone_one) if m.group(1) in SERVICE_NUMBERS else m.group(0)
        ),
        text,
    )
    text = _NUM_RANGE.sub("到", text)
    text = _TIME.sub(_clock, text)
    text = _PERCENT_RANGE.sub(_percent_range, text)
    text = _PERCENT.sub(lambda m: _percent_word(m.group(2)) + read_number(m.group(1)), text)
    text = _LEVEL.sub(lambda m: _LEVELS[m.group(1)] + "级", text)
    text = _WITH_UNIT.sub(_with_unit, text)
    text = _NUMBER.sub(lambda m: read_number(m.group(0)), text)
    return _tidy(text)


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match.group(0)
    return f"{read_digits(year)}年{read_integer(month)}月{read_integer(day)}日"


def _clock(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    spoken = ("两" if hour == 2 else read_integer(hour)) + "点"
    if minute == 0 and not match.group(3):
        return spoken + "整"
    spoken += ("零" + read_integer(minute) if 0 < minute < 10 else read_integer(minute)) + "分"
    if match.group(3):
        second = int(match.group(3))
        spoken += ("零" if 0 < second < 10 else "") + read_integer(second) + "秒"
    return spoken


def _percent_word(sign: str) -> str:
    return "千分之" if sign == "‰" else "百分之"


def _percent_range(match: re.Match[str]) -> str:
    word = _percent_word(match.group(3))
    return f"{word}{read_number(match.group(1))}到{word}{read_number(match.group(2))}"


def _with_unit(match: re.Match[str]) -> str:
    number, multiplier, unit = match.group(1), match.group(2), match.group(3)
    word = _UNIT_WORDS[unit]
    if word == "摄氏度" and number.startswith("-"):
        return "零下" + read_number(number[1:]) + word
    return read_number(number) + multiplier + word


def _tidy(text: str) -> str:
    """Drop symbols a voice would spell out; a gap between CJK words is a pause; fold marks."""
    text = "".join(" " if unicodedata.category(ch) in _SYMBOLS else ch for ch in text)
    text = _DROP.sub(" ", text)
    text = _DASH.sub("，", text)
    text = "".join(_ASCII_PUNCT.get(ch, ch) for ch in text)
    text = re.sub(r"(?<=[^\x00-\x7f])\.(?!\d)", "。", text)
    text = re.sub(r"\s+", " ", text)
    text = _CJK_GAP.sub("，", text)
    text = _CJK_SPACE.sub("", text)
    text = _PUNCT_RUN.sub(lambda m: _strongest(m.group(0)), text)
    return text.strip(" ，、；：")


def _strongest(run: str) -> str:
    """The one mark kept for a run of punctuation: a sentence end beats a pause."""
    for mark in "。！？；：，、":
        if mark in run:
            return mark
    return run.strip()
