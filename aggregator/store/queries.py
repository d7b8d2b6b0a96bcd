"""SQL text for reports: windows are summed per cluster inside the database, never row by row.

The cluster query returns exactly the fields of
`scanner.estimation.estimate.ClusterTotals` (plus an `hour` key),
computed the same way as `clusters_from_reports` does on the node: a test checks both agree.
"""

from __future__ import annotations

from typing import Any, Final

from scanner.estimation.params import EstimationParams

# One pass over the windows: first per (site, node, quarter-hour slot), because Bluezone
# Android's distinct-ID count is cumulative within a slot (take its MAX, never a SUM) and its
# detection probability depends on the slot's listening time; then per cluster.
# `why` is the exclusion reason: 'c' clock not synced, 'v' poor coverage, NULL used.
CLUSTERS_SQL: Final = """
WITH w AS (
  SELECT site, node, window_start, window_s, scanned_s, headcount,
         bz_android, bz_ios_fg, bz_ios_bg, bz_slot_android, iphone, phone,
         CASE WHEN :require_clock = 1 AND clock_synced = 0 THEN 'c'
              WHEN scanned_s < :coverage_min * window_s THEN 'v' END AS why
  FROM windows
  WHERE window_start >= :since AND window_start < :until {where}
),
s AS (
  SELECT site, node, MIN(window_start) - MIN(window_start) % 86400 AS day,
         {hour} AS hour,
         COUNT(*) AS windows,
         SUM(CASE WHEN why IS NULL THEN 1 ELSE 0 END) AS used,
         SUM(CASE WHEN why = 'c' THEN 1 ELSE 0 END) AS excl_clock,
         SUM(CASE WHEN why = 'v' THEN 1 ELSE 0 END) AS excl_coverage,
         SUM(CASE WHEN why IS NULL THEN window_s ELSE 0 END) AS window_s_sum,
         SUM(CASE WHEN why IS NULL THEN bz_ios_fg ELSE 0 END) AS ios_fg,
         SUM(CASE WHEN why IS NULL THEN bz_ios_bg ELSE 0 END) AS ios_bg,
         SUM(CASE WHEN why IS NULL THEN iphone ELSE 0 END) AS iphone,
         SUM(CASE WHEN why IS NULL THEN phone ELSE 0 END) AS phone,
         SUM(CASE WHEN why IS NULL THEN bz_android ELSE 0 END) AS android_win,
         COALESCE(MAX(CASE WHEN COALESCE(why, '') <> 'c' THEN bz_slot_android END), 0) AS x,
         SUM(CASE WHEN COALESCE(why, '') <> 'c' THEN scanned_s ELSE 0 END) AS tau,
         SUM(headcount) AS head_sum,
         COUNT(headcount) AS head_n
  FROM w
  GROUP BY site, node, window_start / 900
),
p AS (
  SELECT *, :advertising * ((1 - :doze) * MIN(1.0, (tau + :burst) / :period)
            + :doze * MIN(1.0, (tau + :burst) / :doze_period)) AS q
  FROM s
)
SELECT site, node, day, hour,
       SUM(windows), SUM(used), SUM(excl_clock), SUM(excl_coverage),
       SUM(window_s_sum), SUM(ios_fg), SUM(ios_bg), SUM(iphone), SUM(phone), SUM(android_win),
       COALESCE(SUM(CASE WHEN tau >= :min_slot THEN tau * x / q END), 0.0),
       COALESCE(SUM(CASE WHEN tau >= :min_slot THEN tau END), 0.0),
       COALESCE(SUM(CASE WHEN tau >= :min_slot THEN tau * q END), 0.0),
       CASE WHEN SUM(head_n) > 0 THEN CAST(SUM(head_sum) AS DOUBLE PRECISION) / SUM(head_n) END
FROM p
GROUP BY site, node, day, hour
ORDER BY site, node, day, hour
"""

