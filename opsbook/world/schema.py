"""The one definition of every table of the world.

The generator writes these columns, the loader parses them with these
dtypes, the validator checks them, and ``datasets/README.md`` (the data
dictionary) is rendered from them. Change a table here and all four follow.

A table states two kinds of sentences about its rows: ``rules``, which hold in
every world and which ``opsbook world validate`` checks (each names the
validator check that enforces it), and ``notes``, which tell an analyst what to
expect but are not guaranteed row by row (data quality is part of the lesson).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIMEZONE = "Asia/Shanghai"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class Dtype:
    """A logical column type: how pandas holds it, how the dictionary names it, how the validator describes it."""

    pandas: str | None      # dtype for pandas (None: parsed from text with ``time_format``)
    word: str               # the word in the data dictionary
    expects: str | None     # what a cell must look like, for the validator's messages (None: any text)
    time_format: str | None = None


DTYPES: dict[str, Dtype] = {
    "int": Dtype("int64", "integer", "a whole number"),
    "Int": Dtype("Int64", "integer", "a whole number (or empty)"),
    "float": Dtype("float64", "decimal", "a number"),
    "bool": Dtype("bool", "True/False", "True or False"),
    "str": Dtype("str", "text", None),
    "datetime": Dtype(None, "datetime", "a time like 2025-01-31 08:05:00", TIME_FORMAT),
    "date": Dtype(None, "date", "a date like 2025-01-31", DATE_FORMAT),
}
"""Every logical dtype a column may have (``int`` is int64, ``Int`` nullable Int64, ``datetime`` a
timestamp in business time without a zone, ``date`` a calendar day)."""

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
CAMPAIGN_TYPES = ("check_in", "lottery", "coupon", "invite", "sale_618", "newcomer_coupon", "flash_coupon")
REWARD_TYPES = ("points", "coupon", "cash", "gift")
FEEDBACK_CATEGORIES = (
    "bug", "performance", "content_quality", "pricing", "customer_service",
    "feature_request", "ux",
)
EXPERIMENTS = ("onboarding_v2", "feed_layout", "push_prompt")
VARIANTS = ("control", "treatment")
TARGET_GROUPS = ("treatment", "holdout")
GROUP_TYPES = ("city", "interest")
MODERATION_TARGETS = ("thread", "reply")
MODERATION_RULES = ("spam_ads", "abuse", "off_topic", "duplicate", "misinformation")
MODERATORS = ("auto", "staff")
LEAD_SOURCES = ("website_form", "in_app_form", "sales_outreach", "trade_fair", "partner_referral")
LEAD_STATUSES = ("kept", "duplicate", "invalid_contact")
LEAD_TIERS = ("A", "B", "C")


@dataclass(frozen=True)
class Column:
    """One column: its name, logical dtype (a key of ``DTYPES``) and meaning."""

    name: str
    dtype: str
    description: str
    nullable: bool = False
    values: tuple[str, ...] | None = None
    references: str | None = None  # "table.column" of a foreign key
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Rule:
    """A sentence that holds for every row, enforced by the validator's check ``check`` with ``args``."""

    check: str
    text: str
    args: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.check}({', '.join(self.args)})"


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        return f"{self.name}.csv.gz"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _after_signup(time: str, user: str, what: str) -> Rule:
    return Rule("after_signup", f"No {what} before its {user.removesuffix('_id')}'s signup_time.", (time, user))


