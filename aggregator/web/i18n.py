"""Dashboard wording (Vietnamese first, English), falling back to the report's own table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from aggregator.report.i18n import t as report_t

_T: Final[dict[str, tuple[str, str]]] = {
    "app": ("Theo dõi Bluezone", "Bluezone monitor"),
    "province": ("Toàn tỉnh", "Province"),
    "district_page": ("Huyện/Thành phố", "District"),
    "site_page": ("Địa điểm", "Site"),
    "nodes_page": ("Máy quét", "Nodes"),
    "logout": ("Đăng xuất", "Log out"),
    "switch_lang": ("English", "Tiếng Việt"),
    "login": ("Đăng nhập", "Log in"),
    "user": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"),
    "bad_login": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "too_many": (
        "Quá nhiều lần đăng nhập sai. Thử lại sau {minutes} phút.",
        "Too many wrong logins. Try again in {minutes} min.",
    ),
    "expired_form": (
        "Biểu mẫu đã hết hạn, vui lòng thử lại.",
        "The form expired; please try again.",
    ),
    "headline_province": ("Tỷ lệ cài đặt Bluezone toàn tỉnh", "Bluezone adoption, province"),
    "headline_district": ("Tỷ lệ cài đặt Bluezone: {name}", "Bluezone adoption: {name}"),
    "headline_site": ("Tỷ lệ cài đặt Bluezone: {name}", "Bluezone adoption: {name}"),
    "against": ("Mục tiêu {target}, hạn {deadline}", "Target {target}, deadline {deadline}"),
    "against_nodeadline": ("Mục tiêu {target}", "Target {target}"),
    "no_target": ("Chưa đặt mục tiêu (--target).", "No target set (--target)."),
    "interval": ("khoảng tin cậy 95 %", "95 % interval"),
    "by_method": ("theo phương pháp {method}", "method: {method}"),
    "districts_ranked": ("Các huyện/thành phố, xếp theo tỷ lệ", "Districts, ranked"),
    "sites_ranked": ("Các địa điểm, xếp theo tỷ lệ", "Sites, ranked"),
    "visits": ("Các lượt kiểm tra (theo ngày)", "Visits (by day)"),
    "trend": ("Diễn biến theo ngày", "Trend by day"),
    "projected": ("Dự kiến đạt mục tiêu: {date}", "Projected to reach the target: {date}"),
    "planning": ("Kế hoạch kiểm tra thêm", "Visit planning"),
    "planning_none": (
        "Không có huyện nào cần thêm lượt kiểm tra (hoặc chưa đặt mục tiêu).",
        "No district needs more visits (or no target is set).",
    ),
    "visit_next": ("Nên kiểm tra tiếp", "Visit next"),
    "visits_needed": ("Lượt cần thêm", "More visits"),
    "status": ("Đánh giá", "Verdict"),
    "node_health": ("Tình trạng máy quét", "Node health"),
    "updated": ("Cập nhật {time}", "Updated {time}"),
    "local_time": ("giờ địa phương {tz}", "local time, {tz}"),
    "live": ("tự động cập nhật khi có dữ liệu mới", "updates as new windows arrive"),
    "same_as": ("Cùng số liệu với lệnh:", "Same figures as:"),
    "sites_at": ("Địa điểm đạt", "Sites at target"),
    "districts_at": ("Huyện đạt", "Districts at target"),
    "below_n": ("dưới mục tiêu", "below"),
    "all_methods": ("Mọi phương pháp (dành cho chuyên gia)", "All methods (for experts)"),
    "last_seen": ("Lần cuối nhận", "Last seen"),
    "state": ("Trạng thái", "State"),
    "online": ("trực tuyến", "online"),
    "offline": ("ngoại tuyến", "offline"),
    "unknown": ("chưa rõ", "unknown"),
    "seq_gaps": ("Thiếu số thứ tự", "Seq gaps"),
    "duplicates": ("Trùng", "Duplicates"),
    "rejected": ("Bị từ chối", "Rejected"),
    "clock": ("Đồng hồ", "Clock"),
    "synced": ("đã đồng bộ", "synced"),
    "not_synced": ("chưa đồng bộ", "not synced"),
    "problems": ("Vấn đề", "Problems"),
    "no_problems": ("không", "none"),
    "silent": ("không gửi dữ liệu", "silent"),
    "clock_not_synced": ("đồng hồ chưa đồng bộ", "clock not synced"),
    "rejects_by_reason": ("Dữ liệu bị từ chối theo lý do", "Rejected payloads by reason"),
    "no_rejects": ("Không có dữ liệu bị từ chối.", "No rejected payloads."),
    "unattributed": ("không rõ máy quét", "no node in topic"),
    "count": ("Số lượng", "Count"),
    "reason": ("Lý do", "Reason"),
    "not_found": ("Không tìm thấy trang này.", "No such page."),
    "nothing_yet": ("Chưa có dữ liệu.", "No data yet."),
    "nodes_count": ("{n} máy quét, {p} có vấn đề", "{n} nodes, {p} with problems"),
    "coverage": ("Tỷ lệ thời gian quét", "Scanned share"),
    "pp_day": ("điểm %/ngày", "pp/day"),
}


def t(key: str, lang: str, **fmt: object) -> str:
    pair = _T.get(key)
    if pair is None:
        return report_t(key, lang, **fmt)
    text = pair[0] if lang == "vi" else pair[1]
    return text.format(**fmt) if fmt else text


def pct(value: float | None) -> str:
    """0.4231 -> '42.3' (the report's one decimal); '–' when there is no value."""
    return "–" if value is None else f"{100 * value:.1f}"


def local_time(epoch_s: float | None, tz: ZoneInfo, lang: str) -> str:
    if epoch_s is None:
        return "–"
    dt = datetime.fromtimestamp(epoch_s, UTC).astimezone(tz)
    return dt.strftime("%H:%M %d/%m/%Y" if lang == "vi" else "%Y-%m-%d %H:%M")


def day(iso: str | None, lang: str) -> str:
    if not iso:
        return "–"
    try:
        d = date.fromisoformat(iso)
    except ValueError:
        return iso
    return d.strftime("%d/%m/%Y") if lang == "vi" else d.isoformat()
