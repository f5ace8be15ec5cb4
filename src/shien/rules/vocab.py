"""Closed vocabularies shared by the schema, the batch columns and the rules.

Every code is a stable ASCII slug (or the Japanese name where the public data uses it, as for
industries and prefectures); its index in the tuple is its integer code in a batch column, so the
order of these tuples is part of the batch format: append, never reorder.
"""

from __future__ import annotations

from typing import Final

INDUSTRIES: Final[tuple[str, ...]] = (
    "製造業",
    "建設業",
    "運輸業",
    "卸売業",
    "小売業",
    "宿泊業",
    "飲食サービス業",
    "娯楽業",
    "サービス業",
    "ソフトウェア業",
    "情報処理サービス業",
    "ゴム製品製造業",
    "情報通信業",
    "その他",
)

PREFECTURES: Final[tuple[str, ...]] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip

PURPOSES: Final[dict[str, str]] = {
    "labor_saving": "省力化・人手不足の解消",
    "high_value_product": "革新的な製品・サービスの開発（高付加価値化）",
    "dx": "DX（デジタルトランスフォーメーション）",
    "gx": "GX（グリーントランスフォーメーション）",
    "overseas": "海外展開・インバウンド対応",
    "sales_channel": "販路開拓",
    "it_tools": "ITツールの導入による業務効率化",
    "invoice": "インボイス制度への対応",
    "security": "サイバーセキュリティ対策",
    "succession": "事業承継・M&A・廃業",
}

EXPENSE_CATEGORIES: Final[dict[str, str]] = {
    "machinery": "機械装置・システム構築費",
    "transport": "運搬費",
    "technology": "技術導入費",
    "ip": "知的財産権等関連経費",
    "outsourcing": "外注費・委託費",
    "expert": "専門家経費",
    "cloud": "クラウドサービス利用料",
    "materials": "原材料費",
    "overseas_travel": "海外旅費",
    "translation": "通訳・翻訳費",
    "advertising": "広告宣伝・販売促進費（広報費）",
    "website": "ウェブサイト関連費",
    "exhibition": "展示会等出展費",
    "travel": "旅費",
    "product_development": "新商品開発費",
    "software": "ソフトウェア購入費",
    "pc": "PC・タブレット等",
    "register": "レジ・券売機等",
    "ordering_software": "受発注ソフト（電子取引）",
    "security_service": "セキュリティサービス利用料",
    "catalog_product": "カタログ掲載製品",
    "installation": "導入関連費・導入経費",
    "documents": "資料購入費",
    "rental": "借料",
    "disposal": "設備処分費",
    "analysis": "消費動向等分析経費",
    "coordination": "事務費・専門家費（連携）",
    "closure": "廃業費",
}

INVOICE_FUNCTIONS: Final[dict[str, str]] = {
    "accounting": "会計",
    "ordering": "受発注",
    "payment": "決済",
}

SUCCESSION_TYPES: Final[dict[str, str]] = {
    "sogyo": "創業支援類型（事業を引き継いで創業）",
    "kotai": "経営者交代類型（親族内承継等）",
    "ma": "M&A類型（事業の引継ぎ）",
    "buyer": "買い手支援類型（M&Aで事業を譲り受ける）",
    "seller": "売り手支援類型（M&Aで事業を譲り渡す）",
    "haigyo": "廃業・再チャレンジ",
}

AUDIENCES: Final[dict[str, str]] = {
    "sme": "中小企業",
    "small": "小規模事業者",
    "support_org": "支援機関",
    "municipality": "自治体",
    "other": "その他",
}

MAX_YEN: Final = 10**12  # 1兆円: far above any program, low enough that sums stay exact in int64


def normalize_prefecture(value: object) -> object:
    """Accept 広島 for 広島県, 東京 for 東京都, full-width forms; leave anything else to validation."""
    import unicodedata

    if isinstance(value, str):
        value = unicodedata.normalize("NFKC", value).strip()
    if not isinstance(value, str) or value in PREFECTURES:
        return value
    for name in PREFECTURES:
        if name[:-1] == value and name != "北海道":
            return name
    return value


PURPOSE_CODES: Final[tuple[str, ...]] = tuple(PURPOSES)
EXPENSE_CODES: Final[tuple[str, ...]] = tuple(EXPENSE_CATEGORIES)
SUCCESSION_CODES: Final[tuple[str, ...]] = tuple(SUCCESSION_TYPES)
INVOICE_FUNCTION_CODES: Final[tuple[str, ...]] = tuple(INVOICE_FUNCTIONS)

# -- はい／いいえ: one vocabulary for JSON profiles, CSV/Parquet columns and the 診断 form ----------------
# Compared after NFKC normalization (全角 ＹＥＳ is yes), stripping and lower-casing.
TRUE_WORDS: Final[tuple[str, ...]] = ("true", "1", "yes", "y", "t", "on", "はい", "有", "○")
FALSE_WORDS: Final[tuple[str, ...]] = ("false", "0", "no", "n", "f", "off", "いいえ", "無", "×")
YES_NO_MESSAGE: Final = "true または false（はい／いいえ、yes／no、1／0 も可）を指定してください"


def parse_yes_no(word: str) -> bool | None:
    """True / False for a word of the vocabulary above, None for any other word (including blank)."""
    import unicodedata

    w = unicodedata.normalize("NFKC", word).strip().lower()
    if w in TRUE_WORDS:
        return True
    if w in FALSE_WORDS:
        return False
    return None


# -- 判定日時: the range every entry point accepts (the rules compute dates years before and after it) -----
AS_OF_FIRST_YEAR: Final = 2000
AS_OF_LAST_YEAR: Final = 2100
AS_OF_RANGE_MESSAGE: Final = (
    f"判定日時は{AS_OF_FIRST_YEAR}年1月1日から{AS_OF_LAST_YEAR}年12月31日までの日時を指定してください"
)

# -- numbering: what users see is counted from 1, as people count ("3行目", "2件目") -------------------


def line_label(number: int) -> str:
    """The N-th line of a file (JSON Lines, CSV with its header as line 1), counted from 1."""
    return f"{number}行目"


def item_label(number: int) -> str:
    """The N-th element of a JSON array, counted from 1."""
    return f"{number}件目"
