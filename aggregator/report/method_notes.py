"""Method notes printed in the HTML and XLSX reports: estimators, exclusions, failure modes."""

# Prose tables: long lines read better than split sentences.
# ruff: noqa: E501

from __future__ import annotations

from typing import Final

_NOTES: Final[dict[str, list[tuple[str, str]]]] = {
    "en": [
        ("Unit of analysis",
         "A cluster is one scanner node's windows at one site on one UTC day (a visit, or a fixed "
         "node's day). Windows of one visit share people and phones and are strongly correlated, so "
         "intervals treat clusters, not windows, as the units."),
        ("Excluded windows",
         "Windows whose node reported an unsynchronised clock (quarter-hour alignment is then "
         "meaningless) and windows with less than coverage_min of the window actually scanned are "
         "not used; both are counted and shown."),
        ("Bluezone Android",
         "Counted by its 12-byte rolling ID (old app versions by their static ID). The phone advertises 15 s of "
         "every 30 s; in Doze it sits on or off for ~9 minutes at a time. Where the slot's capture histories are "
         "thick enough, detection is measured from them; otherwise per-window counts are divided by the "
         "probability of seeing a present phone in one window: p(tau) = a [(1-d) min(1,(tau+15)/30) + "
         "d min(1, 1/2 + tau/1080)], d the Doze share, a the share of installs that advertise. Counts are also "
         "divided by 1 - gate_loss (on-site phones the RSSI gate misses: a prior, or measured where ten or more "
         "registry sites carry bluezone_shown, the Bluezone users an inspector counted there; the parameter "
         "list names which). The per-slot count of distinct IDs is "
         "used only when android_slot_counts = 1 (stable offices)."),
        ("Turnover",
         "At markets and counters a window catches everyone present at any time in it, about (1 + W/dwell) times "
         "the people present at one instant (what a head count measures); counts are divided by that factor, "
         "dwell_s coming from the site type."),
        ("iPhones and Bluezone iOS",
         "Counted by address, which rotates about every 15 min: a phone present for a window of W "
         "seconds appears as about 1 + W/900 addresses, so per-window counts are divided by that "
         "factor and by the stratum's detection probability."),
        ("Head-count estimator (preferred)",
         "Bluezone phones / (people present x smartphone share). People present is the inspector's "
         "head count, or the registry's staff count. Interval: the larger of the between-cluster "
         "ratio-estimator variance (t quantile) and the within-visit variance (detection noise plus "
         "binomial smartphone ownership), plus the share's stated uncertainty. For one visit the interval is the "
         "within-visit (delta-method) one: r +/- 1.96 sqrt(Var B + r^2 Var M) / (H s), with Var B the binomial thinning of the "
         "corrected Bluezone count, N (1-p)/p per stratum, plus (B detection_cv)^2 for detection spread beyond binomial "
         "(measured on calibration visits as sqrt(max(0, cv_total^2 - binomial part)); 0 in all simulated site types), and "
         "Var M = H s (1-s) (averaged over the people sets that pass at markets and counters)."),
        ("iOS-internal estimator",
         "Bluezone iPhones / iPhones. Needs no head count, but measures adoption among iPhone users "
         "only, and background Bluezone iPhones are seen only through Apple's overflow bit."),
        ("BLE-denominator estimator (weakest)",
         "Bluezone phones / (iPhones / iOS share). Idle Android phones advertise nothing, so "
         "smartphones are inferred from iPhones alone; any error in the iOS share moves it directly."),
        ("Failure modes",
         "Smartphone share wrong for the site: head-count estimate scales with 1/share (override per "
         "site in the registry). Overflow bit collisions: another app with the same bit is counted as "
         "Bluezone iOS (iOS-internal and BLE estimates too high). iOS 2025 puts the overflow area in "
         "scan responses: passive scanning misses background Bluezone iPhones (too low). Doze share "
         "wrong: Android correction off by up to ~20 %. Passers-by at markets inflate iPhone counts "
         "unless the RSSI gate is calibrated. A value above 100 % means a parameter does not fit. "
         "A registry staff count used as the head count assumes the staff were present while the node listened: for a fixed node that also listens at night, report --by hour and read office hours. "
         "Estimates are validated by simulation (bench/accuracy.py), not by field ground truth."),
        ("Validation (bench/accuracy.py, 240 simulated visits through the replay pipeline)",
         "Detection was calibrated on 12 separate visits per site type (seeds 990000-990011). The variance design was chosen "
         "on one development block (visit seeds 910001-910240) and then run once, unchanged, on a fresh block (950001-950240). "
         "Head-count, development block: bias -1.1 pp, RMSE 8.1 pp, coverage 94.6 % (office -1.3 pp / 95.0 %, market "
         "-2.1 pp / 91.2 %, counter +0.1 pp / 97.5 %). Fresh block: bias -0.5 pp, RMSE 8.6 pp, coverage 97.1 % (office "
         "-0.7 pp / 95.0 %, market -0.9 pp / 98.8 %, counter +0.1 pp / 97.5 %). Counters see ~5 smartphone owners per visit: "
         "RMSE ~13 pp and intervals ~54 pp wide (thinning is modelled as fully correlated across a visit's windows, which "
         "overstates it). The earlier design added the total calibration spread on top of the thinning variance and covered "
         "99.6 % on a fresh block. With the default parameters instead of calibrated ones the head-count bias was +9 pp at "
         "offices and +13 pp at counters: calibrate the smartphone share and detection per site type. iOS-internal: ~85 % "
         "coverage at counters (passers-by's iPhones). BLE-denominator: +14 to +18 pp bias at counters."),
    ],
    "vi": [
        ("Đơn vị phân tích",
         "Một cụm là các cửa sổ của một máy quét tại một địa điểm trong một ngày UTC (một lượt kiểm "
         "tra, hoặc một ngày của máy cố định). Các cửa sổ trong một lượt có chung người và điện "
         "thoại nên tương quan mạnh; khoảng tin cậy lấy cụm, không lấy cửa sổ, làm đơn vị."),
        ("Cửa sổ bị loại",
         "Cửa sổ của máy có đồng hồ chưa đồng bộ và cửa sổ có thời gian quét thực tế dưới "
         "coverage_min không được dùng; cả hai đều được đếm và hiển thị."),
        ("Bluezone Android",
         "Đếm theo mã định danh 12 byte (phiên bản ứng dụng cũ theo mã cố định). Điện thoại phát 15 giây trong "
         "mỗi 30 giây; ở chế độ Doze máy bật hoặc tắt khoảng 9 phút mỗi lần. Khi lịch sử bắt gặp của khung 15 phút "
         "đủ dày, xác suất phát hiện được đo từ đó; nếu không, số đếm mỗi cửa sổ được chia cho xác suất thấy một "
         "máy có mặt trong một cửa sổ: p(tau) = a [(1-d) min(1,(tau+15)/30) + d min(1, 1/2 + tau/1080)]. Số đếm "
         "còn được chia cho 1 - gate_loss (máy có mặt bị ngưỡng RSSI bỏ sót: giá trị giả định, hoặc được đo khi "
         "từ mười địa điểm trở lên trong danh mục có bluezone_shown, số người dùng Bluezone mà cán bộ kiểm tra "
         "đếm được tại đó; danh sách tham số ghi rõ nguồn). Số mã khác nhau trong 15 phút chỉ "
         "dùng khi android_slot_counts = 1 (cơ quan ổn định)."),
        ("Người ra vào",
         "Ở chợ và quầy giao dịch, một cửa sổ thấy mọi người có mặt lúc nào đó trong cửa sổ, khoảng (1 + W/dwell) "
         "lần số người có mặt tại một thời điểm (điều mà việc đếm người đo); số đếm được chia cho hệ số này."),
        ("iPhone và Bluezone iOS",
         "Đếm theo địa chỉ, đổi khoảng 15 phút một lần: một máy có mặt trong cửa sổ W giây xuất hiện "
         "như khoảng 1 + W/900 địa chỉ; số đếm được chia cho hệ số này và xác suất phát hiện."),
        ("Ước lượng theo số người (ưu tiên)",
         "Số máy Bluezone / (số người có mặt x tỷ lệ dùng điện thoại thông minh). Số người do cán "
         "bộ kiểm tra đếm, hoặc số nhân viên trong danh mục. Khoảng tin cậy: lớn hơn trong hai "
         "phương sai giữa các cụm (phân vị t) và trong cụm (nhiễu phát hiện và sở hữu điện thoại). Với một lượt, "
         "khoảng tin cậy dùng phương sai trong lượt (phương pháp delta): nhiễu nhị thức của việc phát hiện, cộng phần dao "
         "động vượt nhị thức đo trên các lượt hiệu chỉnh (bằng 0 ở cả ba loại địa điểm mô phỏng), cộng sở hữu điện thoại."),
        ("Ước lượng nội bộ iOS",
         "Số iPhone có Bluezone / số iPhone. Không cần đếm người, nhưng chỉ đo trong người dùng "
         "iPhone; iPhone chạy nền chỉ thấy qua bit vùng tràn của Apple."),
        ("Ước lượng mẫu số BLE (yếu nhất)",
         "Số máy Bluezone / (số iPhone / tỷ lệ iOS). Điện thoại Android không phát gì khi không "
         "dùng Bluezone, nên số điện thoại suy ra từ iPhone; sai số của tỷ lệ iOS ảnh hưởng trực tiếp."),
        ("Các trường hợp sai",
         "Tỷ lệ điện thoại thông minh không đúng với địa điểm (chỉnh trong danh mục). Trùng bit vùng "
         "tràn với ứng dụng khác (ước lượng iOS quá cao). iOS mới chỉ đặt vùng tràn trong phản hồi "
         "quét: quét thụ động bỏ sót iPhone chạy nền (quá thấp). Người đi ngang qua chợ làm tăng số "
         "iPhone nếu ngưỡng RSSI chưa hiệu chỉnh. Giá trị trên 100 % nghĩa là tham số không phù hợp. "
         "Dùng số nhân viên trong danh mục làm số người giả định nhân viên có mặt khi máy quét nghe: với máy cố định nghe cả ban đêm, hãy xem báo cáo theo giờ (--by hour). "
         "Các ước lượng được kiểm định bằng mô phỏng (bench/accuracy.py)."),
        ("Kiểm định (bench/accuracy.py, 240 lượt mô phỏng qua quy trình phát lại)",
         "Xác suất phát hiện hiệu chỉnh trên 12 lượt riêng mỗi loại địa điểm. Mô hình phương sai được chọn trên một khối "
         "phát triển (hạt giống 910001-910240) rồi chạy một lần, không đổi, trên khối mới (950001-950240). Ước lượng theo số "
         "người, khối phát triển: sai lệch -1,1 điểm %, RMSE 8,1 điểm %, độ phủ 94,6 % (cơ quan 95,0 %, chợ 91,2 %, quầy "
         "97,5 %). Khối mới: sai lệch -0,5 điểm %, RMSE 8,6 điểm %, độ phủ 97,1 % (cơ quan 95,0 %, chợ 98,8 %, quầy 97,5 %). "
         "Ở quầy chỉ có khoảng 5 người dùng điện thoại thông minh mỗi lượt: RMSE ~13 điểm %, khoảng rộng ~54 điểm %. Với "
         "tham số mặc định thay vì hiệu chỉnh, sai lệch +9 điểm % ở cơ quan và +13 điểm % ở quầy: cần hiệu chỉnh theo loại "
         "địa điểm. Mẫu số BLE: sai lệch +14 đến +18 điểm % ở quầy."),
    ],
}  # fmt: skip


def method_notes(lang: str) -> list[tuple[str, str]]:
    """(heading, paragraph) pairs in `lang`."""
    return _NOTES["vi" if lang == "vi" else "en"]
