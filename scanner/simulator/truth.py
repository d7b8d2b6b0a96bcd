"""Ground truth of a simulated capture: per window, per visit and overall (pure).

Per window: people on site (any time in the window, mean over it, at its midpoint), smartphone
owners, iPhones, Bluezone users by stratum, the person-time weighted adoption share, and, per
counted signal ("bluezone/android", "iphone/all", ...), how many devices were heard with it above
the RSSI gate at least once (`heard`), with at least half of its packets at or above it
(`heard_median`, the counter's on-site rule) and at any strength (`heard_any`). The counter's
bounds follow from them:

    heard_median[s] <= count[s] <= heard[s] * (1 + ceil(window_s / rotation_s[s]))

because a device with half its packets over the gate has at least one key with half its packets
over it (so it yields a counted key), a device yields one key per identifier it used
in the window (IDs rotate at quarter hours, addresses on their own ~15 min clock), and adverts
below the gate are never counted. `rotation_s` per signal is in the truth (0: never rotates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from scanner.simulator.devices import IOS_ROTATION_S
from scanner.simulator.model import Scenario
from scanner.simulator.people import Person

# Shortest time a key of each counted signal stays the same (bounds above).
ROTATION_S: Final = {
    "bluezone/android": 900.0,  # quarter-hour IDs (a phone clock offset only moves the switch)
    "bluezone/android_v1": 0.0,  # static BLID
    "bluezone/ios_fg": IOS_ROTATION_S[0],
    "bluezone/ios_bg": IOS_ROTATION_S[0],
    "iphone/all": IOS_ROTATION_S[0],
    "phone/samsung": IOS_ROTATION_S[0],
}
BZ_STRATA: Final = ("android", "android_v1", "android_silent", "ios_fg", "ios_bg", "ios_silent")


@dataclass(frozen=True, slots=True)
class Truth:
    scenario: str
    seed: int
    start: float
    end: float
    window_s: int
    rssi_min_dbm: int
    mode: str
    adverts: int
    windows: list[dict[str, Any]]
    visits: list[dict[str, Any]]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "start": self.start,
            "end": self.end,
            "window_s": self.window_s,
            "rssi_min_dbm": self.rssi_min_dbm,
            "mode": self.mode,
            "adverts": self.adverts,
            "rotation_s": ROTATION_S,
            "summary": self.summary,
            "windows": self.windows,
            "visits": self.visits,
        }

    def window(self, start: int) -> dict[str, Any] | None:
        return next((w for w in self.windows if w["start"] == start), None)


def _overlap(p: Person, a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in p.intervals)


def _share(num: float, den: float) -> float | None:
    return round(num / den, 4) if den > 0 else None


def build_truth(
    sc: Scenario,
    persons: list[Person],
    heard: dict[tuple[int, str], set[int]],
    heard_any: dict[tuple[int, str], set[int]],
    heard_median: dict[tuple[int, str], set[int]],
    *,
    start: float,
    end: float,
    window_s: int,
    seed: int,
    adverts: int,
) -> Truth:
    onsite = [p for p in persons if p.onsite]
    windows = []
    w0 = int(start // window_s) * window_s
    for ws in range(w0, int(end), window_s):
        a, b = max(float(ws), start), min(float(ws + window_s), end)
        mid = ws + window_s / 2
        row: dict[str, Any] = {"start": ws, "covered_s": round(b - a, 3)}
        people = phones = bz_time = phone_time = person_time = 0.0
        n = {"people": 0, "smartphones": 0, "iphones": 0, "androids": 0, "bluezone": 0}
        strata = dict.fromkeys(BZ_STRATA, 0)
        at_mid = 0
        for p in onsite:
            ov = _overlap(p, a, b)
            if ov <= 0:
                continue
            person_time += ov
            n["people"] += 1
            at_mid += any(s <= mid < e for s, e in p.intervals)
            if p.phone != "none":
                n["smartphones"] += 1
                n["iphones" if p.phone == "iphone" else "androids"] += 1
                phone_time += ov
                if p.bluezone:
                    n["bluezone"] += 1
                    strata[p.stratum] += 1
                    bz_time += ov
        people, phones = person_time / window_s, phone_time / window_s
        row.update(n)
        row["people_mean"] = round(people, 3)
        row["smartphones_mean"] = round(phones, 3)
        row["people_at_mid"] = at_mid
        row["bluezone_by_stratum"] = strata
        row["adoption_person_time"] = _share(bz_time, phone_time)
        row["adoption_per_person"] = _share(n["bluezone"], n["smartphones"])
        row["heard"] = {tag: len(heard.get((ws, tag), ())) for tag in ROTATION_S}
        row["heard_median"] = {tag: len(heard_median.get((ws, tag), ())) for tag in ROTATION_S}
        row["heard_any"] = {tag: len(heard_any.get((ws, tag), ())) for tag in ROTATION_S}
        windows.append(row)
    visits = [
        {
            "arrive": round(p.arrive, 3),
            "leave": round(p.leave, 3),
            "present_s": round(_overlap(p, start, end), 3),
            "phone": p.phone,
            "bluezone": p.bluezone,
            "stratum": p.stratum,
            "distance_m": round(p.distance_m, 2),
        }
        for p in onsite
    ]
    return Truth(
        sc.name,
        seed,
        start,
        end,
        window_s,
        sc.rssi_min_dbm,
        sc.mode,
        adverts,
        windows,
        visits,
        _summary(onsite, persons, start, end),
    )


def _summary(
    onsite: list[Person], persons: list[Person], start: float, end: float
) -> dict[str, Any]:
    phones = [p for p in onsite if p.phone != "none"]
    bz = [p for p in phones if p.bluezone]
    by = {s: sum(p.stratum == s for p in bz) for s in BZ_STRATA}
    t_phone = sum(_overlap(p, start, end) for p in phones)
    t_bz = sum(_overlap(p, start, end) for p in bz)
    out: dict[str, Any] = {
        "people": len(onsite),
        "passersby": len(persons) - len(onsite),
        "smartphones": len(phones),
        "iphones": sum(p.phone == "iphone" for p in phones),
        "androids": sum(p.phone == "android" for p in phones),
        "bluezone": len(bz),
        "bluezone_by_stratum": by,
        "adoption_per_person": _share(len(bz), len(phones)),
        "adoption_person_time": _share(t_bz, t_phone),
        "person_seconds": round(sum(_overlap(p, start, end) for p in onsite), 1),
        "smartphone_seconds": round(t_phone, 1),
        "bluezone_seconds": round(t_bz, 1),
    }
    for plat in ("android", "iphone"):
        ph = [p for p in phones if p.phone == plat]
        out[f"adoption_{plat}"] = _share(sum(p.bluezone for p in ph), len(ph))
    return out
