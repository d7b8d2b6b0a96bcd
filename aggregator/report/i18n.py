"""Report wording in Vietnamese (with diacritics) and English; one table, looked up by key."""

from __future__ import annotations

from typing import Final

LANGS: Final = ("vi", "en")

_T: Final[dict[str, tuple[str, str]]] = {
    # key: (vi, en)
    "title": ("Tỷ lệ cài đặt Bluezone", "Bluezone adoption"),
    "by": ("theo", "by"),
    "period": ("Thời gian", "Period"),
    "site": ("Địa điểm", "Site"),
    "name": ("Tên", "Name"),
    "type": ("Loại", "Type"),
    "district": ("Huyện/Thành phố", "District"),
    "commune": ("Xã/Phường", "Commune"),
    "day": ("Ngày", "Day"),
    "hour": ("Giờ ({tz})", "Hour ({tz})"),
    "day_local": ("Ngày ({tz})", "Day ({tz})"),
    "adoption_col": ("Tỷ lệ % [KTC 95 %]", "Adoption % [95 % CI]"),
    "adoption_low": ("Tỷ lệ (cận dưới)", "Adoption (low)"),
    "adoption_high": ("Tỷ lệ (cận trên)", "Adoption (high)"),
    "low": ("cận dưới", "low"),
    "high": ("cận trên", "high"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "adoption_pct": ("Tỷ lệ cài đặt (%)", "Adoption (%)"),
    "status": ("So với mục tiêu", "Against target"),
    "visits": ("Lượt khảo sát", "Visits"),
    "vs_target": ("So với mục tiêu", "Against target"),
    "more_visits": ("Cần thêm lượt", "More visits"),
    "psus": ("Lượt khảo sát", "Visits"),
    "note": ("Ghi chú", "Note"),
    "mixed": ("gộp (theo số người + nội bộ iOS)", "pooled (head-count + iOS-internal)"),
    "at_target": ("đạt mục tiêu", "at target"),
    "below_target": ("chưa đạt mục tiêu", "below target"),
    "cannot_tell": ("chưa kết luận được", "cannot tell yet"),
    "cannot_tell_n": (
        "chưa kết luận được: cần thêm ~{n} lượt",
        "cannot tell yet: ~{n} more visits",
    ),
    "cannot_tell_inf": (
        "chưa kết luận được: ước lượng sát mục tiêu, thêm lượt cũng khó quyết định",
        "cannot tell yet: the estimate sits on the target; more visits barely help",
    ),
    "no_data": ("không đủ dữ liệu", "not enough data"),
    "suppressed": ("ẩn (< {k} người có điện thoại)", "suppressed (< {k} smartphone owners)"),
    "population": (
        "Tỷ lệ ước lượng cho: người có điện thoại thông minh có mặt tại các địa điểm được khảo "
        "sát trong thời gian máy quét hoạt động, tính theo thời gian có mặt; gộp mọi loại địa "
        "điểm (địa điểm là đơn vị mẫu, lượt khảo sát là đơn vị cấp hai, loại địa điểm là tầng).",
        "Figures estimate: smartphone owners present at the audited sites while a node listened, "
        "person-time weighted; all site types pooled (sites as primary units, their visits as "
        "secondary units, site type as strata).",
    ),
    "post_stratified": (
        "Huyện/tỉnh có dân số theo sổ đăng ký: tỷ lệ được hậu phân tầng theo loại địa điểm.",
        "Districts/province with registry populations: post-stratified by site type.",
    ),
    "legend": (
        "Chú thích: tỷ lệ % [khoảng tin cậy 95 %]; phương pháp ghi bên cạnh; ! = địa điểm chưa "
        "đăng ký; ẩn = dựa trên ít hơn {k} người có điện thoại (vẫn được tính vào huyện/tỉnh).",
        "Legend: adoption % [95 % interval]; method beside it; ! = unregistered site; "
        "suppressed = rests on fewer than {k} smartphone owners (still counted in district and "
        "province figures).",
    ),
    "province_line": (
        "Toàn tỉnh: {value} ({method}); {status}.",
        "Province: {value} ({method}); {status}.",
    ),
    "detail": (
        "Chi tiết theo từng phương pháp (cho chuyên gia)",
        "Detail by method (for the expert)",
    ),
    "plan": ("Kế hoạch khảo sát theo huyện", "Visit planning by district"),
    "plan_where": ("Nên khảo sát", "Visit next"),
    "plan_none": ("không cần thêm lượt", "no more visits needed"),
    "ranked": ("Xếp hạng địa điểm", "Sites ranked"),
    "health_problems": ("Máy quét cần kiểm tra", "Nodes that need attention"),
    "no_problems": ("Mọi máy quét hoạt động bình thường.", "Every node is healthy."),
    "no_projection": ("không dự kiến được ngày: {why}", "no projected date: {why}"),
    "r_no usable windows": ("không có cửa sổ dùng được", "no usable windows"),
    "r_no windows": ("không có cửa sổ", "no windows"),
    "r_no head count (inspector or registry staff count)": (
        "không có số người (kiểm tra viên hoặc số nhân viên đăng ký)",
        "no head count (inspector or registry staff count)",
    ),
    "r_head count is zero": ("số người bằng 0", "head count is zero"),
    "r_no iPhones seen": ("không thấy iPhone nào", "no iPhones seen"),
    "windows": ("Cửa sổ", "Windows"),
    "used": ("Dùng", "Used"),
    "excluded": ("Loại bỏ", "Excluded"),
    "nodes": ("Máy quét", "Nodes"),
    "headcount": ("Theo số người", "Head-count"),
    "ios_internal": ("Nội bộ iOS", "iOS-internal"),
    "ble_denominator": ("Mẫu số BLE", "BLE-denominator"),
    "method": ("Phương pháp", "Method"),
    "estimate": ("Ước lượng", "Estimate"),
    "total": ("TỔNG", "TOTAL"),
    "na": ("không đủ dữ liệu", "not enough data"),
    "office": ("Cơ quan", "Office"),
    "market": ("Chợ", "Market"),
    "counter": ("Quầy giao dịch", "Counter"),
    "other": ("Khác", "Other"),
    "?": ("? (chưa đăng ký)", "? (unregistered)"),
    "excl_note": (
        "Cửa sổ bị loại: {clock} do đồng hồ chưa đồng bộ, {coverage} do thời gian quét không đủ.",
        "Excluded windows: {clock} clock not synced, {coverage} poor scan coverage.",
    ),
    "unregistered": (
        "Địa điểm chưa đăng ký (vẫn lưu, được đánh dấu): {sites}",
        "Unregistered sites (stored, flagged): {sites}",
    ),
    "target_line": (
        "Mục tiêu {target}: huyện: {d_at} đạt, {d_below} chưa đạt, {d_unsure} chưa kết luận "
        "(trên {d_n}); địa điểm: {s_at} đạt, {s_below} chưa đạt, {s_unsure} chưa kết luận "
        "(trên {s_n}). Đạt = cận dưới ≥ mục tiêu; chưa đạt = cận trên < mục tiêu.",
        "Target {target}: districts {d_at} at, {d_below} below, {d_unsure} cannot tell yet "
        "(of {d_n}); sites {s_at} at, {s_below} below, {s_unsure} cannot tell yet (of {s_n}). "
        "At = lower bound >= target; below = upper bound < target.",
    ),
    "trend_line": (
        "Xu hướng: {slope} điểm %/ngày; {status}.",
        "Trend: {slope} pp/day; {status}.",
    ),
    "trend_none": ("Xu hướng: {status}.", "Trend: {status}."),
    "reached": ("đã đạt mục tiêu", "target reached"),
    "on_track": (
        "dự kiến đạt ngày {date}, kịp hạn {deadline}",
        "projected {date}, by the deadline {deadline}",
    ),
    "rising": (
        "dự kiến đạt ngày {date}, trễ hạn {deadline}",
        "projected {date}, after the deadline {deadline}",
    ),
    "too_slow": (
        "tăng quá chậm: hơn 10 năm mới đạt mục tiêu",
        "rising too slowly: over 10 years to the target",
    ),
    "not_rising": ("không tăng, không dự kiến được ngày đạt", "not rising, no projected date"),
    "not_enough_data": ("chưa đủ số ngày để tính xu hướng", "too few days for a trend"),
    "params": ("Tham số (giá trị và nguồn)", "Parameters (value and source)"),
    "param": ("Tham số", "Parameter"),
    "value": ("Giá trị", "Value"),
    "source": ("Nguồn", "Source"),
    "chart_district": (
        "Tỷ lệ theo huyện (khoảng tin cậy 95 %)",
        "Adoption by district (95 % interval)",
    ),
    "chart_trend": ("Diễn biến theo ngày so với mục tiêu", "Trend by day against the target"),
    "chart_nodes": ("Độ phủ và tình trạng máy quét", "Node coverage and health"),
    "target": ("Mục tiêu", "Target"),
    "deadline": ("Hạn", "Deadline"),
    "trend_legend": ("Xu hướng (dự báo)", "Trend (projection)"),
    "adoption": ("Tỷ lệ cài đặt", "Adoption"),
    "share_used": ("tỷ lệ cửa sổ dùng được", "share of windows used"),
    "method_notes": ("Ghi chú phương pháp", "Method notes"),
    "summary": ("Tổng hợp", "Summary"),
    "node": ("Máy quét", "Node"),
    "scanned_share": ("Tỷ lệ thời gian quét", "Scanned share"),
    "restarts": ("Khởi động lại", "Restarts"),
    "first": ("Từ", "From"),
    "last": ("Đến", "To"),
    "mode": ("Chế độ", "Mode"),
    "excl_clock": ("Loại (đồng hồ)", "Excl. (clock)"),
    "excl_coverage": ("Loại (độ phủ)", "Excl. (coverage)"),
    "registered": ("Đã đăng ký", "Registered"),
    "generated": ("Báo cáo tạo bởi bluezone-audit", "Report generated by bluezone-audit"),
}


def reason(text: str | None, lang: str) -> str:
    """An estimator's 'not enough data: ...' reason in the report language."""
    if not text:
        return ""
    _, _, why = text.partition(": ")
    return f"{t('na', lang)}: {t('r_' + why, lang)}" if why and ("r_" + why) in _T else text


def t(key: str, lang: str, **fmt: object) -> str:
    """The text for `key` in `lang` ('vi' or 'en'); unknown keys come back unchanged."""
    pair = _T.get(key)
    if pair is None:
        return key[2:] if key.startswith("r_") else key
    text = pair[0] if lang == "vi" else pair[1]
    return text.format(**fmt) if fmt else text
