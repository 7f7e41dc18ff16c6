"""The canonical tables, declared once.

Every table that passes between pipeline stages is declared here as a :class:`Table` (an
Arrow schema plus a description). DuckDB DDL is generated from the same declaration, and
:func:`check` validates a frame at a stage boundary, so a stage that produces the wrong
columns or types fails where it happens, not three stages later.

Times are UTC, stored as naive ``TIMESTAMP`` (microseconds) in DuckDB and
``timestamp[us]`` in Arrow. Ids are strings everywhere (Twitter ids exceed 53 bits).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from echoscope.errors import EchoscopeError

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "Table",
    "check",
    "ddl",
    "empty",
    "register",
]

#: Bump when a table changes incompatibly; workspaces of another version are refused.
SCHEMA_VERSION = 1

TS = pa.timestamp("us")
STR_LIST = pa.list_(pa.string())
MEDIA = pa.list_(
    pa.struct([("media_id", pa.string()), ("url", pa.string()), ("hash", pa.string())])
)


@dataclass(frozen=True)
class Table:
    """A canonical table: its name, Arrow schema, key columns and purpose."""

    name: str
    schema: pa.Schema
    description: str
    key: tuple[str, ...] = ()
    docs: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


TABLES: dict[str, Table] = {}


def register(table: Table) -> Table:
    """Declare a table (each name once)."""
    if table.name in TABLES and TABLES[table.name] != table:
        raise EchoscopeError(f"table {table.name!r} declared twice with different schemas")
    TABLES[table.name] = table
    return table


def _t(name: str, description: str, cols: Iterable[tuple[str, pa.DataType, str]],
       key: tuple[str, ...] = ()) -> Table:
    cols = list(cols)
    return register(
        Table(
            name=name,
            schema=pa.schema([(c, t) for c, t, _ in cols]),
            description=description,
            key=key,
            docs={c: d for c, _, d in cols},
        )
    )


POSTS = _t(
    "posts",
    "One row per post, repost, reply or quote, whatever the source format.",
    [
        ("platform", pa.string(), "twitter, telegram, bluesky, mastodon, facebook, or as mapped"),
        ("post_id", pa.string(), "the platform's id (Mastodon: the status uri)"),
        ("account_id", pa.string(), "author's stable id"),
        ("handle", pa.string(), "author's handle when the post was collected"),
        ("created_at", TS, "UTC, microseconds"),
        ("kind", pa.string(), "post | repost | reply | quote"),
        ("text", pa.string(), "full text (a repost carries the original's full text)"),
        ("lang", pa.string(), "language code when given"),
        ("source_app", pa.string(), "posting client name (from Twitter's source anchor etc.)"),
        ("parent_post_id", pa.string(), "reposted, replied-to or quoted post"),
        ("parent_account_id", pa.string(), "author of the parent post"),
        ("parent_created_at", TS, "time of the parent post, when the record carries it"),
        ("urls", STR_LIST, "canonical URLs"),
        ("hashtags", STR_LIST, "case-folded, without '#'"),
        ("mentions", STR_LIST, "mentioned handles, case-folded, without '@'"),
        ("mention_ids", STR_LIST, "mentioned account ids where the data has them"),
        ("media", MEDIA, "media_id, url (never fetched), hash (perceptual or file hash)"),
        ("source_file", pa.string(), "path as given to ingest"),
        ("source_record", pa.int64(), "1-based line (line formats) or item number"),
    ],
    key=("platform", "post_id"),
)

ACCOUNTS = _t(
    "accounts",
    "One row per account: the latest profile seen, with first/last activity.",
    [
        ("platform", pa.string(), ""),
        ("account_id", pa.string(), ""),
        ("handle", pa.string(), "latest handle seen"),
        ("display_name", pa.string(), ""),
        ("created_at", TS, "account creation time when the data has it"),
        ("followers", pa.int64(), ""),
        ("following", pa.int64(), ""),
        ("posts_count", pa.int64(), ""),
        ("description", pa.string(), ""),
        ("profile_image_url", pa.string(), "never fetched"),
        ("first_seen", TS, "earliest time the account was seen (as author or parent author)"),
        ("last_seen", TS, "latest time the account was seen"),
    ],
    key=("platform", "account_id"),
)

ACCOUNT_HANDLES = _t(
    "account_handles",
    "Handle history: every (handle, display name) an account was seen with, and when.",
    [
        ("platform", pa.string(), ""),
        ("account_id", pa.string(), ""),
        ("handle", pa.string(), ""),
        ("display_name", pa.string(), ""),
        ("first_seen", TS, ""),
        ("last_seen", TS, ""),
    ],
    key=("platform", "account_id", "handle", "display_name"),
)

REJECTS = _t(
    "rejects",
    "Records that could not be parsed: kept aside with the reason, never dropped.",
    [
        ("source_file", pa.string(), ""),
        ("source_record", pa.int64(), "1-based line or item number"),
        ("format", pa.string(), "format the file was read as"),
        ("reason", pa.string(), "what was wrong, in one sentence"),
        ("raw", pa.binary(), "the record's bytes as read (truncated to 1 MiB)"),
        ("file_sha256", pa.string(), ""),
    ],
)

FILES = _t(
    "files",
    "Every input file ingested, by content hash (ingest is idempotent per file).",
    [
        ("file_sha256", pa.string(), ""),
        ("path", pa.string(), ""),
        ("format", pa.string(), ""),
        ("bytes", pa.int64(), ""),
        ("records", pa.int64(), "records read"),
        ("posts", pa.int64(), "records parsed into posts"),
        ("new_posts", pa.int64(), "posts not already in the workspace"),
        ("skipped", pa.int64(), "records that are not posts (delete notices, likes, ...)"),
        ("rejects", pa.int64(), ""),
        ("ingested_at", TS, ""),
        ("run_id", pa.string(), ""),
    ],
    key=("file_sha256",),
)

RUNS = _t(
    "runs",
    "The run log: every command that changed the workspace, with what it used and made.",
    [
        ("run_id", pa.string(), ""),
        ("command", pa.string(), ""),
        ("echoscope_version", pa.string(), ""),
        ("started_at", TS, ""),
        ("finished_at", TS, ""),
        ("status", pa.string(), "ok | failed | interrupted"),
        ("params", pa.string(), "resolved parameters, JSON"),
        ("inputs", pa.string(), "input files with sha256, JSON"),
        ("counts", pa.string(), "row counts, JSON"),
        ("timings", pa.string(), "seconds per stage, JSON"),
        ("versions", pa.string(), "library versions, JSON"),
    ],
    key=("run_id",),
)

ACTIONS = _t(
    "actions",
    "One row per thing an account did that another account could also do.",
    [
        ("account_id", pa.string(), ""),
        ("time", TS, ""),
        ("type", pa.string(), "repost, reply, quote, text, near_text, url, domain, hashtag, "
                              "hashtag_set, media, mention"),
        ("key", pa.string(), "what was acted on (post id, text hash, canonical URL, ...)"),
        ("post_id", pa.string(), "the post the action comes from"),
    ],
)

EDGES = _t(
    "edges",
    "Co-action edges: two accounts acted on the same keys within a window.",
    [
        ("account_a", pa.string(), "account_a < account_b"),
        ("account_b", pa.string(), ""),
        ("type", pa.string(), "action type"),
        ("window", pa.float64(), "seconds"),
        ("n_keys", pa.int64(), "distinct keys co-acted on"),
        ("n_pairs", pa.int64(), "action pairs within the window"),
        ("min_delay", pa.float64(), "seconds"),
        ("median_delay", pa.float64(), "seconds"),
        ("weight", pa.float64(), "rarity- and activity-normalised strength"),
        ("p_value", pa.float64(), "under the null model (NaN if not computed)"),
        ("q_value", pa.float64(), "Benjamini-Hochberg adjusted p-value"),
    ],
    key=("account_a", "account_b", "type", "window"),
)

COACTION_ACCOUNTS = _t(
    "coaction_accounts",
    "Account-level test of the default co-action detector: partners an account co-acted "
    "with on min_keys keys or more (over all layers) against what chance gives it.",
    [
        ("account_id", pa.string(), "account in at least one tested pair"),
        ("partners", pa.int64(), "tested pairs (account pair, type, window) it is in"),
        ("expected", pa.float64(), "the same under the null model (an upper bound)"),
        ("p_value", pa.float64(), "P(Poisson(expected) >= partners)"),
    ],
    key=("account_id",),
)

CAMPAIGNS = _t(
    "campaigns",
    "Clusters of coordinated accounts, ranked by score.",
    [
        ("campaign_id", pa.string(), "stable for the same input and seed"),
        ("size", pa.int64(), "member accounts"),
        ("score", pa.float64(), "0..1, higher = stronger evidence"),
        ("signals", STR_LIST, "action types (and behavioural signals) that tie it"),
        ("n_edges", pa.int64(), ""),
        ("density", pa.float64(), ""),
        ("first_time", TS, ""),
        ("last_time", TS, ""),
        ("summary", pa.string(), "one-sentence explanation"),
    ],
    key=("campaign_id",),
)

CAMPAIGN_MEMBERS = _t(
    "campaign_members",
    "Which account belongs to which campaign, and how strongly.",
    [
        ("campaign_id", pa.string(), ""),
        ("account_id", pa.string(), ""),
        ("strength", pa.float64(), "sum of the member's edge weights inside the campaign"),
        ("degree", pa.int64(), "members it is tied to"),
        ("joined_by", pa.string(), "how it became a member: ties (its significant ties "
                                   "inside the campaign), owned_content (acted on the "
                                   "campaign's own content with members) or hijack_crew"),
    ],
    key=("campaign_id", "account_id"),
)

CAMPAIGN_EVIDENCE = _t(
    "campaign_evidence",
    "Top shared keys of each campaign, with counts and time span.",
    [
        ("campaign_id", pa.string(), ""),
        ("type", pa.string(), ""),
        ("key", pa.string(), ""),
        ("n_accounts", pa.int64(), "members that acted on the key"),
        ("n_actions", pa.int64(), ""),
        ("first_time", TS, ""),
        ("last_time", TS, ""),
        ("example_post_id", pa.string(), ""),
        ("example_text", pa.string(), ""),
    ],
)


# --- behavioural signals (echoscope.signals) ------------------------------------------

ACCOUNT_SIGNALS = _t(
    "account_signals",
    "Per-account behavioural signals (automation, profile): value, flag and reason.",
    [
        ("account_id", pa.string(), ""),
        ("signal", pa.string(), "e.g. interpost_cv, hour_entropy, reaction_delay, shared_rare_app"),
        ("value", pa.float64(), "the measured value (NaN when not measurable)"),
        ("flagged", pa.bool_(), "true when the value passes the signal's documented threshold"),
        ("reason", pa.string(), "human-readable explanation, always given when flagged"),
    ],
    key=("account_id", "signal"),
)

HASHTAG_SIGNALS = _t(
    "hashtag_signals",
    "Per-hashtag volume bursts, concentration, scheduled storms and hijacking.",
    [
        ("hashtag", pa.string(), "case-folded, without '#'"),
        ("posts", pa.int64(), ""),
        ("accounts", pa.int64(), ""),
        ("bursts", pa.int64(), "burst episodes (runs of consecutive burst hours)"),
        ("burst_hours", pa.int64(), "hours above the hashtag's own baseline"),
        ("peak_hour", TS, "start of the busiest hour"),
        ("peak_posts", pa.int64(), ""),
        ("baseline", pa.float64(), "expected posts per hour (robust baseline)"),
        ("top_share", pa.float64(), "share of burst posts from the top-k accounts"),
        ("campaign_share", pa.float64(), "share of burst posts from campaign members"),
        ("recurring_hours", pa.string(), "hours of day (UTC) with bursts on several days"),
        ("content_similarity", pa.float64(), "cosine of burst campaign posts vs usual posts"),
        ("storm", pa.bool_(), ""),
        ("hijack", pa.bool_(), ""),
        ("evidence", pa.string(), "one-paragraph explanation"),
    ],
    key=("hashtag",),
)

REINCARNATIONS = _t(
    "reincarnations",
    "Candidate successors of suspended accounts, ranked with their evidence.",
    [
        ("old_account_id", pa.string(), ""),
        ("old_handle", pa.string(), ""),
        ("new_account_id", pa.string(), ""),
        ("new_handle", pa.string(), ""),
        ("score", pa.float64(), "0..1"),
        ("rank", pa.int64(), "1 = best candidate for the old account"),
        ("handle_similarity", pa.float64(), "0..1"),
        ("same_display_name", pa.bool_(), ""),
        ("same_avatar", pa.bool_(), ""),
        ("content_overlap", pa.float64(), "rarity-weighted Jaccard of hashtags, URLs, texts"),
        ("neighbour_overlap", pa.float64(), "Jaccard of co-action/interaction neighbours"),
        ("promoted_by", pa.int64(), "old neighbours that mentioned or reposted the new account"),
        ("gap_hours", pa.float64(), "suspension to the new account's creation/first sight"),
        ("inferred", pa.bool_(), "suspension inferred from an abrupt stop (no list given)"),
        ("chain", pa.string(), "handles of the whole chain, old -> new -> newer"),
    ],
    key=("old_account_id", "new_account_id"),
)


# --- known-content banks (echoscope.bank) ----------------------------------------------

BANK_ENTRIES = _t(
    "bank_entries",
    "Known-content banks: named sets of labelled signals (PDQ, MD5, text, URL).",
    [
        ("bank", pa.string(), "bank name (several banks per workspace)"),
        ("signal_type", pa.string(), "pdq | md5 | text_exact | text_near | url"),
        ("value", pa.string(), "validated canonical value (hex, text hash, text, URL)"),
        ("label", pa.string(), "free taxonomy: campaign, content category, ..."),
        ("source", pa.string(), "who shared it / which file it came from"),
        ("added_at", TS, "when the entry was added (from the file, else import time)"),
        ("item", pa.string(), "the item hashed (several variants share it); default: value"),
        ("variant", pa.string(), "hash variant: orig, unboxed, crop95, ... (pdq); else ''"),
        ("quality", pa.int64(), "PDQ quality 0-100 when known"),
    ],
    key=("bank", "signal_type", "value", "label"),
)

BANK_MATCHES = _t(
    "bank_matches",
    "Posts and files whose media or text matches a bank entry.",
    [
        ("query_type", pa.string(), "post | file | text"),
        ("query_id", pa.string(), "post id, file path or text id"),
        ("post_id", pa.string(), "the matching post (null for files)"),
        ("account_id", pa.string(), "author of the post (null for files)"),
        ("media_id", pa.string(), "the post's media item that matched, if any"),
        ("file", pa.string(), "local file that was hashed, if any"),
        ("signal_type", pa.string(), "pdq | md5 | text_exact | text_near | url"),
        ("query_variant", pa.string(), "query hash variant (orig, flipx, crop95, ...)"),
        ("bank", pa.string(), ""),
        ("item", pa.string(), "bank item matched"),
        ("bank_variant", pa.string(), ""),
        ("bank_value", pa.string(), ""),
        ("label", pa.string(), ""),
        ("source", pa.string(), ""),
        ("distance", pa.int64(), "PDQ Hamming distance (0 for exact kinds, null for text_near)"),
        ("similarity", pa.float64(), "1 - distance/256 for PDQ, Jaccard for text_near, 1 exact"),
        ("match_kind", pa.string(), "auto | review (PDQ distance in the review band)"),
    ],
)


# --- perceptual-hash media keys (echoscope.media_keys) -----------------------------------

MEDIA_KEYS = _t(
    "media_keys",
    "Local media files of posts (--media-dir), hashed with PDQ and grouped into "
    "near-duplicate clusters: the key of their media actions.",
    [
        ("post_id", pa.string(), "the post"),
        ("media_index", pa.int64(), "position of the item in the post's media list"),
        ("media_id", pa.string(), "the item's media id as recorded (may be null)"),
        ("recorded_key", pa.string(), "the media action key from the record alone (its "
                                      "hash, else its media id), which key replaces"),
        ("file", pa.string(), "local file hashed"),
        ("pdq", pa.string(), "PDQ hash of the file (orig variant); null if not an image"),
        ("quality", pa.int64(), "PDQ quality 0-100"),
        ("key", pa.string(), "pdq:<smallest hash of its cluster>, or md5:<file md5> "
                             "for files PDQ cannot use"),
    ],
    key=("post_id", "media_index"),
)

_DUCK: dict[str, str] = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "int32": "INTEGER",
    "double": "DOUBLE",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "binary": "BLOB",
    "timestamp[us]": "TIMESTAMP",
}


def duck_type(t: pa.DataType) -> str:
    """The DuckDB type of an Arrow type used in these tables."""
    if pa.types.is_list(t):
        return f"{duck_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{f.name} {duck_type(f.type)}" for f in t)
        return f"STRUCT({inner})"
    try:
        return _DUCK[str(t)]
    except KeyError:  # pragma: no cover - a declaration bug
        raise EchoscopeError(f"no DuckDB type for Arrow type {t}") from None


def ddl(table: Table, *, name: str | None = None, temp: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a declared table."""
    cols = ",\n  ".join(f'"{f.name}" {duck_type(f.type)}' for f in table.schema)
    kind = "TEMP TABLE" if temp else "TABLE"
    return f'CREATE {kind} IF NOT EXISTS "{name or table.name}" (\n  {cols}\n)'


