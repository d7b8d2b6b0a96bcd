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
         "binomial smartphone ownership), plus the share's stated uncertainty. For one visit it is the "
         "within-visit (delta-method) one, half-width h = 1.96 sqrt(Var B + r^2 Var M) / M, with Var B the detection "
         "noise of the corrected Bluezone count (thinning and the error of the measured detection), the gate's per-phone "
         "misses, the spread of the priors (Doze share, gate loss, advertising shares) and (B detection_cv)^2, and Var M "
         "= H s (1-s) when the share is assumed. The half-width is applied on the log scale, r exp(-h/r) to r exp(h/r): "
         "every correction is a factor, so a low estimate's upper tail is the longer one. Estimate and bounds stay within "
         "0-100 %."),
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
         "unless the RSSI gate is calibrated. A raw ratio above 100 % is reported as 100 % with a model misfit "
         "and its reason (a head count or share too low, or phones outside the site counted). "
         "A registry staff count used as the head count assumes the staff were present while the node listened: for a fixed node that also listens at night, report --by hour and read office hours. "
         "Estimates are validated by simulation (bench/accuracy.py), not by field ground truth."),
        ("Validation (bench/accuracy.py, 900 simulated 20-minute visits through the replay pipeline)",
         "Blind: every simulation parameter (Doze share, silent iPhones, stays, neighbours outside the gate, smartphone "
         "and iOS shares, scan-only installs, old app versions, clock errors, fading, path loss, shadowing, phones in "
         "pockets) is drawn per visit from a wide range, and the estimator gets only what the field gives: site type, "
         "head count, smartphone owners asked (offices, counters), these parameters and 60 calibration visits. The "
         "design was fixed on development seeds, then run once on a fresh block (1000001-1000900). Head-count: bias "
         "-1.3 pp / RMSE 11.7 pp / coverage 95.0 % (offices), +0.7 / 11.4 / 97.7 % (markets, share assumed), +1.5 / "
         "16.0 / 93.0 % (counters); no stratum of any drawn parameter worse than 2.8 pp. A single 20-minute office "
         "visit (about 20 smartphone owners) cannot reach 6 pp: which phones the gate misses, which installs never "
         "advertise and which iPhones are silent are per-phone draws no data shows (a floor of about 11 pp). Districts "
         "pooled from 6 visits: RMSE 5.8 pp."),
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
         "khoảng tin cậy dùng phương sai trong lượt (phương pháp delta), nửa độ rộng h: nhiễu phát hiện, số máy có mặt bị "
         "ngưỡng RSSI bỏ sót, độ dao động của các giá trị giả định (tỷ lệ Doze, tỷ lệ bỏ sót của ngưỡng, tỷ lệ máy phát "
         "sóng) và detection_cv, cộng sở hữu điện thoại khi tỷ lệ là giả định. Nửa độ rộng được áp dụng trên thang log, "
         "từ r exp(-h/r) đến r exp(h/r): mọi hiệu chỉnh đều là phép nhân, nên ước lượng thấp có đuôi trên dài hơn. Ước "
         "lượng và hai cận luôn nằm trong 0-100 %."),
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
         "iPhone nếu ngưỡng RSSI chưa hiệu chỉnh. Tỷ số thô trên 100 % được báo là 100 % kèm cảnh báo mô hình không "
         "phù hợp và lý do (số người hoặc tỷ lệ quá thấp, hoặc máy bên ngoài địa điểm bị đếm). "
         "Dùng số nhân viên trong danh mục làm số người giả định nhân viên có mặt khi máy quét nghe: với máy cố định nghe cả ban đêm, hãy xem báo cáo theo giờ (--by hour). "
         "Các ước lượng được kiểm định bằng mô phỏng (bench/accuracy.py)."),
        ("Kiểm định (bench/accuracy.py, 900 lượt mô phỏng 20 phút qua quy trình phát lại)",
         "Kiểm định mù: mọi tham số mô phỏng (tỷ lệ Doze, iPhone im lặng, thời gian lưu lại, máy bên ngoài ngưỡng, tỷ lệ "
         "điện thoại thông minh và iOS, máy chỉ quét, phiên bản ứng dụng cũ, lệch đồng hồ, nhiễu fading, suy hao đường "
         "truyền, che chắn, máy trong túi) được rút ngẫu nhiên cho từng lượt trong khoảng rộng; bộ ước lượng chỉ nhận "
         "những gì thực địa có: loại địa điểm, số người, số người có điện thoại thông minh (cơ quan, quầy), các tham số "
         "này và 60 lượt hiệu chỉnh. Thiết kế được chốt trên các hạt giống phát triển, rồi chạy một lần trên khối mới "
         "(1000001-1000900). Ước lượng theo số người: sai lệch -1,3 điểm % / RMSE 11,7 điểm % / độ phủ 95,0 % (cơ quan), "
         "+0,7 / 11,4 / 97,7 % (chợ, tỷ lệ giả định), +1,5 / 16,0 / 93,0 % (quầy); không nhóm nào của tham số rút ngẫu "
         "nhiên lệch quá 2,8 điểm %. Một lượt 20 phút tại một cơ quan (khoảng 20 người có điện thoại thông minh) không "
         "thể đạt 6 điểm %: máy nào bị ngưỡng bỏ sót, bản cài nào không phát sóng và iPhone nào im lặng là ngẫu nhiên "
         "theo từng máy, không dữ liệu nào cho thấy (mức sàn khoảng 11 điểm %). Gộp 6 lượt thành một huyện: RMSE 5,8 "
         "điểm %."),
    ],
}  # fmt: skip


def method_notes(lang: str) -> list[tuple[str, str]]:
    """(heading, paragraph) pairs in `lang`."""
    return _NOTES["vi" if lang == "vi" else "en"]