# Node health for the coverage chart and the nodes sheet.
NODES_SQL: Final = """
SELECT node, site, COUNT(*) AS windows,
       SUM(CASE WHEN :require_clock = 1 AND clock_synced = 0 THEN 1 ELSE 0 END) AS excl_clock,
       SUM(CASE WHEN NOT (:require_clock = 1 AND clock_synced = 0)
                 AND scanned_s < :coverage_min * window_s THEN 1 ELSE 0 END) AS excl_coverage,
       SUM(scanned_s) / CAST(SUM(window_s) AS DOUBLE PRECISION) AS scanned_share,
       SUM(restarts) AS restarts,
       MIN(window_start) AS first_start,
       MAX(window_start + window_s) AS last_end,
       MAX(mode) AS mode
FROM windows
WHERE window_start >= :since AND window_start < :until {where}
GROUP BY node, site
ORDER BY site, node
"""

SITES_SEEN_SQL: Final = "SELECT site, COUNT(*) FROM windows GROUP BY site ORDER BY site"
ROLLUP_SITES_SEEN_SQL: Final = (
    "SELECT site, SUM(n) FROM window_rollup GROUP BY site HAVING SUM(n) > 0 ORDER BY site"
)


def cluster_query(
    params: EstimationParams,
    *,
    since: int,
    until: int,
    sites: list[str] | None = None,
    by_hour: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The cluster SQL and its named parameters (sites filter as bound parameters)."""
    where, binds = _site_filter(sites)
    # A slot never straddles an hour (900 s divides 3600 s), so the hour is a property of the slot.
    sql = CLUSTERS_SQL.format(
        where=where, hour="(MIN(window_start) % 86400) / 3600" if by_hour else "0"
    )
    binds.update(
        since=since,
        until=until,
        require_clock=1 if params.v("require_clock_sync") >= 0.5 else 0,
        coverage_min=params.v("coverage_min"),
        doze=params.v("android_doze_share"),
        advertising=params.v("android_advertising"),
        burst=params.v("android_burst_s"),
        period=params.v("android_period_s"),
        doze_period=params.v("android_doze_period_s"),
        min_slot=params.v("min_slot_scan_s"),
    )
    return sql, binds


def nodes_query(
    params: EstimationParams, *, since: int, until: int, sites: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    where, binds = _site_filter(sites)
    binds.update(
        since=since,
        until=until,
        require_clock=1 if params.v("require_clock_sync") >= 0.5 else 0,
        coverage_min=params.v("coverage_min"),
    )
    return NODES_SQL.format(where=where), binds


def _site_filter(sites: list[str] | None) -> tuple[str, dict[str, Any]]:
    if sites is None:
        return "", {}
    names = [f":site{i}" for i in range(len(sites))]
    binds: dict[str, Any] = {f"site{i}": s for i, s in enumerate(sites)}
    return f"AND site IN ({', '.join(names) or 'NULL'})", binds


# A per-(cluster, hour, coverage percent, clock state, mode) rollup kept up to date by triggers,
# so a report over 10 million windows reads a few hundred thousand rows instead of sorting
# every window. Coverage is kept as floor(100 * scanned_s / window_s), so any coverage_min
# given in whole percent applies exactly; the clock state is kept as is. UPDATE and DELETE
# triggers keep it exact if the store ever replaces or deletes a window.
ROLLUP_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS window_rollup (
  site TEXT NOT NULL, node TEXT NOT NULL, day INTEGER NOT NULL, hour INTEGER NOT NULL,
  cov INTEGER NOT NULL, clock INTEGER NOT NULL, mode TEXT NOT NULL,
  n INTEGER NOT NULL, window_s_sum INTEGER NOT NULL, scanned_sum REAL NOT NULL,
  ios_fg INTEGER NOT NULL, ios_bg INTEGER NOT NULL, iphone INTEGER NOT NULL,
  phone INTEGER NOT NULL, android_win INTEGER NOT NULL, restarts INTEGER NOT NULL,
  head_sum INTEGER NOT NULL, head_n INTEGER NOT NULL,
  first_start INTEGER NOT NULL, last_end INTEGER NOT NULL,
  PRIMARY KEY (site, node, day, hour, cov, clock, mode)
) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS window_rollup_ins AFTER INSERT ON windows BEGIN
  {upsert_new}
END""",
    """CREATE TRIGGER IF NOT EXISTS window_rollup_del AFTER DELETE ON windows BEGIN
  {minus_old}
END""",
    """CREATE TRIGGER IF NOT EXISTS window_rollup_upd AFTER UPDATE ON windows BEGIN
  {minus_old}
  {upsert_new}
END""",
)
_KEY = """{r}.site, {r}.node, {r}.window_start - {r}.window_start % 86400,
  ({r}.window_start % 86400) / 3600,
  CAST(100.0 * {r}.scanned_s / {r}.window_s AS INTEGER), COALESCE({r}.clock_synced, -1),
  COALESCE({r}.mode, '')"""
