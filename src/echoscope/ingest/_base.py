"""The loader contract and the sink loaders write into.

A :class:`Loader` turns one input stream into posts, accounts and rejects by calling the
:class:`Sink`. Every record read must end in exactly one of ``sink.post``, ``sink.reject``
or ``sink.skip`` (a record that is not a post, e.g. a delete notice): the driver checks
``posts + rejects + skipped == records`` for every file.

Times are integers: microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from echoscope.errors import RecordError

__all__ = ["LoadOptions", "Loader", "Sink"]

#: the order of a snapshot without a time: before every timed one
_NO_TIME = -(1 << 62)

RAW_LIMIT = 1 << 20


@dataclass(frozen=True)
class LoadOptions:
    """What the user told ingest about the input."""

    column_map: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    strict: bool = False
    users_file: str | None = None


class Sink:
    """Collects rows from a loader in column-friendly lists; the driver flushes it."""

    POST_COLUMNS: ClassVar[tuple[str, ...]] = (
        "platform", "post_id", "account_id", "handle", "created_at", "kind", "text", "lang",
        "source_app", "parent_post_id", "parent_account_id", "parent_created_at", "urls",
        "hashtags", "mentions", "mention_ids", "media", "source_record",
    )

    def __init__(self, source_file: str, fmt: str, *, strict: bool = False) -> None:
        self.source_file = source_file
        self.format = fmt
        self.strict = strict
        self.post_rows: list[tuple[Any, ...]] = []
        self.reject_rows: list[tuple[int, str, bytes]] = []
        # (platform, account_id) -> [profile tuple, seen_at, first_seen, last_seen, order]:
        # ``order`` is the snapshot order (:meth:`snapshot`) of the profile's fields, one
        # for all of them while every snapshot had the same profile, else one per field
        self.accounts: dict[tuple[str, str], list[Any]] = {}
        self._snapshots = 0
        # (platform, account_id, handle, display_name) -> [first_seen, last_seen]
        self.handles: dict[tuple[str, str, str | None, str | None], list[int | None]] = {}
        self.n_posts = 0
        self.n_rejects = 0
        self.n_skipped = 0
        self.skip_reasons: dict[str, int] = {}
        #: account snapshot tables written by a loader's SQL fast path (see _v1_fast)
        self.fast_accounts: list[str] = []
        #: Arrow stream files of posts (``posts`` columns) written by a fast path (see
        #: _v1_struct): the driver inserts them with the stage table's rows
        self.fast_posts: list[str] = []
        #: folders the driver removes once the file is ingested (or failed)
        self.temp_dirs: list[str] = []
        self.reject_reasons: dict[str, int] = {}

    @property
    def records(self) -> int:
        return self.n_posts + self.n_rejects + self.n_skipped

    def post(
        self,
        *,
        platform: str,
        post_id: str,
        account_id: str,
        created_at: int | None,
        kind: str = "post",
        handle: str | None = None,
        text: str | None = None,
        lang: str | None = None,
        source_app: str | None = None,
        parent_post_id: str | None = None,
        parent_account_id: str | None = None,
        parent_created_at: int | None = None,
        urls: list[str] | None = None,
        hashtags: list[str] | None = None,
        mentions: list[str] | None = None,
        mention_ids: list[str] | None = None,
        media: list[dict[str, str | None]] | None = None,
        record: int,
    ) -> None:
        """One parsed post (exactly one call per record that is a post)."""
        self.post_rows.append(
            (
                platform, post_id, account_id, handle, created_at, kind, text, lang,
                source_app, parent_post_id, parent_account_id, parent_created_at,
                urls or [], hashtags or [], mentions or [], mention_ids or [], media or [],
                record,
            )
        )
        self.n_posts += 1

    def account(
        self,
        *,
        platform: str,
        account_id: str,
        seen_at: int | None,
        handle: str | None = None,
        display_name: str | None = None,
        created_at: int | None = None,
        followers: int | None = None,
        following: int | None = None,
        posts_count: int | None = None,
        description: str | None = None,
        profile_image_url: str | None = None,
    ) -> None:
        """An account snapshot (any number per record: author, parent author, ...).

        The latest snapshot (by ``seen_at``) wins the profile fields; ``first_seen`` /
        ``last_seen`` span every snapshot; each (handle, display name) goes to the history.
        """
        profile = (handle, display_name, created_at, followers, following, posts_count,
                   description, profile_image_url)
        self.snapshot(account_id, seen_at, profile, platform)

    def snapshot(self, account_id: str, seen_at: int | None, profile: tuple[Any, ...],
                 platform: str = "twitter") -> None:
        """:meth:`account` with the profile as a tuple in ``account``'s argument order.

        Each profile field takes the value of the latest snapshot that has one: latest by
        ``seen_at``, snapshots without a time before all timed ones, and among equal times
        the one that came later. So the result does not depend on the order in which
        snapshots of different times arrive (the fast paths' SQL merge picks the same).
        """
        self._snapshots += 1
        order = (_NO_TIME if seen_at is None else seen_at, self._snapshots)
        key = (platform, account_id)
        cur = self.accounts.get(key)
        if cur is None:
            self.accounts[key] = [profile, seen_at, seen_at, seen_at, order]
        elif cur[0] == profile:
            # the common case (the same snapshot again): only the times move
            if isinstance(cur[4], tuple):
                cur[4] = max(cur[4], order)
            else:
                cur[4] = [None if v is None else max(o, order)
                          for v, o in zip(profile, cur[4], strict=True)]
        else:
            orders = cur[4]
            if isinstance(orders, tuple):
                orders = [None if v is None else orders for v in cur[0]]
            merged = list(cur[0])
            for i, v in enumerate(profile):
                if v is not None and (orders[i] is None or order > orders[i]):
                    merged[i] = v
                    orders[i] = order
            cur[0] = tuple(merged)
            cur[4] = orders
        if cur is not None and seen_at is not None:
            if cur[1] is None or seen_at >= cur[1]:
                cur[1] = seen_at
            cur[2] = seen_at if cur[2] is None else min(cur[2], seen_at)
            cur[3] = seen_at if cur[3] is None else max(cur[3], seen_at)
        self._handle(platform, account_id, seen_at, profile)

    def _handle(self, platform: str, account_id: str, seen_at: int | None,
                profile: tuple[Any, ...]) -> None:
        handle, display_name = profile[0], profile[1]
        if handle is not None or display_name is not None:
            hk = (platform, account_id, handle, display_name)
            h = self.handles.get(hk)
            if h is None:
                self.handles[hk] = [seen_at, seen_at]
            elif seen_at is not None:
                h[0] = seen_at if h[0] is None else min(h[0], seen_at)
                h[1] = seen_at if h[1] is None else max(h[1], seen_at)

    def reject(self, record: int, raw: bytes | str | None, reason: str) -> None:
        """A record that cannot be parsed: kept aside with the reason (or raised if strict)."""
        if self.strict:
            raise RecordError(
                f"{self.source_file}, record {record}: {reason} (--strict stops here; "
                "without it the record goes to the rejects table and ingest continues).",
                path=self.source_file,
                record=record,
                reason=reason,
            )
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        self.reject_rows.append((record, reason, (raw or b"")[:RAW_LIMIT]))
        self.n_rejects += 1
        short = reason.split(":")[0]
        self.reject_reasons[short] = self.reject_reasons.get(short, 0) + 1

    def skip(self, record: int, reason: str) -> None:
        """A well-formed record that is not a post (delete notice, like, service message)."""
        self.n_skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def pending(self) -> int:
        return len(self.post_rows) + len(self.reject_rows)


class Loader:
    """Base class of input-format loaders (register subclasses in ``ingest.LOADERS``).

    Subclasses set ``name`` (used by ``--format``), ``platform`` and ``description``, and
    implement :meth:`sniff` and :meth:`load`.
    """

    name: ClassVar[str] = ""
    platform: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: file name suffixes this format commonly has (a hint for sniffing only)
    suffixes: ClassVar[tuple[str, ...]] = ()

    def sniff(self, head: bytes, filename: str) -> float:
        """Confidence in [0, 1] that a stream starting with ``head`` is this format."""
        raise NotImplementedError

    def load(self, stream: IO[bytes], sink: Sink, options: LoadOptions) -> None:
        """Read the whole stream, calling ``sink.post/reject/skip`` once per record."""
        raise NotImplementedError
