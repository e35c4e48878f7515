"""Names, contacts, places and text for the world, from the locale pack and small seeded Faker pools.

Faker is slow per row (a few thousand rows a second), so what Faker makes is
generated once into a pool and rows pick from it with numpy; everything else
comes from the locale pack's data (``opsbook.world.locales``) and a seeded
generator. Output is stable only for the pinned Faker version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from . import locales
from .schema import FEEDBACK_CATEGORIES, TOPICS

NAME_POOL = 1000
COMPANY_POOL = 300

# (city key, tier, weight): where users of a Chinese community app live; names per locale in the packs.
CITIES: tuple[tuple[str, int, float], ...] = (
    ("Beijing", 1, 8), ("Shanghai", 1, 8), ("Guangzhou", 1, 6), ("Shenzhen", 1, 6), ("Chengdu", 2, 5),
    ("Hangzhou", 2, 5), ("Chongqing", 2, 4), ("Wuhan", 2, 4), ("Xi'an", 2, 3), ("Suzhou", 2, 3), ("Nanjing", 2, 3),
    ("Changsha", 2, 3), ("Tianjin", 2, 3), ("Zhengzhou", 2, 3), ("Qingdao", 2, 2), ("Xiamen", 3, 2),
    ("Kunming", 3, 2), ("Hefei", 3, 2), ("Fuzhou", 3, 2), ("Nanning", 3, 2), ("Guiyang", 3, 2), ("Taiyuan", 3, 1.5),
    ("Lanzhou", 3, 1.5), ("Haikou", 3, 1), ("Luoyang", 4, 1.5), ("Ganzhou", 4, 1.5), ("Zunyi", 4, 1),
    ("Yichang", 4, 1), ("Mianyang", 4, 1), ("Dali", 4, 1),
)
# Chinese mobile number prefixes (号段) of the three carriers; the app is Chinese in every locale.
MOBILE_PREFIXES = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 153, 155, 156,
                            157, 158, 159, 166, 172, 173, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187,
                            188, 189, 191, 193, 195, 198, 199])
PRAISE_SCORE = 9          # promoters (9-10) praise the app before they complain
NOISE = 0.12              # share of comments that talk about another category than the one filed


@dataclass
class IdentityPools:
    """Seeded pools and phrase banks of one locale."""

    locale: str
    pack: dict
    female_given: np.ndarray
    male_given: np.ndarray
    female_roman: np.ndarray      # romanised given names, for email handles
    male_roman: np.ndarray
    surnames: np.ndarray
    surname_roman: np.ndarray
    surname_p: np.ndarray
    companies: np.ndarray

    @classmethod
    def build(cls, locale: str, seed: int) -> IdentityPools:
        pack = locales.pack(locale)
        fake = Faker(pack["faker_locale"])
        fake.seed_instance(seed)
        spec = pack["name"]
        if spec["source"] == "faker":
            female = [fake.first_name_female() for _ in range(NAME_POOL)]
            male = [fake.first_name_male() for _ in range(NAME_POOL)]
            last = [fake.last_name() for _ in range(NAME_POOL)]
            f_roman, m_roman, l_roman = female, male, last
            weights = np.ones(NAME_POOL)
        else:
            female, f_roman = zip(*spec["female"])
            male, m_roman = zip(*spec["male"])
            last, l_roman, weights = zip(*spec["surnames"])
            weights = np.array(weights, float)
        companies = [fake.company() for _ in range(COMPANY_POOL)]
        return cls(locale, pack, _objects(female), _objects(male), _objects(f_roman), _objects(m_roman),
                   _objects(last), _objects(l_roman), weights / weights.sum(), _objects(companies))

    def _ascii(self, values: np.ndarray) -> np.ndarray:
        return np.array([v.lower().replace(" ", "").replace("'", "") for v in values], dtype=object)

    # --- people -----------------------------------------------------------------------------------------------
    def names(self, rng: np.random.Generator, female: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A gender-consistent name for each row, plus its romanised given name and surname (for emails)."""
        n = female.size
        g_f = rng.integers(0, self.female_given.size, n)
        g_m = rng.integers(0, self.male_given.size, n)
        given = np.where(female, self.female_given[g_f], self.male_given[g_m])
        roman = np.where(female, self.female_roman[g_f], self.male_roman[g_m])
        s = rng.choice(self.surnames.size, size=n, p=self.surname_p)
        fmt = self.pack["name"]["format"]
        names = np.array([fmt.format(given=g, surname=x) for g, x in zip(given, self.surnames[s])], dtype=object)
        return names, self._ascii(roman), self._ascii(self.surname_roman[s])

    def emails(self, rng: np.random.Generator, given: np.ndarray, surname: np.ndarray) -> np.ndarray:
        """Email addresses built from the romanised name (or a QQ number), on the locale's usual domains."""
        spec = self.pack["email"]
        n = given.size
        domains, weights = zip(*spec["domains"])
        weights = np.array(weights, float)
        dom = np.array(domains, dtype=object)[rng.choice(len(domains), size=n, p=weights / weights.sum())]
        handle = rng.integers(0, len(spec["handles"]), n)
        digits = rng.integers(0, 10_000, n)
        qq = rng.integers(10_000_000, 3_000_000_000, n)
        out = np.empty(n, dtype=object)
        for i in range(n):
            template = spec["handles"][handle[i]]
            if template == "{qq}":
                out[i] = f"{qq[i]}@qq.com"
                continue
            local = template.format(given=given[i], surname=surname[i], g=given[i][:1], nn=f"{digits[i] % 100:02d}",
                                    yy=f"{(85 + digits[i] % 20) % 100:02d}",
                                    nnnn=f"{digits[i]:04d}")
            out[i] = f"{local}@{dom[i]}"
        return out

    def phones(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Distinct 11-digit Chinese mobile numbers."""
        prefix = MOBILE_PREFIXES[rng.integers(0, MOBILE_PREFIXES.size, n)].astype(np.int64)
        number = prefix * 100_000_000 + rng.integers(0, 100_000_000, n)
        while True:                                   # redraw the rare repeats until all differ
            _, first = np.unique(number, return_index=True)
            repeat = np.setdiff1d(np.arange(n), first)
            if repeat.size == 0:
                break
            number[repeat] = prefix[repeat] * 100_000_000 + rng.integers(0, 100_000_000, repeat.size)
        return number.astype(str).astype(object)

    @staticmethod
    def device_ids(rng: np.random.Generator, ios: np.ndarray) -> np.ndarray:
        """An IDFA-style UUID on iOS, a 16-hex-digit Android ID on Android."""
        raw = rng.integers(0, 256, size=(ios.size, 16), dtype=np.uint8)
        hexes = [row.tobytes().hex() for row in raw]
        return np.array([f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}".upper()
                         if i else h[:16] for h, i in zip(hexes, ios)], dtype=object)

    @staticmethod
    def mask(phones: np.ndarray) -> np.ndarray:
        """``13812345678`` -> ``138****5678``."""
        return np.array([f"{p[:3]}****{p[-4:]}" for p in phones], dtype=object)

    def contacts(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Masked mobile numbers of people who are not users, e.g. 138****0421."""
        prefix = MOBILE_PREFIXES[rng.integers(0, MOBILE_PREFIXES.size, n)]
        tail = rng.integers(0, 10_000, n)
        return np.array([f"{p}****{t:04d}" for p, t in zip(prefix, tail)], dtype=object)

    def cities(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """City keys, city names (in the locale's language) and tiers."""
        weights = np.array([c[2] for c in CITIES])
        idx = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
        keys = np.array([c[0] for c in CITIES], dtype=object)
        names = np.array([self.pack["cities"][c[0]] for c in CITIES], dtype=object)
        tiers = np.array([c[1] for c in CITIES], dtype=np.int64)
        return keys[idx], names[idx], tiers[idx]

    def city_name(self, key: str) -> str:
        return self.pack["cities"][key]

    # --- text ------------------------------------------------------------------------------------------------
    def filler(self, rng: np.random.Generator) -> locales.Filler:
        return locales.Filler(self.pack["slots"], rng, capitalize=self.pack["punctuation"]["capitalize"])

    def titles(self, rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
        """A title per content item, from its topic's templates and words."""
        return self._by_topic(rng, topics, {t: self.pack["titles"][t]["templates"] for t in TOPICS})

    def thread_titles(self, rng: np.random.Generator, kinds: np.ndarray, cities: np.ndarray) -> np.ndarray:
        """A title per thread: ``kinds`` is "city" or a topic; ``cities`` the group's city (for city groups,
        which talk about food and the city's life)."""
        return self._by_topic(rng, kinds, self.pack["thread_titles"], given={"city": cities}, city_bank="food")

    def _by_topic(self, rng: np.random.Generator, keys: np.ndarray, templates: dict, given: dict | None = None,
                  city_bank: str | None = None) -> np.ndarray:
        out = np.empty(keys.size, dtype=object)
        fill = self.filler(rng)
        for key in sorted(set(keys.tolist())):
            rows = np.flatnonzero(keys == key)
            bank = self.pack["titles"][key if key in TOPICS else city_bank]["slots"] if (key in TOPICS or city_bank) \
                else {}
            own = {k: v[rows] for k, v in (given or {}).items()} if key == "city" else {}
            out[rows] = fill.fill(templates[key], rows.size, own, [bank] * rows.size)
        return out

    def group_name(self, kind: str, key: str) -> str:
        """Name of a city group (``key`` a city key) or an interest group (``key`` a topic)."""
        spec = self.pack["groups"]
        return spec["city"].format(city=self.city_name(key)) if kind == "city" else spec["interest"][key]

    def comments(self, rng: np.random.Generator, categories: np.ndarray, scores: np.ndarray,
                 versions: np.ndarray, ios: np.ndarray) -> np.ndarray:
        """A review comment per feedback row, from its category's templates (sometimes another category's:
        users do not file their feedback where the support team does); promoters praise the app first."""
        pack, n = self.pack, categories.size
        noisy = rng.random(n) < NOISE
        other = np.array(FEEDBACK_CATEGORIES, dtype=object)[rng.integers(0, len(FEEDBACK_CATEGORIES), n)]
        said = np.where(noisy, other, categories)
        devices = np.where(ios, rng.choice(np.array(pack["devices"]["ios"], dtype=object), n),
                           rng.choice(np.array(pack["devices"]["android"], dtype=object), n))
        fill = self.filler(rng)
        text = np.empty(n, dtype=object)
        for cat in FEEDBACK_CATEGORIES:
            rows = np.flatnonzero(said == cat)
            given = {"version": versions[rows], "device": devices[rows]}
            text[rows] = fill.fill(pack["feedback"][cat], rows.size, given)
        praise = fill.fill(pack["praise"], n)
        closing = fill.fill(pack["closings"], n)
        punct = pack["punctuation"]
        names = _proper_nouns(pack)
        promoter = scores >= PRAISE_SCORE
        close = rng.random(n) < 0.25
        out = np.empty(n, dtype=object)
        for i in range(n):
            t = text[i]
            if promoter[i]:
                lower = punct["lower_after_praise"] and t.split(" ", 1)[0] not in names
                t = punct["but"].format(praise=praise[i], complaint=_lower_first(t) if lower else t)
            if close[i]:
                t = punct["then"].format(text=t, more=closing[i])
            out[i] = t
        return out

    def company_names(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.companies[rng.integers(0, self.companies.size, n)]


def _objects(values: object) -> np.ndarray:
    return np.array(list(values), dtype=object)


def _proper_nouns(pack: dict) -> set[str]:
    """Words that keep their capital inside a sentence: first words of capitalised slot values (shops, brands)."""
    values = [v for bank in pack["slots"].values() for v in bank if isinstance(v, str)]
    values += [v for bank in pack["devices"].values() for v in bank]
    return {v.split(" ", 1)[0] for v in values if v[:1].isupper()}


def _lower_first(text: str) -> str:
    """Lower-case the first letter of a sentence joined after a comma, unless it is "I" or an acronym."""
    first = text.split(" ", 1)[0]
    if first == "I" or first[:2].isupper() or not first[:1].isalpha():
        return text
    return text[:1].lower() + text[1:]
