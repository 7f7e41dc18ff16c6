"""Known-content matching: hash banks for images, files and texts, matched at scale.

A *bank* is a named set of labelled signals (``pdq``, ``md5``, ``text_exact``,
``text_near``, ``url``) kept in the workspace table ``bank_entries``. Files are hashed with
:func:`hash_files` (PDQ variants robust to flips, letterboxing and light crops, plus MD5),
and posts, media and files are matched with :func:`match_workspace` / :func:`match_hashes`
(exact multi-index PDQ search: identical to brute force, ~15 s for 1M x 100k at radius 31).
"""

from echoscope.bank._index import PDQIndex, brute_force_search, radius_search
from echoscope.bank._signals import SIGNAL_TYPES, canonical_value, pdq_distance
from echoscope.bank.banks import (
    BankImport,
    bank_entries,
    export_bank,
    import_bank,
    list_banks,
    read_bank_file,
)
from echoscope.bank.hashing import (
    HASH_SCHEMA,
    HashParams,
    ImageHash,
    hash_array,
    hash_files,
    hash_image,
    hash_texts,
    unbox,
)
from echoscope.bank.match import (
    MatchParams,
    match_hash_file,
    match_hashes,
    match_queries,
    match_workspace,
    read_hashes_file,
    workspace_queries,
    write_hashes,
)

__all__ = [
    "HASH_SCHEMA",
    "SIGNAL_TYPES",
    "BankImport",
    "HashParams",
    "ImageHash",
    "MatchParams",
    "PDQIndex",
    "bank_entries",
    "brute_force_search",
    "canonical_value",
    "export_bank",
    "hash_array",
    "hash_files",
    "hash_image",
    "hash_texts",
    "import_bank",
    "list_banks",
    "match_hash_file",
    "match_hashes",
    "match_queries",
    "match_workspace",
    "pdq_distance",
    "radius_search",
    "read_bank_file",
    "read_hashes_file",
    "unbox",
    "workspace_queries",
    "write_hashes",
]
