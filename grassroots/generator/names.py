"""Plausible Chinese names and phone numbers for the synthetic city.

Everything here is drawn from a `random.Random` the caller seeds, so the same seed gives the
same names. The word lists are ordinary words and common characters, not real people.
"""

import random

# The hundred most common surnames, roughly in order of frequency, with weights that fall
# off the way real frequencies do (王李张刘陈 cover about a third of the population).
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_WEIGHTS = [1.0 / (i + 4) ** 1.1 for i in range(len(SURNAMES))]
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")

# Two-character given names people actually have, and characters to combine.
GIVEN_NAMES = (
    "建华", "建国", "建军", "志强", "志刚", "志明", "国强", "国庆", "海燕", "海涛", "丽娟", "丽华", "秀英",
    "秀兰", "桂英", "桂芳", "玉兰", "玉梅", "淑珍", "淑华", "文静", "文博", "子涵", "梓轩", "浩然", "宇航",
    "欣怡", "雨桐", "思远", "晓东", "晓燕", "晓明", "春梅", "春生", "红霞", "红梅", "卫东", "向阳", "振华",
    "德明", "永刚", "永红", "金凤", "凤英", "长青", "立新", "新民", "嘉怡", "一鸣", "天佑", "雅婷", "俊杰",
    "佳琪", "明辉", "瑞华", "静怡", "雪梅", "晨曦", "亚男", "婉清",
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉鹏华飞玲婷峰健斌宇浩凯琳晶颖婕倩蕾瑶璐欣悦"
    "昊然泽轩博睿哲铭航阳帆毅彬嘉琪涵萱菲妍雯宁宏林松柏梅兰竹岚晨曦慧蓉莉萍红霞光荣"
)


def person_name(rng: random.Random) -> str:
    """A full name such as 王建华, 李静 or 欧阳子涵."""
    if rng.random() < 0.01:
        surname = rng.choice(COMPOUND_SURNAMES)
    else:
        surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    roll = rng.random()
    if roll < 0.3:
        given = rng.choice(GIVEN_CHARS)
    elif roll < 0.65:
        given = rng.choice(GIVEN_NAMES)
    else:
        given = rng.choice(GIVEN_CHARS) + rng.choice(GIVEN_CHARS)
        if given[0] == given[1] and rng.random() < 0.7:
            given = given[0]
    return surname + given


# Mobile number segments in use (三大运营商及广电): 1[3-9]X.
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "173", "176", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "191", "192", "198", "199",
)


def phone_number(rng: random.Random) -> str:
    """A valid-format mobile number whose middle four digits are 0000 (e.g. 13900001234).

    It passes every "1[3-9]\\d{9}" check, yet reads like the masked form 139****1234, so
    nobody mistakes a demo contact for a real person's number.
    """
    return f"{rng.choice(MOBILE_PREFIXES)}0000{rng.randrange(10_000):04d}"


# Community (社区) names: a place word plus a kind of place, e.g. 和平里社区, 光明园社区.
COMMUNITY_WORDS = (
    "和平", "光明", "幸福", "安华", "金桥", "翠微", "华严", "望京", "花园", "建国", "永安", "广渠", "龙潭",
    "新源", "团结", "三元", "太阳", "百子", "南湖", "北湖", "枣营", "丽都", "芳草", "秀水", "春晖", "金台",
    "红庙", "延静", "甜水", "石佛", "松榆", "紫竹", "嘉园", "惠新", "和义", "育慧", "安慧", "北苑", "东湖",
    "锦绣", "星河", "清河", "青年", "朝晖", "文兴", "华威", "富力", "景泰", "康乐", "吉庆", "长安", "天坛",
    "莲花", "玉泉", "瑞祥", "润泽", "静安", "欣园", "阳光", "永定", "晨光", "樱花", "双榆", "白纸", "育新",
    "新风", "椿树", "海棠", "芍药", "丁香", "银杏", "梧桐", "杏林", "燕京", "福园", "兴华", "宝华", "明德",
)
COMMUNITY_KINDS = ("里", "园", "苑", "坊", "街", "路", "北里", "南里", "东里", "西里", "家园", "花园")

# Village (村) names: 东王庄村, 李家营村, 后沙峪村…
VILLAGE_PREFIXES = ("", "", "", "东", "西", "南", "北", "前", "后", "大", "小", "上", "下", "新", "老")
VILLAGE_WORDS = (
    "王", "李", "张", "刘", "马", "杨", "赵", "孙", "高", "郭", "何", "韩", "冯", "于", "董", "石", "白", "沙",
    "桑", "柳", "杏", "榆", "辛", "河", "平", "安", "兴", "太", "黄", "梨", "枣", "栗", "桃", "庙", "窑",
)
VILLAGE_KINDS = ("庄", "各庄", "家庄", "营", "家营", "屯", "店", "峪", "沟", "坨", "务", "家务", "窑", "坊", "湾", "台", "口")


def community_name(rng: random.Random, taken: set[str]) -> str:
    """A 社区 name not in TAKEN (and added to it)."""
    for _ in range(1000):
        word, kind = rng.choice(COMMUNITY_WORDS), rng.choice(COMMUNITY_KINDS)
        if word[-1] == kind[-1]:  # no 花园花园 or 花园家园
            continue
        name = word + kind + "社区"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("社区名称词表不够用")


def village_name(rng: random.Random, taken: set[str]) -> str:
    """A 村 name not in TAKEN (and added to it)."""
    for _ in range(1000):
        name = rng.choice(VILLAGE_PREFIXES) + rng.choice(VILLAGE_WORDS) + rng.choice(VILLAGE_KINDS) + "村"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("村名词表不够用")


def grid_name(community_name_: str, number: int) -> str:
    """多福巷社区第1网格."""
    return f"{community_name_}第{number}网格"
