"""What `bzagg demo` shows besides the report: the simulation's truth per site, progress bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aggregator.report.columns import align

if TYPE_CHECKING:
    from aggregator.demo.plan import Plan, SegmentDone


def truth_by_site(done: list[SegmentDone]) -> dict[str, dict[str, float | None]]:
    acc: dict[str, dict[str, float]] = {}
    for sd in done:
        a = acc.setdefault(
            sd.segment.site, dict.fromkeys(("bz_s", "phone_s", "bz", "phones", "people"), 0.0)
        )
        s = sd.summary
        a["bz_s"] += s["bluezone_seconds"]
        a["phone_s"] += s["smartphone_seconds"]
        a["bz"] += s["bluezone"]
        a["phones"] += s["smartphones"]
        a["people"] += s["people"]
    return {
        site: {
            "adoption_person_time": round(a["bz_s"] / a["phone_s"], 4) if a["phone_s"] else None,
            "adoption_per_person": round(a["bz"] / a["phones"], 4) if a["phones"] else None,
            "people": a["people"],
            "smartphones": a["phones"],
            "bluezone": a["bz"],
        }
        for site, a in sorted(acc.items())
    }


def truth_text(truth: dict[str, dict[str, float | None]], plan: Plan) -> str:
    names = {s["id"]: s.get("district", "") for s in plan.sites}
    rows = [("site", "district", "people", "true adoption (person-time)", "(per person)")]
    for site, t in truth.items():
        pt, pp = t["adoption_person_time"], t["adoption_per_person"]
        rows.append(
            (
                site,
                str(names.get(site, "?")),
                f"{t['people']:.0f}",
                "-" if pt is None else f"{pt:.1%}",
                "-" if pp is None else f"{pp:.1%}",
            )
        )
    return align(rows)


class DemoProgress:
    """Rich progress bars on stderr: captures simulated, replayed through MQTT, windows stored."""

    def __init__(self, segments: int, *, enabled: bool) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(stderr=True),
        )
        self._bar.start()
        self._sim = self._bar.add_task("simulate site captures", total=segments, note="")
        self._rep = self._bar.add_task("scanner pipeline -> MQTT", total=segments, note="")
        self._sto = self._bar.add_task("aggregator store", total=None, note="windows")
        self._adverts = 0

    def simulated(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._sim)

    def replayed(self, adverts: int) -> None:
        if self._bar is not None:
            self._adverts += adverts
            self._bar.update(self._rep, advance=1, note=f"{self._adverts:,} adverts")

    def stored(self, n: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._sto, completed=n, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def truth_by_district(done: list[SegmentDone], plan: Plan) -> dict[str, float | None]:
    """Bluezone person-time over smartphone-owner person-time per district and for the province
    ("TOTAL"): the population the pooled figures estimate (docs/method.md)."""
    where = {s["id"]: str(s.get("district", "?")) for s in plan.sites}
    acc: dict[str, list[float]] = {}
    for sd in done:
        for key in (where.get(sd.segment.site, "?"), "TOTAL"):
            a = acc.setdefault(key, [0.0, 0.0])
            a[0] += sd.summary["bluezone_seconds"]
            a[1] += sd.summary["smartphone_seconds"]
    return {k: (round(b / o, 4) if o else None) for k, (b, o) in sorted(acc.items())}


def pooled_vs_truth(data: Any, truth: dict[str, float | None], lang: str) -> str:
    """The pooled district and province figures printed beside the simulation's truth."""
    from aggregator.report.text import fmt_estimate, method_label, verdict_label, verdict_of

    rows = [("district", "pooled estimate [95 % CI]", "method", "against target",
             "truth (person-time)", "truth inside")]  # fmt: skip
    for r in [*data.district_rows, data.total]:
        key = r.keys[0] if r.keys else "TOTAL"
        p, tr = r.pooled, truth.get(key)
        inside = "-" if tr is None or p.low is None or p.high is None else (
            "yes" if p.low <= tr <= p.high else "NO")  # fmt: skip
        v = verdict_of(data, r)
        rows.append((key, fmt_estimate(p, lang), method_label(p.method, lang),
                     "" if v is None else verdict_label(v, lang),
                     "-" if tr is None else f"{100 * tr:.1f}", inside))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
