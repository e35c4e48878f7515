"""Every campaign of a world: the one-off campaigns, the weekly recurring runs, and what each reward costs.

Campaign days follow the world's calendar: the 618 sale ends on 18 June and the lottery
is held around Labour Day, whatever day of the period that is. Names, rules and target
groups are written in the world's language from its locale pack.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import locales
from .calendar import WorldCalendar
from .config import WorldConfig


@dataclass(frozen=True)
class Reward:
    reward_type: str      # a REWARD_TYPES value
    amount: float         # CNY it costs us per payout


REWARDS: dict[str, Reward] = {
    "check_in": Reward("points", 3.0),          # after CHECK_INS_FOR_REWARD check-ins
    "coupon": Reward("coupon", 15.0),           # claimed coupon, also the discount on the order that uses it
    "lottery": Reward("gift", 30.0),            # to LOTTERY_WIN_SHARE of entrants
    "invite": Reward("cash", 10.0),             # per invited friend who signs up during the campaign
    "sale_618": Reward("coupon", 10.0),
    "newcomer_coupon": Reward("coupon", 8.0),
    "flash_coupon": Reward("coupon", 15.0),
}
"""The one definition of what each kind of campaign pays out."""
CHECK_INS_FOR_REWARD = 7
LOTTERY_WIN_SHARE = 0.08
COUPON_USE = {"coupon": 0.85, "sale_618": 0.6, "newcomer_coupon": 1.0, "flash_coupon": 1.0}
"""Chance that a joined user's order uses the campaign's coupon (a recurring run's coupon: its holder's first order).
Every coupon is booked as a reward when it is claimed."""
COUPON_VALID_DAYS = {"newcomer_coupon": 7, "flash_coupon": 3}
RECURRING = ("newcomer_coupon", "flash_coupon")


@dataclass(frozen=True)
class Campaign:
    campaign_id: int
    name: str
    kind: str
    start_day: int
    end_day: int          # exclusive
    budget_per_1k_users: float
    rules: str
    target_group: str
    holdout_share: float = 0.0
    target: str | None = None        # a target rule (see model.target_mask) for campaigns sent to a list
    max_joins: int | None = None     # the budget caps how many can join
    festival: str | None = None      # the named day a recurring run was timed to
    run: int = 0                     # number of the run in its recurring series (0: a one-off campaign)

    @property
    def recurring(self) -> bool:
        return self.kind in RECURRING


def sale_window(cal: WorldCalendar) -> tuple[int, int]:
    """The 618 season: from 1 June up to and including 18 June."""
    return cal.window("618", -17, 1)


def campaigns_for(config: WorldConfig) -> list[Campaign]:
    """The one-off campaigns (ids 1-5), then the recurring runs in start order (ids 6, 7, ...)."""
    cal = config.calendar()
    text = _Texts(config.locale, cal)
    sale = sale_window(cal)
    labour = cal.window("labour_day", -3, 4)
    one_off = [
        Campaign(1, *text("check_in"), *config.check_in_days, 1600.0, *text.rules_and_target("check_in")),
        Campaign(2, *text("coupon"), *config.coupon_days, 3000.0, *text.rules_and_target("coupon"),
                 config.coupon_holdout_share, target="lapsed_buyers"),
        Campaign(3, *text("lottery", festival="labour_day"), *labour, 900.0, *text.rules_and_target("lottery")),
        Campaign(4, *text("invite"), config.bot_day, sale[0], 2500.0, *text.rules_and_target("invite")),
        Campaign(5, *text("sale_618"), *sale, 7000.0, *text.rules_and_target("sale_618")),
    ]
    runs = sorted(_newcomer_runs(config, cal) + _flash_runs(config, cal), key=lambda r: (r[1], r[0]))
    recurring, count = [], {kind: 0 for kind in RECURRING}
    for i, (kind, start, end, festival) in enumerate(runs):
        count[kind] += 1
        budget = {"newcomer_coupon": 40.0, "flash_coupon": 60.0}[kind]
        recurring.append(Campaign(6 + i, *text(kind, run=count[kind], festival=festival), start, end, budget,
                                  *text.rules_and_target(kind), config.recurring_holdout_share,
                                  target={"newcomer_coupon": "newcomers", "flash_coupon": "active_buyers"}[kind],
                                  festival=festival, run=count[kind]))
    return one_off + recurring


def _clear_of_outage(config: WorldConfig, start: int, end: int) -> bool:
    """Runs avoid the tracking outage, so that every claim has its campaign_join event."""
    return not start <= config.outage_day < end


def _newcomer_runs(config: WorldConfig, cal: WorldCalendar) -> list[tuple]:
    """Every Monday: a coupon to the users who signed up 7-13 days before, valid for a week."""
    days = COUPON_VALID_DAYS["newcomer_coupon"]
    weekday = cal.weekday()
    mondays = [d for d in range(config.recurring_first_day, config.days - days + 1) if weekday[d] == 0]
    return [("newcomer_coupon", d, d + days, None) for d in mondays if _clear_of_outage(config, d, d + days)]


def _flash_runs(config: WorldConfig, cal: WorldCalendar) -> list[tuple]:
    """Every week a three-day flash coupon to active buyers: on Friday, or on the week's festival if it has one."""
    days = COUPON_VALID_DAYS["flash_coupon"]
    weekday = cal.weekday()
    festivals = {f.day: f.key for f in cal.festivals}
    runs = []
    monday = next(d for d in range(config.flash_first_day, config.flash_first_day + 7) if weekday[d] == 0)
    for week in range(monday, config.days, 7):
        options = [(d, festivals[d]) for d in range(week, week + 7) if d in festivals]
        options.append((week + 4, None))                       # Friday
        for start, festival in options:
            if start + days <= config.days and _clear_of_outage(config, start, start + days):
                runs.append(("flash_coupon", start, start + days, festival))
                break
    return runs


class _Texts:
    """Campaign names, rules and target groups in the world's language."""

    def __init__(self, locale: str, cal: WorldCalendar) -> None:
        self.pack, self.cal = locales.pack(locale), cal

    def _format(self, template: str, kind: str, run: int = 0, festival: str | None = None) -> str:
        reward = REWARDS[kind]
        values = {"amount": f"{reward.amount:g}", "share": f"{LOTTERY_WIN_SHARE * 100:g}", "run": run,
                  "days": COUPON_VALID_DAYS.get(kind, 0),
                  "festival": self.pack["festivals"][festival] if festival else ""}
        if "{date}" in template:
            d = self.cal.date(self.cal.day("618"))
            values["date"] = self.pack["date"].format(d=d.day, month=self.pack["months"][d.month - 1])
        return template.format(**values)

    def __call__(self, kind: str, run: int = 0, festival: str | None = None) -> tuple[str, str]:
        """(name, kind) of a campaign."""
        texts = self.pack["campaigns"][kind]
        template = texts["festival_name"] if festival and "festival_name" in texts else texts["name"]
        return self._format(template, kind, run, festival), kind

    def rules_and_target(self, kind: str) -> tuple[str, str]:
        texts = self.pack["campaigns"][kind]
        return self._format(texts["rules"], kind), self._format(texts["target_group"], kind)
