"""Keys a group of accounts *owns*: the one rule behind the campaign stage's topic-tie
member rule (:func:`echoscope.cluster.owning_members`), its owned-content attachment
(:func:`echoscope.cluster.attach_owned`) and the hijack crews
(:func:`echoscope.crews.crew_matches`).

A key (type, key) of ``actions`` is owned by group G when at least ``share`` of the
distinct accounts acting on it, and at least ``floor`` of them, are G's accounts: the
campaign's own post, text, site or tag, not a breaking story that ordinary accounts
dominate. A share, not a count, so the rule does not depend on the input's size.
"""

from __future__ import annotations

__all__ = ["owned_keys_sql"]


def owned_keys_sql(groups: str, types: tuple[str, ...] | None = None) -> str:
    """SQL common-table expressions ending in ``owned(type, key, grp)``: the keys of
    ``types`` (every type when None) that each group owns.

    ``groups`` names a relation with columns ``account_id, grp`` (an account may be in
    several groups). The SQL takes two positional parameters, in this order: ``floor``
    (the fewest group accounts on an owned key) and ``share``. Use it as
    ``WITH {owned_keys_sql(...)} SELECT ... FROM owned ...``. Only the keys that a
    group's accounts acted on are counted, so the cost follows the groups' actions, not
    the whole table.
    """
    where = ""
    if types is not None:
        where = "WHERE a.type IN (" + ", ".join(f"'{t}'" for t in types) + ")"
    return f"""
        _og_keys AS (  -- keys acted on by at least floor accounts of a group
            SELECT g.grp, a.type, a.key, count(DISTINCT a.account_id) AS n_group
            FROM actions a JOIN {groups} g USING (account_id)
            {where}
            GROUP BY ALL HAVING count(DISTINCT a.account_id) >= ?),
        _og_all AS (  -- every account acting on those keys
            SELECT a.type, a.key, count(DISTINCT a.account_id) AS n_all
            FROM actions a SEMI JOIN (SELECT DISTINCT type, key FROM _og_keys) k
              USING (type, key)
            GROUP BY ALL),
        owned AS (
            SELECT k.type, k.key, k.grp FROM _og_keys k JOIN _og_all n USING (type, key)
            WHERE k.n_group >= ? * n.n_all)"""
