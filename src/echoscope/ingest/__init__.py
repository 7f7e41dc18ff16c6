"""Reading input files into the workspace.

``ingest_files(paths, workspace)`` auto-detects each file's format (or takes
``format=``), streams it through the matching :class:`Loader`, and writes ``posts``,
``accounts``, ``account_handles`` and ``rejects`` in one transaction per file.

Formats register themselves in :data:`LOADERS`; ``LOADERS.names()`` lists them.
"""

from __future__ import annotations

from echoscope.ingest._base import Loader, LoadOptions, Sink
from echoscope.registry import Registry

LOADERS: Registry[type[Loader]] = Registry("input format")

# Built-in formats register themselves on import (the same way a plugin would).
from echoscope.ingest import twitter_v1  # noqa: E402

LOADERS.register(twitter_v1.TwitterV1)

from echoscope.ingest import (  # noqa: E402
    bluesky,
    coortweet_multi,
    generic,
    ira,
    mastodon,
    telegram,
    twarc_csv,
    twitter_v2,
    x_io,
)

for _cls in (
    twitter_v2.TwitterV2,
    twarc_csv.TwarcCsv,
    x_io.XInfoOps,
    telegram.TelegramExport,
    bluesky.BlueskyJetstream,
    mastodon.MastodonStatuses,
    ira.IraCsv,
    coortweet_multi.CoortweetMulti,
    generic.GenericCsv,
    generic.GenericParquet,
):
    LOADERS.register(_cls)

from echoscope.ingest import cnt_csv, coortweet_csv  # noqa: E402

LOADERS.register(cnt_csv.CntCsv)
LOADERS.register(coortweet_csv.CoortweetCsv)

from echoscope.ingest._driver import (  # noqa: E402
    FileResult,
    IngestSummary,
    detect_format,
    ingest_files,
)

__all__ = [
    "LOADERS",
    "FileResult",
    "IngestSummary",
    "LoadOptions",
    "Loader",
    "Sink",
    "detect_format",
    "ingest_files",
]
