"""A small general-affairs glossary: the words employees use → the words regulations use.

Employees write 「有休」「給料日」「ボーナス」「ホテル代」「残業」; regulations write 「年次有給休暇」「賃金の支払日」
「賞与」「宿泊費」「時間外労働」. Lexical search cannot bridge that gap on its own, so a question is expanded with
the formal terms of every colloquial word it contains. Keys are matched as substrings of the NFKC-normalized,
lower-cased question. The list is about the domain (Japanese HR / 総務 vocabulary and common English HR terms),
not about any particular document set.
"""

from __future__ import annotations

import re
import unicodedata

GLOSSARY: dict[str, str] = {
    # --- 休暇・勤怠 ---
    "有休": "年次有給休暇", "有給": "年次有給休暇", "年休": "年次有給休暇", "年次休暇": "年次有給休暇",
    "半休": "半日 年次有給休暇", "時間休": "時間単位 年次有給休暇",
    "産休": "産前産後 休業", "育休": "育児休業", "介護休": "介護休業", "看護休暇": "子の看護休暇",
    "忌引": "慶弔休暇 死亡", "お葬式": "慶弔休暇 死亡", "葬儀": "慶弔休暇 死亡", "結婚休暇": "慶弔休暇 結婚",
    "病欠": "病気 休暇 欠勤", "風邪": "病気 休暇", "インフル": "病気 休暇", "体調不良": "病気 休暇",
    "寝坊": "遅刻", "遅れて": "遅刻 始業", "遅刻": "始業 遅刻", "早退": "終業 早退", "早上がり": "早退 終業",
    "中抜け": "休憩 フレキシブルタイム", "休み時間": "休憩時間", "昼休み": "休憩時間", "お昼": "休憩時間",
    "残業": "時間外労働 時間外 労働", "休日出勤": "休日労働", "休出": "休日労働",
    "深夜": "深夜 22時", "夜中": "深夜", "徹夜": "深夜", "夜遅く": "深夜", "夜勤": "深夜",
    "在宅": "在宅勤務 テレワーク", "リモート": "在宅勤務 テレワーク", "テレワーク": "在宅勤務",
    "フレックス": "フレックスタイム制", "コアタイム": "コアタイム フレキシブルタイム",
    "定時": "始業 終業 時刻 標準労働時間", "何時から": "始業 時刻", "何時まで": "終業 時刻",
    "休職": "休職", "長期休み": "休職 休暇", "裁判員": "裁判員 休暇",
    # --- 賃金・手当 ---
    "給料": "賃金 給与", "給与": "賃金", "月給": "賃金 基本給", "サラリー": "賃金", "手取り": "賃金 控除",
    "給料日": "賃金 支払日", "給与日": "賃金 支払日", "振込日": "支払日", "いつ振り込": "支払日",
    "ボーナス": "賞与", "昇給": "昇給", "ベースアップ": "昇給", "減給": "降給 制裁",
    "前借り": "非常時払い 賃金", "前払い": "非常時払い 仮払い",
    "通勤費": "交通手当 通勤", "定期代": "交通手当 通勤", "通勤手当": "交通手当",
    "割増": "割増賃金 手当", "残業代": "時間外労働手当", "深夜手当": "深夜労働手当",
    # --- 出張・経費 ---
    "ホテル": "宿泊費 宿泊", "宿泊": "宿泊費", "泊まり": "宿泊 宿泊費", "泊まる": "宿泊 宿泊費", "宿代": "宿泊費",
    "日当": "日当", "出張手当": "日当",
    "タクシー": "タクシー 交通手段", "新幹線": "交通手段 交通費", "飛行機": "交通手段 航空", "グリーン車": "交通手段 交通費",
    "電車": "交通費 交通手段", "レンタカー": "交通手段 自動車", "自家用車": "自動車 交通費", "マイカー": "自動車 交通費",
    "立替": "立替 仮払い 精算", "立て替え": "立替 仮払い 精算", "建て替え": "立替 仮払い 精算",
    "経費": "経費 精算 費用", "清算": "精算 清算", "精算": "精算 清算",
    "レシート": "領収書", "領収証": "領収書", "請求書": "請求書 電子取引",
    "仮払": "仮払い", "概算": "仮払い 概算",
    "セミナー": "研修費 研修", "研修": "研修費 研修", "カンファレンス": "研修費 研修", "勉強会": "研修",
    "本代": "書籍購入補助", "書籍": "書籍購入補助", "本を買": "書籍購入補助", "技術書": "書籍購入補助",
    "パソコン": "機材 PC 備品", "pc": "機材 備品", "モニター": "機材 備品", "ディスプレイ": "機材 備品",
    "ワクチン": "予防接種補助", "予防接種": "予防接種補助", "インフルエンザの注射": "予防接種補助",
    "健診": "健康診断", "人間ドック": "健康診断", "ストレスチェック": "ストレスチェック 健康診断",
    # --- 備品 ---
    "文房具": "消耗品 備品", "ボールペン": "消耗品 文房具 備品", "コピー用紙": "消耗品 備品",
    "備品": "備品", "台帳": "備品管理表", "管理表": "備品管理表", "壊れ": "故障 修理", "壊し": "故障 修理 破損", "故障": "故障 修理",
    "なくし": "紛失", "失くし": "紛失", "無くし": "紛失", "盗まれ": "盗難 紛失", "返却": "返却 返還",
    "私用": "私的 使用", "プライベート": "私的 使用", "持ち帰": "持ち出し 私的",
    # --- 人事・服務 ---
    "副業": "副業 兼業", "兼業": "副業 兼業", "バイト": "副業 兼業 アルバイト",
    "辞め": "退職", "退社": "退職", "やめ": "退職", "クビ": "解雇", "首に": "解雇", "定年": "定年",
    "パワハラ": "パワーハラスメント ハラスメント", "セクハラ": "セクシュアルハラスメント ハラスメント",
    "マタハラ": "妊娠 出産 ハラスメント", "いじめ": "ハラスメント",
    "入社": "採用 入社", "試用": "試用期間", "転勤": "就業場所 変更", "異動": "職務内容の変更",
    "懲戒": "懲戒 制裁", "処分": "懲戒 制裁", "福利厚生": "福利厚生",
    "引っ越": "住所 変更 届出", "住所変更": "住所 変更 届出", "結婚": "結婚 慶弔", "出産": "出産 産前産後",
    # --- English ---
    "pto": "annual leave vacation", "vacation": "annual leave", "day off": "leave", "days off": "leave",
    "sick": "sick leave", "doctor": "sick leave medical", "holiday": "federal holiday",
    "overtime": "overtime comp time", "comp time": "compensatory time", "comp hours": "compensatory time",
    "salary": "pay", "paycheck": "pay period", "payday": "pay period",
    "reimburse": "reimbursement expense", "expense": "reimbursement expense voucher", "receipt": "receipt expense",
    "hotel": "lodging", "per diem": "per diem meals incidental", "meals": "per diem meals",
    "flight": "airfare travel", "trip": "travel", "travel card": "government travel charge card",
    "laptop": "equipment laptop", "computer": "equipment laptop", "monitor": "equipment", "headset": "equipment",
    "remote": "remote work telework", "work from home": "telework remote", "wfh": "telework remote",
    "timesheet": "tock time tracking", "time tracking": "tock", "log my hours": "tock time",
    "parental leave": "paid parental leave", "maternity": "paid parental leave", "paternity": "paid parental leave",
    "health insurance": "benefits fehb health", "dental": "benefits fedvip", "retirement": "tsp retirement benefits",
    "quit": "leaving offboarding", "leaving": "offboarding", "resign": "offboarding",
}

_KEYS = sorted(GLOSSARY, key=len, reverse=True)

# Clock times in the late-night band (22:00–5:00) are 深夜 in Japanese labour rules.
_NIGHT = re.compile(r"(?:2[2-4]|[0-4])\s*時|午前\s*[0-4]\s*時")


def expansions(question: str) -> list[tuple[str, str]]:
    """(colloquial key, formal terms) pairs found in the question, longest keys first, no key inside another."""
    text = unicodedata.normalize("NFKC", question).lower()
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for key in _KEYS:
        start = text.find(key)
        if start < 0:
            continue
        end = start + len(key)
        if any(s <= start and end <= e for s, e in taken):
            continue
        taken.append((start, end))
        found.append((key, GLOSSARY[key]))
    night = _NIGHT.search(text)
    if night:
        found.append((night.group(0), "深夜 深夜業 22時"))
    return found