C = Column
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "users",
            "One row per registered user (注册用户). Who they are, when and how they arrived. "
            "`name`, `phone`, `email` and `device_id` identify a person directly (个人信息): "
            "mask or drop them before a table leaves the analytics team.",
            (
                C("user_id", "int", "User id.", minimum=1),
                C("name", "str", "Display name, in the world's locale (a direct identifier)."),
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
                C("phone", "str", "Mobile number used to register, 11 digits (a direct identifier)."),
                C("email", "str", "Email address on the account (a direct identifier)."),
                C("device_id", "str", "Advertising/device identifier of the signup device: an IDFA-style UUID "
                  "on iOS, a 16-hex-digit Android ID on Android (a direct identifier)."),
            ),
            ("user_id",),
            (Rule("referrer_iff_referral", "referrer_id is set exactly when channel == 'referral'."),
             Rule("unique", "No two users share a phone number.", ("phone",))),
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
            (_after_signup("event_time", "user_id", "event"),
             Rule("post_matches_content", "A `post` event names the UGC item it created: the item's author_id is "
                  "the event's user and its created_time is the event's time.")),
            ("Events are only as complete as the tracking: see the data notes.",),
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
            (_after_signup("order_time", "user_id", "order"),),
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
            (Rule("paid_funnel", "clicks <= impressions and installs <= clicks for paid channels."),
             Rule("signups_within_installs", "Signups in `users` come from these installs: a day's signups of a "
                  "channel <= that row's installs.")),
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
                C("title", "str", "Title, in the world's locale."),
            ),
            ("content_id",),
            (_after_signup("created_time", "author_id", "UGC item"),
             Rule("official_iff_no_author", "is_official is True exactly when author_id is empty.")),
            ("A UGC item has a matching `post` event by its author at created_time, except when the post fell "
             "into a gap of the tracking (see the data notes).",),
        ),
        Table(
            "campaigns",
            "Campaigns (活动) run during the period, with their rules and budgets. Recurring campaigns "
            "(`newcomer_coupon`, `flash_coupon`) have one row per run (一期一行); the name says which run.",
            (
                C("campaign_id", "int", "Campaign id.", minimum=1),
                C("name", "str", "Campaign name, in the world's locale."),
                C("campaign_type", "str", "Mechanism: a one-off campaign type, or the recurring series a run "
                  "belongs to.", values=CAMPAIGN_TYPES),
                C("start_time", "datetime", "First moment of the campaign."),
                C("end_time", "datetime", "End, exclusive: the campaign runs in [start_time, end_time)."),
                C("budget", "float", "Reward budget in CNY.", minimum=0),
                C("rules", "str", "The rules as announced to users, in the world's locale."),
                C("target_group", "str", "Who may join, in the world's locale."),
                C("holdout_share", "float", "Share of the target list kept out as a control (0 when none).",
                  minimum=0, maximum=1),
            ),
            ("campaign_id",),
            (Rule("ends_after_start", "end_time is after start_time.", ("start_time", "end_time")),),
        ),
        Table(
            "campaign_targets",
            "The target list of targeted campaigns, with the random hold-out assignment (对照组). Treatment "
            "users were sent the offer (a push and a coupon in their wallet) at the campaign's start_time; "
            "a user can be on the lists of many runs of a recurring campaign.",
            (
                C("campaign_id", "int", "Campaign.", references="campaigns.campaign_id"),
                C("user_id", "int", "Targeted user.", references="users.user_id"),
                C("group", "str", "treatment = was sent the offer, holdout = was not.", values=TARGET_GROUPS),
            ),
            ("campaign_id", "user_id"),
            (Rule("targets_signed_up", "A targeted user had signed up before the campaign's start_time."),),
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
            (_after_signup("reward_time", "user_id", "reward"),),
            ("Rewards should go to users who joined the campaign: auditing that is an exercise.",
             "A coupon is booked at its face value when the user claims it (joins the campaign), whether or not "
             "an order uses it later."),
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
                C("comment", "str", "Free-text comment, in the world's locale."),
            ),
            ("feedback_id",),
            (_after_signup("feedback_time", "user_id", "feedback"),),
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
            (_after_signup("exposure_time", "user_id", "exposure"),),
        ),
        Table(
            "invites",
            "Invitations sent by users (邀请), and who signed up from them.",
            (
                C("invite_id", "int", "Invite id.", minimum=1),
                C("inviter_id", "int", "Who sent it.", references="users.user_id"),
                C("invitee_contact", "str", "Masked phone number of the invited friend (first 3 and last 4 "
                  "digits kept)."),
                C("sent_time", "datetime", "When it was sent."),
                C("signed_up_user_id", "Int", "The account created from this invite, if any.",
                  nullable=True, references="users.user_id"),
            ),
            ("invite_id",),
            (_after_signup("sent_time", "inviter_id", "invite"),
             Rule("invitee_after_invite", "A signed-up invitee's signup_time is after sent_time."),
             Rule("invitee_contact_matches", "A signed-up invitee's invitee_contact is their own phone, masked.")),
        ),
        Table(
            "community_groups",
            "Community groups (社群): WeChat-style groups per city or per interest that users join. "
            "Members start threads (话题) and reply in them; see `group_members`, `threads`, `replies`.",
            (
                C("group_id", "int", "Group id.", minimum=1),
                C("name", "str", "Group name, in the world's locale."),
                C("group_type", "str", "A group of one city or of one interest.", values=GROUP_TYPES),
                C("city", "str", "The city of a city group; empty for interest groups.", nullable=True),
                C("topic", "str", "The interest of an interest group; empty for city groups.",
                  nullable=True, values=TOPICS),
                C("created_time", "datetime", "When the operations team opened the group."),
            ),
            ("group_id",),
        ),
        Table(
            "group_members",
            "Who is in which community group (入群/退群): one row per user and group (a user joins at most "
            "one group). Users who never joined are not here: compare members with them to see what groups do.",
            (
                C("group_id", "int", "Group.", references="community_groups.group_id"),
                C("user_id", "int", "Member.", references="users.user_id"),
                C("join_time", "datetime", "When the user joined the group."),
                C("leave_time", "datetime", "When the user left it; empty while still a member.", nullable=True),
            ),
            ("group_id", "user_id"),
            (_after_signup("join_time", "user_id", "join"),
             Rule("ends_after_start", "leave_time, when set, is after join_time.", ("join_time", "leave_time")),),
        ),
        Table(
            "threads",
            "Threads (话题/帖子) started by members in their community group, one row per thread, "
            "removed ones included (see `moderation_actions`).",
            (
                C("thread_id", "int", "Thread id.", minimum=1),
                C("group_id", "int", "The group it was posted in.", references="community_groups.group_id"),
                C("author_id", "int", "Who started it.", references="users.user_id"),
                C("created_time", "datetime", "When it was posted."),
                C("title", "str", "Title, in the world's locale."),
            ),
            ("thread_id",),
            (_after_signup("created_time", "author_id", "thread"),
             Rule("member_at_time", "The author was a member of the thread's group when posting.",
                  ("created_time", "author_id"))),
            ("Community tables come from the community server, not from the client's tracking: a thread, "
             "reply or vote has no row in `events`, but its user was active in the app that day.",),
        ),
        Table(
            "replies",
            "Replies (回复) in threads, one row per reply, removed ones included (see `moderation_actions`).",
            (
                C("reply_id", "int", "Reply id.", minimum=1),
                C("thread_id", "int", "The thread replied to.", references="threads.thread_id"),
                C("user_id", "int", "Who replied.", references="users.user_id"),
                C("reply_time", "datetime", "When the reply was posted."),
            ),
            ("reply_id",),
            (_after_signup("reply_time", "user_id", "reply"),
             Rule("after_thread", "A reply comes after its thread's created_time.", ("reply_time",)),
             Rule("member_at_time", "The user was a member of the thread's group when replying.",
                  ("reply_time", "user_id"))),
        ),
        Table(
            "votes",
            "Up-votes (点赞) on threads: one row per user and thread.",
            (
                C("thread_id", "int", "The thread voted for.", references="threads.thread_id"),
                C("user_id", "int", "Who voted.", references="users.user_id"),
                C("vote_time", "datetime", "When."),
            ),
            ("thread_id", "user_id"),
            (_after_signup("vote_time", "user_id", "vote"),
             Rule("after_thread", "A vote comes after its thread's created_time.", ("vote_time",)),
             Rule("member_at_time", "The voter was a member of the thread's group when voting.",
                  ("vote_time", "user_id"))),
        ),
        Table(
            "moderation_actions",
            "Moderation (社区管理): threads and replies removed for breaking a community rule, one row per "
            "removal, by the automatic filter or a staff moderator.",
            (
                C("action_id", "int", "Action id.", minimum=1),
                C("target_type", "str", "What was removed.", values=MODERATION_TARGETS),
                C("target_id", "int", "thread_id or reply_id of the removed item, per target_type.", minimum=1),
                C("action_time", "datetime", "When it was removed."),
                C("rule", "str", "The community rule it broke: spam_ads = spam and advertising, abuse = insults "
                  "and harassment, off_topic, duplicate = a repost, misinformation.", values=MODERATION_RULES),
                C("moderator", "str", "auto = the automatic filter, staff = a moderator.", values=MODERATORS),
            ),
            ("action_id",),
            (Rule("moderated_target", "target_id names an existing thread or reply (per target_type), removed "
                  "at or after it was posted."),
             Rule("unique", "An item is removed at most once.", ("target_type", "target_id"))),
        ),
        Table(
            "leads",
            "Sales leads (销售线索) of the merchant partner programme (商家入驻): businesses that asked to sell "
            "in the app, from lead capture through cleaning (清洗), scoring (A/B/C 分级), follow-up (跟进) to a "
            "signed contract (成交). Merchants are businesses, not app users.",
            (
                C("lead_id", "int", "Lead id.", minimum=1),
                C("created_time", "datetime", "When the lead was captured."),
                C("source", "str", "Where it came from.", values=LEAD_SOURCES),
                C("company", "str", "Business name as entered."),
                C("contact_phone", "str", "Contact phone as entered (may be malformed; a direct identifier)."),
                C("clean_status", "str", "Result of cleaning: kept, or dropped as a duplicate of an earlier lead "
                  "(same phone) or for an invalid contact number.", values=LEAD_STATUSES),
                C("tier", "str", "Score tier after cleaning, A = best fit; empty for dropped leads.",
                  nullable=True, values=LEAD_TIERS),
                C("first_followup_time", "datetime", "First contact by a sales rep; empty if never followed up.",
                  nullable=True),
                C("converted_time", "datetime", "When the merchant signed; empty if not (yet).", nullable=True),
                C("amount", "float", "First-year contract value in CNY; empty unless converted.", nullable=True,
                  minimum=0),
            ),
            ("lead_id",),
            (Rule("kept_leads_only", "Only kept leads have a tier, and every kept lead has one; dropped leads are "
                  "never followed up."),
             Rule("lead_order", "created_time <= first_followup_time <= converted_time where set; a lead is "
                  "converted only after a follow-up, and amount is set exactly when converted_time is.")),
        ),
    )
}
del C

TABLE_ORDER: tuple[str, ...] = tuple(TABLES)
