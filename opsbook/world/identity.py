"""Names, places and text for the world, drawn from small seeded Faker pools.

Faker is slow per row (a few thousand rows a second), so each kind of value
is generated once into a pool and rows pick from it with numpy. Output is
stable only for the pinned Faker version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from .schema import FEEDBACK_CATEGORIES, TOPICS

NAME_POOL = 1500
SENTENCE_POOL = 400

# (English name, 中文名, tier, weight): where users of a Chinese community app live.
CITIES: tuple[tuple[str, str, int, float], ...] = (
    ("Beijing", "北京", 1, 8), ("Shanghai", "上海", 1, 8), ("Guangzhou", "广州", 1, 6),
    ("Shenzhen", "深圳", 1, 6), ("Chengdu", "成都", 2, 5), ("Hangzhou", "杭州", 2, 5),
    ("Chongqing", "重庆", 2, 4), ("Wuhan", "武汉", 2, 4), ("Xi'an", "西安", 2, 3),
    ("Suzhou", "苏州", 2, 3), ("Nanjing", "南京", 2, 3), ("Changsha", "长沙", 2, 3),
    ("Tianjin", "天津", 2, 3), ("Zhengzhou", "郑州", 2, 3), ("Qingdao", "青岛", 2, 2),
    ("Xiamen", "厦门", 3, 2), ("Kunming", "昆明", 3, 2), ("Hefei", "合肥", 3, 2),
    ("Fuzhou", "福州", 3, 2), ("Nanning", "南宁", 3, 2), ("Guiyang", "贵阳", 3, 2),
    ("Taiyuan", "太原", 3, 1.5), ("Lanzhou", "兰州", 3, 1.5), ("Haikou", "海口", 3, 1),
    ("Luoyang", "洛阳", 4, 1.5), ("Ganzhou", "赣州", 4, 1.5), ("Zunyi", "遵义", 4, 1),
    ("Yichang", "宜昌", 4, 1), ("Mianyang", "绵阳", 4, 1), ("Dali", "大理", 4, 1),
)

# Words that carry each feedback category's signal, per locale.
CATEGORY_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en_US": {
        "bug": ("the app crashes", "keeps crashing after the update", "I get an error", "white screen bug",
                "app freezes and closes"),
        "performance": ("pages are so slow to load", "the feed lags", "takes forever to open",
                        "drains my battery", "videos keep buffering"),
        "content_quality": ("too many ads in the feed", "posts are low quality", "so much clickbait",
                            "the same boring content", "feed full of spam posts"),
        "pricing": ("prices are too expensive", "shipping fee is too high", "cheaper elsewhere",
                    "the coupon price was fake", "not worth the price"),
        "customer_service": ("customer service never replied", "still waiting for my refund",
                             "support agent was rude", "nobody answers the hotline", "refund took weeks"),
        "feature_request": ("please add a dark mode", "I wish there was a way to", "would love an option to",
                            "please add offline saving", "need a feature to"),
        "ux": ("the menu is confusing", "hard to find my orders", "too many steps to post",
               "the new layout is messy", "buttons are hard to tap"),
    },
    "zh_CN": {
        "bug": ("一打开就闪退", "更新后一直崩溃", "总是报错", "白屏了", "卡死然后退出"),
        "performance": ("加载太慢", "刷动态很卡顿", "打开要等很久", "特别耗电", "视频一直缓冲"),
        "content_quality": ("广告太多", "内容质量差", "标题党太多", "内容千篇一律", "全是垃圾帖"),
        "pricing": ("价格太贵", "运费太高", "别家更便宜", "优惠券是假的", "性价比太低"),
        "customer_service": ("客服一直不回复", "退款还没到账", "客服态度很差", "热线没人接", "退款拖了好几周"),
        "feature_request": ("希望增加夜间模式", "建议加一个功能", "能不能加个选项", "希望可以离线保存", "希望支持"),
        "ux": ("菜单很乱", "找不到我的订单", "发帖步骤太多", "新界面太乱", "按钮太小不好点"),
    },
}
PRAISE: dict[str, tuple[str, ...]] = {
    "en_US": ("love this app", "great community", "really useful tips", "my favourite app"),
    "zh_CN": ("很喜欢这个app", "社区氛围很好", "干货很多", "每天都会刷"),
}
TOPIC_WORDS: dict[str, dict[str, str]] = {
    "en_US": {t: t.replace("_", " ") for t in TOPICS},
    "zh_CN": {"beauty": "美妆", "food": "美食", "travel": "旅行", "digital": "数码", "fashion": "穿搭",
              "fitness": "健身", "parenting": "育儿", "home": "家居"},
}
TITLE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "en_US": ("{n} {topic} tips: {s}", "My {topic} diary: {s}", "{s} ({topic})", "Why {topic}? {s}",
              "{topic} guide: {s}"),
    "zh_CN": ("{n}个{topic}小技巧：{s}", "我的{topic}日记：{s}", "{s}（{topic}）", "{topic}攻略：{s}",
              "为什么是{topic}？{s}"),
}


@dataclass
class IdentityPools:
    """Seeded pools of Faker output for one locale."""

    locale: str
    female_names: np.ndarray
    male_names: np.ndarray
    sentences: np.ndarray
    short_sentences: np.ndarray

    @classmethod
    def build(cls, locale: str, seed: int) -> "IdentityPools":
        fake = Faker(locale)
        fake.seed_instance(seed)
        return cls(
            locale=locale,
            female_names=np.array([fake.name_female() for _ in range(NAME_POOL)], dtype=object),
            male_names=np.array([fake.name_male() for _ in range(NAME_POOL)], dtype=object),
            sentences=np.array([fake.sentence(nb_words=8) for _ in range(SENTENCE_POOL)], dtype=object),
            short_sentences=np.array([fake.sentence(nb_words=4).rstrip(".。") for _ in range(SENTENCE_POOL)],
                                     dtype=object),
        )

    def names(self, rng: np.random.Generator, female: np.ndarray) -> np.ndarray:
        """A name for each row, from the pool matching its gender."""
        out = self.male_names[rng.integers(0, NAME_POOL, female.size)]
        out[female] = self.female_names[rng.integers(0, NAME_POOL, int(female.sum()))]
        return out

    def cities(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """City names (in the locale's language) and tiers."""
        weights = np.array([c[3] for c in CITIES])
        idx = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
        col = 1 if self.locale == "zh_CN" else 0
        names = np.array([c[col] for c in CITIES], dtype=object)
        tiers = np.array([c[2] for c in CITIES], dtype=np.int64)
        return names[idx], tiers[idx]

    def titles(self, rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
        """A title per content item, mentioning its topic."""
        templates = TITLE_TEMPLATES[self.locale]
        words = TOPIC_WORDS[self.locale]
        t_idx = rng.integers(0, len(templates), topics.size)
        s_idx = rng.integers(0, SENTENCE_POOL, topics.size)
        nums = rng.integers(3, 11, topics.size)
        return np.array(
            [templates[t].format(n=n, topic=words[tp], s=self.short_sentences[s])
             for t, n, tp, s in zip(t_idx, nums, topics, s_idx)],
            dtype=object,
        )

    def comments(self, rng: np.random.Generator, categories: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """A comment per feedback row: a phrase of its category (sometimes of another), praise from
        promoters, and Faker filler text."""
        phrases = CATEGORY_PHRASES[self.locale]
        praise = PRAISE[self.locale]
        n = categories.size
        noisy = rng.random(n) < 0.12           # some comments talk about something else
        other = np.array(FEEDBACK_CATEGORIES, dtype=object)[rng.integers(0, len(FEEDBACK_CATEGORIES), n)]
        said = np.where(noisy, other, categories)
        pick = rng.integers(0, 5, n)
        filler = self.sentences[rng.integers(0, SENTENCE_POOL, n)]
        praise_idx = rng.integers(0, len(praise), n)
        sep = "，" if self.locale == "zh_CN" else ", "
        out = []
        for cat, p, fill, s, pr in zip(said, pick, filler, scores, praise_idx):
            text = phrases[cat][p]
            if s >= 9:
                text = praise[pr] + sep + text
            out.append(f"{text}{sep}{fill}")
        return np.array(out, dtype=object)

    def contacts(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Masked mobile numbers, e.g. 138****0421."""
        prefix = rng.choice(np.array([130, 135, 138, 139, 150, 158, 177, 186, 188, 199]), n)
        tail = rng.integers(0, 10_000, n)
        return np.array([f"{p}****{t:04d}" for p, t in zip(prefix, tail)], dtype=object)