def empty(name: str) -> pa.Table:
    """An empty Arrow table with the declared schema."""
    return TABLES[name].schema.empty_table()


def check(name: str, data: Any, *, stage: str = "") -> pa.Table:
    """Check (and cast) a frame against the declared schema at a stage boundary.

    Accepts a pyarrow Table, a polars DataFrame or a DuckDB relation. Columns must all be
    present; extra columns are an error; types are cast where safe and refused otherwise.
    """
    table = TABLES[name]
    if not isinstance(data, pa.Table):
        if hasattr(data, "to_arrow"):
            data = data.to_arrow()
        elif hasattr(data, "arrow"):
            data = data.arrow()
        else:
            raise EchoscopeError(f"cannot check {type(data).__name__} against {name}")
    if hasattr(data, "read_all"):
        data = data.read_all()
    where = f" (from {stage})" if stage else ""
    missing = [c for c in table.columns if c not in data.column_names]
    extra = [c for c in data.column_names if c not in table.columns]
    if missing or extra:
        raise EchoscopeError(
            f"table {name}{where} does not match its schema: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    data = data.select(table.columns)
    if not data.schema.equals(table.schema):
        try:
            data = data.cast(table.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise EchoscopeError(f"table {name}{where} has wrong column types: {e}") from e
    return data