_UPSERT = (
    "INSERT INTO window_rollup VALUES ("
    + _KEY
    + """,
  1, {r}.window_s, {r}.scanned_s, {r}.bz_ios_fg, {r}.bz_ios_bg, {r}.iphone, {r}.phone,
  {r}.bz_android, COALESCE({r}.restarts, 0), COALESCE({r}.headcount, 0),
  {r}.headcount IS NOT NULL, {r}.window_start, {r}.window_start + {r}.window_s)
  ON CONFLICT DO UPDATE SET n = n + 1, window_s_sum = window_s_sum + excluded.window_s_sum,
  scanned_sum = scanned_sum + excluded.scanned_sum, ios_fg = ios_fg + excluded.ios_fg,
  ios_bg = ios_bg + excluded.ios_bg, iphone = iphone + excluded.iphone,
  phone = phone + excluded.phone, android_win = android_win + excluded.android_win,
  restarts = restarts + excluded.restarts, head_sum = head_sum + excluded.head_sum,
  head_n = head_n + excluded.head_n,
  first_start = MIN(first_start, excluded.first_start),
  last_end = MAX(last_end, excluded.last_end);"""
)
_MINUS = (
    """UPDATE window_rollup SET n = n - 1, window_s_sum = window_s_sum - OLD.window_s,
  scanned_sum = scanned_sum - OLD.scanned_s, ios_fg = ios_fg - OLD.bz_ios_fg,
  ios_bg = ios_bg - OLD.bz_ios_bg, iphone = iphone - OLD.iphone, phone = phone - OLD.phone,
  android_win = android_win - OLD.bz_android, restarts = restarts - COALESCE(OLD.restarts, 0),
  head_sum = head_sum - COALESCE(OLD.headcount, 0), head_n = head_n - (OLD.headcount IS NOT NULL)
  WHERE (site, node, day, hour, cov, clock, mode) = ("""
    + _KEY
    + ");"
)
ROLLUP_STATEMENTS: Final = tuple(
    s.format(upsert_new=_UPSERT.format(r="NEW"), minus_old=_MINUS.format(r="OLD"))
    for s in ROLLUP_DDL
)
ROLLUP_BACKFILL: Final = (
    "INSERT INTO window_rollup SELECT "
    + _KEY.format(r="w")
    + """,
  COUNT(*), SUM(w.window_s), SUM(w.scanned_s), SUM(w.bz_ios_fg), SUM(w.bz_ios_bg),
  SUM(w.iphone), SUM(w.phone), SUM(w.bz_android), SUM(COALESCE(w.restarts, 0)),
  SUM(COALESCE(w.headcount, 0)), COUNT(w.headcount), MIN(w.window_start),
  MAX(w.window_start + w.window_s)
FROM windows AS w GROUP BY 1, 2, 3, 4, 5, 6, 7"""
)
ROLLUP_EXISTS_SQL: Final = (
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'window_rollup_ins'"
)

