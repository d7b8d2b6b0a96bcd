"""SQL text for reports: windows are summed per cluster inside the database, never row by row.

The cluster query returns exactly the fields of `scanner.estimate.ClusterTotals` (plus an `hour`
key), computed the same way as `clusters_from_reports` does on the node: a test checks both agree.
"""

from __future__ import annotations

from typing import Any, Final

from scanner.estparams import EstimationParams

# One pass over the windows: first per (site, node, quarter-hour slot), because Bluezone
# Android's distinct-ID count is cumulative within a slot (take its MAX, never a SUM) and its
# detection probability depends on the slot's listening time; then per cluster.
# `why` is the exclusion reason: 'c' clock not synced, 'v' poor coverage, NULL used.
CLUSTERS_SQL: Final = """
WITH w AS (
  SELECT site, node, window_start, window_s, scanned_s, headcount,
         bz_android, bz_ios_fg, bz_ios_bg, bz_slot_android, iphone, phone,
         CASE WHEN :require_clock AND clock_synced = 0 THEN 'c'
              WHEN scanned_s < :coverage_min * window_s THEN 'v' END AS why
  FROM windows
  WHERE window_start >= :since AND window_start < :until {where}
),
s AS (
  SELECT site, node, window_start - window_start % 86400 AS day,
         {hour} AS hour,
         COUNT(*) AS windows,
         SUM(why IS NULL) AS used,
         SUM(why IS 'c') AS excl_clock,
         SUM(why IS 'v') AS excl_coverage,
         SUM(CASE WHEN why IS NULL THEN window_s ELSE 0 END) AS window_s_sum,
         SUM(CASE WHEN why IS NULL THEN bz_ios_fg ELSE 0 END) AS ios_fg,
         SUM(CASE WHEN why IS NULL THEN bz_ios_bg ELSE 0 END) AS ios_bg,
         SUM(CASE WHEN why IS NULL THEN iphone ELSE 0 END) AS iphone,
         SUM(CASE WHEN why IS NULL THEN phone ELSE 0 END) AS phone,
         SUM(CASE WHEN why IS NULL THEN bz_android ELSE 0 END) AS android_win,
         COALESCE(MAX(CASE WHEN why IS NOT 'c' THEN bz_slot_android END), 0) AS x,
         SUM(CASE WHEN why IS NOT 'c' THEN scanned_s ELSE 0 END) AS tau,
         SUM(headcount) AS head_sum,
         COUNT(headcount) AS head_n
  FROM w
  GROUP BY site, node, window_start / 900
),
p AS (
  SELECT *, (1 - :doze) * MIN(1.0, (tau + :burst) / :period)
            + :doze * MIN(1.0, (tau + :burst) / :doze_period) AS q
  FROM s
)
SELECT site, node, day, hour,
       SUM(windows), SUM(used), SUM(excl_clock), SUM(excl_coverage),
       SUM(window_s_sum), SUM(ios_fg), SUM(ios_bg), SUM(iphone), SUM(phone), SUM(android_win),
       COALESCE(SUM(CASE WHEN tau >= :min_slot THEN tau * x / q END), 0.0),
       COALESCE(SUM(CASE WHEN tau >= :min_slot THEN tau END), 0.0),
       COALESCE(SUM(CASE WHEN tau >= :min_slot THEN tau * q END), 0.0),
       CASE WHEN SUM(head_n) > 0 THEN 1.0 * SUM(head_sum) / SUM(head_n) END
FROM p
GROUP BY site, node, day, hour
ORDER BY site, node, day, hour
"""

# Node health for the coverage chart and the nodes sheet.
NODES_SQL: Final = """
SELECT node, site, COUNT(*) AS windows,
       SUM(CASE WHEN :require_clock AND clock_synced = 0 THEN 1 ELSE 0 END) AS excl_clock,
       SUM(CASE WHEN NOT (:require_clock AND clock_synced = 0)
                 AND scanned_s < :coverage_min * window_s THEN 1 ELSE 0 END) AS excl_coverage,
       SUM(scanned_s) / SUM(window_s) AS scanned_share,
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
