"""The one definition of every table of the world.

The generator writes these columns, the loader parses them with these
dtypes, the validator checks them, and ``datasets/README.md`` (the data
dictionary) is rendered from them. Change a table here and all four follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIMEZONE = "Asia/Shanghai"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"

CHANNELS = (
    "search_ads",         # 搜索广告 paid search
    "organic_search",     # 自然搜索 SEO, free
    "social_ads",         # 社交/短视频广告 paid social and short-video ads
    "content_marketing",  # 内容营销 sponsored articles and KOL posts
    "offline_promo",      # 地推 street promotion with a gift per install
    "referral",           # 邀请 invited by a friend
    "app_store",          # 应用商店 app-store browsing, free
)
PAID_CHANNELS = ("search_ads", "social_ads", "content_marketing", "offline_promo")
PLATFORMS = ("ios", "android")
EVENT_TYPES = (
    "open_app", "view_content", "like", "comment", "share", "save", "post",
    "search", "add_to_cart", "purchase", "follow", "invite", "check_in",
    "campaign_join",
)
CONTENT_TYPES = ("image_post", "video", "article", "qa")
TOPICS = ("beauty", "food", "travel", "digital", "fashion", "fitness", "parenting", "home")
ORDER_CATEGORIES = ("beauty", "fashion", "food", "digital", "home", "baby")
CAMPAIGN_TYPES = ("check_in", "lottery", "coupon", "invite", "sale_618")
REWARD_TYPES = ("points", "coupon", "cash", "gift")
FEEDBACK_CATEGORIES = (
    "bug", "performance", "content_quality", "pricing", "customer_service",
    "feature_request", "ux",
)
EXPERIMENTS = ("onboarding_v2", "feed_layout", "push_prompt")
VARIANTS = ("control", "treatment")
TARGET_GROUPS = ("treatment", "holdout")


@dataclass(frozen=True)
class Column:
    """One column: its name, logical dtype and meaning.

    dtype is one of ``int`` (int64), ``Int`` (nullable Int64), ``float``,
    ``bool``, ``str``, ``datetime`` (a timestamp in business time, no zone)
    and ``date`` (a calendar day).
    """

    name: str
    dtype: str
    description: str
    nullable: bool = False
    values: tuple[str, ...] | None = None
    references: str | None = None  # "table.column" of a foreign key
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    rules: tuple[str, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        return f"{self.name}.csv.gz"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


C = Column
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "users",
            "One row per registered user (注册用户). Who they are, when and how they arrived.",
            (
                C("user_id", "int", "User id.", minimum=1),
                C("name", "str", "Display name (Faker, in the world's locale)."),
                C("gender", "str", "Self-reported gender.", values=("female", "male")),
                C("age", "int", "Age in years at signup.", minimum=16, maximum=70),
                C("city", "str", "City of the first session."),
                C("city_tier", "int", "Chinese city tier: 1 = 一线, 2 = 新一线/二线, 3 = 三线, 4 = 四线及以下.",
                  minimum=1, maximum=4),
                C("signup_time", "datetime", "When the account was created."),
                C("channel", "str", "Acquisition channel (渠道), first touch.", values=CHANNELS),
                C("platform", "str", "Device platform at signup.", values=PLATFORMS),
                C("app_version", "str", "App version installed at signup."),
                C("referrer_id", "Int", "The user whose invite brought them (referral channel only).",
                  nullable=True, references="users.user_id"),
            ),
            ("user_id",),
            ("referrer_id is set exactly when channel == 'referral'.",),
        ),
        Table(
            "events",
            "The client event log (埋点), one row per tracked action, sorted by time.",
            (
                C("user_id", "int", "Who acted.", references="users.user_id"),
                C("event_time", "datetime", "When the client logged it."),
                C("session_id", "int", "Client session id (a new one after 30 idle minutes)."),
                C("event_type", "str", "What happened.", values=EVENT_TYPES),
                C("content_id", "Int", "The content item, for view/like/comment/share/save/post.",
                  nullable=True, references="content.content_id"),
                C("campaign_id", "Int", "The campaign, for check_in and campaign_join.",
                  nullable=True, references="campaigns.campaign_id"),
            ),
            (),
            ("No event before its user's signup_time.",
             "Events are only as complete as the tracking: see the data notes."),
        ),
        Table(
            "orders",
            "Paid orders from the order database (交易), one row per order.",
            (
                C("order_id", "int", "Order id.", minimum=1),
                C("user_id", "int", "Buyer.", references="users.user_id"),
                C("order_time", "datetime", "When payment succeeded."),
                C("amount", "float", "Amount paid in CNY (yuan), after discounts.", minimum=0),
                C("category", "str", "Product category.", values=ORDER_CATEGORIES),
                C("coupon_used", "bool", "Whether a campaign coupon was applied."),
                C("campaign_id", "Int", "Campaign of the coupon, when one was used.",
                  nullable=True, references="campaigns.campaign_id"),
            ),
            ("order_id",),
            ("No order before its user's signup_time.",),
        ),
        Table(
            "channel_spend",
            "Daily marketing spend and ad-platform funnel counts per channel (投放数据).",
            (
                C("date", "date", "Calendar day."),
                C("channel", "str", "Acquisition channel.", values=CHANNELS),
                C("spend", "float", "Spend in CNY (0 for free channels).", minimum=0),
                C("impressions", "int", "Ad or promotion impressions (曝光).", minimum=0),
                C("clicks", "int", "Clicks (点击).", minimum=0),
                C("installs", "int", "App installs attributed to the channel (下载/激活).", minimum=0),
            ),
            ("date", "channel"),
            ("clicks <= impressions and installs <= clicks for paid channels.",
             "Signups in `users` come from these installs: a day's signups <= installs."),
        ),
        Table(
            "content",
            "Every content item (内容): official posts by the editorial team and UGC by users.",
            (
                C("content_id", "int", "Content id.", minimum=1),
                C("author_id", "Int", "The user who posted it; empty for official content.",
                  nullable=True, references="users.user_id"),
                C("is_official", "bool", "True for official (PGC) content, False for UGC."),
                C("content_type", "str", "Format.", values=CONTENT_TYPES),
                C("topic", "str", "Topic channel.", values=TOPICS),
                C("created_time", "datetime", "When it was published."),
                C("title", "str", "Title (Faker text)."),
            ),
            ("content_id",),
            ("A UGC item has a matching `post` event by its author at created_time.",),
        ),
        Table(
            "campaigns",
            "Campaigns (活动) run during the period, with their rules and budgets.",
            (
                C("campaign_id", "int", "Campaign id.", minimum=1),
                C("name", "str", "Campaign name."),
                C("campaign_type", "str", "Mechanism.", values=CAMPAIGN_TYPES),
                C("start_time", "datetime", "First moment of the campaign."),
                C("end_time", "datetime", "End, exclusive: the campaign runs in [start_time, end_time)."),
                C("budget", "float", "Reward budget in CNY.", minimum=0),
                C("rules", "str", "The rules as announced to users."),
                C("target_group", "str", "Who may join."),
                C("holdout_share", "float", "Share of the target list kept out as a control (0 when none).",
                  minimum=0, maximum=1),
            ),
            ("campaign_id",),
        ),
        Table(
            "campaign_targets",
            "The target list of targeted campaigns, with the random hold-out assignment (对照组).",
            (
                C("campaign_id", "int", "Campaign.", references="campaigns.campaign_id"),
                C("user_id", "int", "Targeted user.", references="users.user_id"),
                C("group", "str", "treatment = was sent the offer, holdout = was not.", values=TARGET_GROUPS),
            ),
            ("campaign_id", "user_id"),
        ),
        Table(
            "campaign_rewards",
            "Rewards paid out by campaigns (奖励发放), one row per payout.",
            (
                C("reward_id", "int", "Reward id.", minimum=1),
                C("user_id", "int", "Recipient.", references="users.user_id"),
                C("campaign_id", "int", "Campaign that paid it.", references="campaigns.campaign_id"),
                C("reward_time", "datetime", "When it was paid."),
                C("reward_type", "str", "Kind of reward.", values=REWARD_TYPES),
                C("amount", "float", "Cost to us in CNY.", minimum=0),
            ),
            ("reward_id",),
            ("Rewards should go to users who joined the campaign: auditing that is an exercise.",),
        ),
        Table(
            "feedback",
            "In-app feedback and NPS survey answers (用户反馈).",
            (
                C("feedback_id", "int", "Feedback id.", minimum=1),
                C("user_id", "int", "Who answered.", references="users.user_id"),
                C("feedback_time", "datetime", "When it was submitted."),
                C("nps_score", "Int", "'How likely are you to recommend us?' 0-10; empty when skipped.",
                  nullable=True, minimum=0, maximum=10),
                C("category", "str", "Category assigned by the support team.", values=FEEDBACK_CATEGORIES),
                C("comment", "str", "Free-text comment."),
            ),
            ("feedback_id",),
        ),
        Table(
            "experiments",
            "A/B test assignments (实验分组): one row per user exposed to an experiment. Planned split 50/50.",
            (
                C("experiment", "str", "Experiment name.", values=EXPERIMENTS),
                C("user_id", "int", "Exposed user.", references="users.user_id"),
                C("variant", "str", "Assigned variant.", values=VARIANTS),
                C("exposure_time", "datetime", "First exposure (at signup)."),
                C("converted", "bool", "The experiment's goal: active again on any of days 1-7 after exposure."),
            ),
            ("experiment", "user_id"),
        ),
        Table(
            "invites",
            "Invitations sent by users (邀请), and who signed up from them.",
            (
                C("invite_id", "int", "Invite id.", minimum=1),
                C("inviter_id", "int", "Who sent it.", references="users.user_id"),
                C("invitee_contact", "str", "Masked phone number of the invited friend."),
                C("sent_time", "datetime", "When it was sent."),
                C("signed_up_user_id", "Int", "The account created from this invite, if any.",
                  nullable=True, references="users.user_id"),
            ),
            ("invite_id",),
            ("A signed-up invitee's signup_time is after sent_time.",),
        ),
    )
}
del C

TABLE_ORDER: tuple[str, ...] = tuple(TABLES)
