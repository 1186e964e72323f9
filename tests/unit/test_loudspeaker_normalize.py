"""Text normalisation for the loudspeaker voice: one rule per case, numbers read as people do."""

from __future__ import annotations

import pytest

from channels.loudspeaker.normalize import normalize
from channels.loudspeaker.numbers import read_integer, read_number, read_phone


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        (0, "零"),
        (2, "二"),
        (10, "十"),
        (12, "十二"),
        (22, "二十二"),
        (105, "一百零五"),
        (112, "一百一十二"),
        (200, "两百"),
        (1010, "一千零一十"),
        (2200, "两千二百"),
        (2300, "两千三百"),
        (10012, "一万零一十二"),
        (20000, "两万"),
        (22000, "两万两千"),
        (120000, "十二万"),
        (100010000, "一亿零一万"),
        (1000000001, "十亿零一"),
    ],
)
def test_integers_read_as_quantities(value: int, spoken: str) -> None:
    assert read_integer(value) == spoken


def test_huge_integers_fall_back_to_digits() -> None:
    assert read_integer(1234567890123) == "一二三四五六七八九零一二三"


@pytest.mark.parametrize(
    ("literal", "spoken"),
    [
        ("12.5", "十二点五"),
        ("0.05", "零点零五"),
        ("2.5", "二点五"),
        ("-3", "负三"),
        ("1,200", "一千二百"),
        ("007", "零零七"),
    ],
)
def test_number_literals(literal: str, spoken: str) -> None:
    assert read_number(literal) == spoken


def test_phone_digits_use_yao_by_default_and_yi_on_request() -> None:
    assert read_phone("138-0013-8000") == "幺三八零零幺三八零零零"
    assert read_phone("13800138000", one="一") == "一三八零零一三八零零零"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # phone numbers, digit by digit, 1 as 幺
        ("请拨打13800138000", "请拨打幺三八零零幺三八零零零"),
        ("+86 138 0013 8000", "幺三八零零幺三八零零零"),
        ("值班电话0571-88886666", "值班电话零五七幺八八八八六六六六"),
        ("联系电话： 87654321", "联系电话：八七六五四三二幺"),
        ("紧急情况请拨打110或119", "紧急情况请拨打幺幺零或幺幺九"),
        ("120急救车已出发", "幺二零急救车已出发"),
        ("政务热线12345", "政务热线幺二三四五"),
        # ...but the same digits as quantities stay quantities
        ("约120人被困", "约一百二十人被困"),
        ("110千伏线路", "一百一十千伏线路"),
        ("降雨量 120 毫米", "降雨量一百二十毫米"),
        # units
        ("最高气温38℃", "最高气温三十八摄氏度"),
        ("最低-5℃", "最低零下五摄氏度"),
        ("气温30°C", "气温三十摄氏度"),
        ("降雨量50mm", "降雨量五十毫米"),
        ("降雨量50毫米", "降雨量五十毫米"),
        ("水位28.5m", "水位二十八点五米"),
        ("水位 28.5m", "水位二十八点五米"),
        ("超警戒0.52米", "超警戒零点五二米"),
        ("阵风风速20m/s", "阵风风速二十米每秒"),
        ("时速60km/h", "时速六十公里每小时"),
        ("雨强30mm/h", "雨强三十毫米每小时"),
        ("流量1,200m³/s", "流量一千二百立方米每秒"),
        ("库容1.2亿m³", "库容一点二亿立方米"),
        ("积水深30cm", "积水深三十厘米"),
        ("未来24h", "未来二十四小时"),
        # percentages
        ("相对湿度85%", "相对湿度百分之八十五"),
        ("概率12.5%", "概率百分之十二点五"),
        ("降水概率60-80%", "降水概率百分之六十到百分之八十"),
        # decimals and integers
        ("雨量12.5毫米", "雨量十二点五毫米"),
        ("共转移2300人", "共转移两千三百人"),
        # dates
        ("8月24日", "八月二十四日"),
        ("2026年7月3日", "二零二六年七月三日"),
        ("2026-07-03", "二零二六年七月三日"),
        ("2026/7/3", "二零二六年七月三日"),
        ("1998年大洪水", "一九九八年大洪水"),
        ("50年一遇", "五十年一遇"),
        # times
        ("14:30", "十四点三十分"),
        ("14：30", "十四点三十分"),
        ("08:05", "八点零五分"),
        ("2:00", "两点整"),
        ("6:00-8:00", "六点整到八点整"),
        ("14:30至20:00", "十四点三十分至二十点整"),
        # ranges
        ("20-30毫米", "二十到三十毫米"),
        ("20～30毫米", "二十到三十毫米"),
        ("5~10cm", "五到十厘米"),
        ("阵风8-10级", "阵风八到十级"),
        # warning levels in Roman numerals
        ("启动防汛Ⅳ级应急响应", "启动防汛四级应急响应"),
        ("III级响应", "三级响应"),
        # full-width digits
        ("１２．５毫米", "十二点五毫米"),
        # symbols and brackets
        ("【某县防汛办】请注意", "某县防汛办，请注意"),
        ("★★紧急通知★★ 请大家注意安全！！", "紧急通知，请大家注意安全！"),
        ("注意!请注意", "注意！请注意"),
    ],
)
def test_rules(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


def test_urls_become_the_link_phrase_or_disappear() -> None:
    text = "详情见 https://t.cn/abc123 ，请关注。"
    assert normalize(text) == "详见短信链接，请关注。"
    assert normalize("请看 www.gov.cn/abc") == "请看，详见短信链接"
    assert normalize(text, url_replacement="") == "请关注。"


def test_phone_one_option() -> None:
    assert normalize("拨打110", phone_one="一") == "拨打一一零"


def test_a_full_warning_has_no_digits_or_latin_left() -> None:
    text = (
        "【某某县防汛抗旱指挥部】预计8月24日14:30至20:00，我镇将出现大暴雨，累计降雨量80-120mm，"
        "局部可达150毫米，河道水位将超警戒0.5m。请拨打13800138000或110。详见 http://x.cn/a"
    )
    spoken = normalize(text)
    assert not any(ch.isascii() and ch.isalnum() for ch in spoken), spoken
    assert "八十到一百二十毫米" in spoken
    assert "幺三八零零幺三八零零零" in spoken
    assert spoken.endswith("详见短信链接")


def test_text_with_nothing_to_say_normalises_to_empty() -> None:
    assert normalize("【】 ★ ") == ""