# The cluster query on the rollup: same columns as CLUSTERS_SQL; Android from per-window counts
# only (the slot fields are 0), which is the default estimator (android_slot_counts = 0).
ROLLUP_CLUSTERS_SQL: Final = """
WITH r AS (
  SELECT *, CASE WHEN :require_clock = 1 AND clock = 0 THEN 'c'
                 WHEN cov < :coverage_pct THEN 'v' END AS why
  FROM window_rollup
  WHERE day >= :since_day AND day < :until AND n > 0 {where}
)
SELECT site, node, day, {hour},
       SUM(n), SUM(CASE WHEN why IS NULL THEN n ELSE 0 END),
       SUM(CASE WHEN why = 'c' THEN n ELSE 0 END), SUM(CASE WHEN why = 'v' THEN n ELSE 0 END),
       SUM(CASE WHEN why IS NULL THEN window_s_sum ELSE 0 END),
       SUM(CASE WHEN why IS NULL THEN ios_fg ELSE 0 END),
       SUM(CASE WHEN why IS NULL THEN ios_bg ELSE 0 END),
       SUM(CASE WHEN why IS NULL THEN iphone ELSE 0 END),
       SUM(CASE WHEN why IS NULL THEN phone ELSE 0 END),
       SUM(CASE WHEN why IS NULL THEN android_win ELSE 0 END),
       0.0, 0.0, 0.0,
       CASE WHEN SUM(head_n) > 0 THEN CAST(SUM(head_sum) AS DOUBLE PRECISION) / SUM(head_n) END
FROM r
GROUP BY site, node, day{hour_key}
ORDER BY site, node, day{hour_key}
"""

ROLLUP_NODES_SQL: Final = """
SELECT node, site, SUM(n),
       SUM(CASE WHEN :require_clock = 1 AND clock = 0 THEN n ELSE 0 END),
       SUM(CASE WHEN NOT (:require_clock = 1 AND clock = 0) AND cov < :coverage_pct
                THEN n ELSE 0 END),
       SUM(scanned_sum) / CAST(SUM(window_s_sum) AS DOUBLE PRECISION), SUM(restarts),
       MIN(first_start), MAX(last_end), MAX(mode)
FROM window_rollup
WHERE day >= :since_day AND day < :until AND n > 0 {where}
GROUP BY node, site
ORDER BY site, node
"""


def rollup_usable(params: EstimationParams) -> bool:
    """The rollup answers the cluster query unless slot counts or a fractional-percent
    coverage threshold are asked for."""
    pct = params.v("coverage_min") * 100
    return params.v("android_slot_counts") < 0.5 and abs(pct - round(pct)) < 1e-9


def rollup_cluster_query(
    params: EstimationParams,
    *,
    since: int,
    until: int,
    sites: list[str] | None = None,
    by_hour: bool = False,
) -> tuple[str, dict[str, Any]]:
    where, binds = _site_filter(sites)
    sql = ROLLUP_CLUSTERS_SQL.format(
        where=where, hour="hour" if by_hour else "0", hour_key=", hour" if by_hour else ""
    )
    binds.update(_rollup_binds(params, since, until))
    return sql, binds


def rollup_nodes_query(
    params: EstimationParams, *, since: int, until: int, sites: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    where, binds = _site_filter(sites)
    binds.update(_rollup_binds(params, since, until))
    return ROLLUP_NODES_SQL.format(where=where), binds


def _rollup_binds(params: EstimationParams, since: int, until: int) -> dict[str, Any]:
    # Reports ask for whole UTC days, so `since` is a day start and day >= since is exact.
    return {
        "since_day": since - since % 86400,
        "until": until,
        "require_clock": 1 if params.v("require_clock_sync") >= 0.5 else 0,
        "coverage_pct": round(params.v("coverage_min") * 100),
    }
