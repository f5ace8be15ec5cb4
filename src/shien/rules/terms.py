"""Each frame's terms as people read them: caps by band, rates and tiers, provisions, requirements.

Built from the same dated parameters the engine uses, for the program pages, the compare view, the
downloads and the jGrants-compatible API. No figure is written here: every number is read from
`registry().at(day)`, and each term carries the parameter it comes from and its status.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shien.rules.registry import Frame, ParamView, registry
from shien.rules.text import man_yen, period, rate, year_range
from shien.rules.vec import frac, percent
from shien.rules.vocab import EXPENSE_CATEGORIES


def _band_labels(maxima: list[int | None]) -> list[str]:
    labels, low = [], 0
    for top in maxima:
        if top is None:
            labels.append(f"{low}人以上")
        elif low == 0:
            labels.append(f"{top}人以下")
        else:
            labels.append(f"{low}〜{top}人")
        low = (top or 0) + 1
    return labels


def _src(p: ParamView, name: str) -> dict[str, Any]:
    entry = p.entry(name)
    return {"parameter": name, "status": entry.status, "note": entry.note, "reference": entry.reference.title}


def _caps_by_band(p: ParamView, name: str, special_label: str) -> dict[str, Any]:
    bands = p[name]
    labels = _band_labels([b["max_employees"] for b in bands])
    return {
        "kind": "by_employees",
        "special_label": special_label,
        "rows": [
            {"employees": label, "cap_yen": b["cap"], "special_yen": b.get("special")}
            for label, b in zip(labels, bands, strict=True)
        ],
        "source": _src(p, name),
    }


def _rates(*rows: tuple[str, str], source: dict[str, Any], tiers: list[str] | None = None) -> dict[str, Any]:
    return {
        "rows": [{"who": who, "rate": rate(frac(r))} for who, r in rows],
        "tiers": tiers or [],
        "source": source,
    }


def _monozukuri(frame: Frame, p: ParamView) -> dict[str, Any]:
    fid = frame.id
    r = p[f"monozukuri.{fid}.rate"]
    src = _src(p, f"monozukuri.{fid}.rate")
    if fid == "shoryokuka":
        tier = f"補助金額{man_yen(r['tier_threshold_yen'])}を超える部分は{rate(frac(r['over']))}"
        rates = _rates(
            ("中小企業者", r["base"]), ("小規模事業者・再生事業者", r["small"]), source=src, tiers=[tier]
        )
    elif fid == "kofukakachi":
        rates = _rates(
            ("中小企業者", r["base"]),
            ("小規模事業者・再生事業者", r["small"]),
            ("新型コロナ回復加速化特例", r["covid"]),
            source=src,
        )
    elif fid == "seicho":
        rates = _rates(("全事業者", r["base"]), source=src)
    else:
        rates = _rates(("中小企業者", r["base"]), ("小規模事業者", r["small"]), source=src)
    special = p["monozukuri.wage_special.requirements"]
    years = year_range(p["monozukuri.plan_years"])
    provisions = [
        {
            "name": "大幅賃上げ特例",
            "text": f"補助事業終了後{years}で給与支給総額を年平均{percent(frac(special['payroll_cagr']))}%以上増加させ、事業場内最低賃金を毎年{special['min_wage_annual_increase_yen']}円以上引き上げる事業者は補助上限額を引上げ（新型コロナ回復加速化特例の適用事業者を除く）",
            "source": _src(p, "monozukuri.wage_special.requirements"),
        }
    ]
    if fid == "kofukakachi":
        provisions.append(
            {"name": "新型コロナ回復加速化特例", "text": f"補助率 {rate(frac(r['covid']))}", "source": src}
        )
    premium = p["monozukuri.basic.min_wage_premium_yen"]
    program = registry().programs[frame.program]
    # 「17次公募に申請した事業者は18次公募に申請できない」: from the rounds' `excludes_later`
    exclusions = [
        f"{earlier.name}に申請した事業者は{later.name}に申請できない"
        for earlier in program.rounds
        for later_id in earlier.excludes_later
        if (later := program.round(later_id)) is not None
    ]
    requirements = [
        f"付加価値額（営業利益＋人件費＋減価償却費）の年平均成長率{percent(frac(p['monozukuri.basic.value_added_cagr']))}%以上",
        f"給与支給総額の年平均成長率{percent(frac(p['monozukuri.basic.payroll_cagr']))}%以上",
        f"事業場内最低賃金が地域別最低賃金＋{premium}円以上",
        f"上記（基本要件）を目指す{years}の事業計画に取り組むこと",
        "機械装置・システム構築費を含むこと（必須）",
        *exclusions,
    ]
    if fid == "shoryokuka":
        if p["monozukuri.shoryokuka.sier"]:
            requirements.append(
                "追加要件: ロボット単体の導入ではなく、外部のシステムインテグレータ（SIer）との連携などにより構築するロボットシステム等（オーダーメイド設備）であること"
            )
        entry = p.entry("monozukuri.shoryokuka.productivity_multiple")
        mark = "（※未確認）" if entry.unverified else ""
        requirements.append(f"追加要件: 事業計画期間内に労働生産性を{entry.value}倍以上にする計画{mark}")
    return {
        "caps": _caps_by_band(p, f"monozukuri.{fid}.caps", "大幅賃上げ特例適用時"),
        "rates": rates,
        "lower_limit_yen": p["monozukuri.lower_limit_yen"],
        "lower_limit_source": _src(p, "monozukuri.lower_limit_yen"),
        "provisions": provisions,
        "requirements": requirements,
    }


def _jizokuka(frame: Frame, p: ParamView) -> dict[str, Any]:
    cap = p["jizokuka.caps"][frame.id]
    invoice = p["jizokuka.invoice_special_yen"]
    r = p["jizokuka.rate"]
    rows = [("小規模事業者", r["base"])]
    if frame.id == "chingin":
        rows.append(("賃金引上げ枠のうち赤字事業者", r["chingin_deficit"]))
        premium = p["jizokuka.chingin.min_wage_premium_yen"]
        # the frames' summaries in the YAML say the same, with the figure typed in
        what = f"事業場内最低賃金を地域別最低賃金より+{premium}円以上とする事業者（既に達成している場合は現在の事業場内最低賃金より+{premium}円以上）"
    elif frame.id == "sogyo":
        years = p["jizokuka.sogyo.years_since_founding"]
        what = f"過去{years}年以内に「特定創業支援等事業」による支援を受け創業した事業者"
    else:
        what = frame.summary
    # 小規模事業者: 商業・サービス業 (小売業 stands for them) and 製造業その他 (製造業), from the law's parameters
    commerce, other = p["sme.小売業"]["small_employees_max"], p["sme.製造業"]["small_employees_max"]
    requirements = [
        f"小規模事業者であること（商業・サービス業（宿泊業・娯楽業を除く）は従業員{commerce}人以下、製造業その他は{other}人以下）",
        "商工会・商工会議所の支援を受けて経営計画を作成し、事業支援計画書（様式4）の交付を受けること",
        what,
    ]
    return {
        "caps": {
            "kind": "single",
            "special_label": "インボイス特例適用時",
            "rows": [{"employees": "—", "cap_yen": cap, "special_yen": cap + invoice}],
            "source": _src(p, "jizokuka.caps"),
        },
        "rates": _rates(*rows, source=_src(p, "jizokuka.rate")),
        "lower_limit_yen": None,
        "provisions": [
            {
                "name": "インボイス特例",
                "text": f"免税事業者から適格請求書発行事業者に転換する事業者は補助上限額に{man_yen(invoice)}を上乗せ",
                "source": _src(p, "jizokuka.invoice_special_yen"),
            }
        ],
        "requirements": requirements,
    }


def _it(frame: Frame, p: ParamView) -> dict[str, Any]:
    fid = frame.id
    common = [
        "事務局に登録されたITツールを、登録されたIT導入支援事業者と共同で申請すること",
        "ハードウェアのみの購入は対象外",
        f"クラウド利用料は最大{period(p['it_donyu.cloud_max_months'])}分",
    ]
    if fid == "tsujo":
        bands = p["it_donyu.tsujo.bands"]
        rows = [
            {
                "employees": f"{bands[0]['min_processes']}〜{bands[1]['min_processes'] - 1}プロセス",
                "cap_yen": bands[0]["upper"],
                "lower_yen": bands[0]["lower"],
            },
            {
                "employees": f"{bands[1]['min_processes']}プロセス以上",
                "cap_yen": bands[1]["upper"],
                "lower_yen": bands[1]["lower"],
            },
        ]
        return {
            "caps": {"kind": "by_processes", "rows": rows, "source": _src(p, "it_donyu.tsujo.bands")},
            "rates": _rates(
                ("中小企業・小規模事業者等", p["it_donyu.tsujo.rate"]), source=_src(p, "it_donyu.tsujo.rate")
            ),
            "lower_limit_yen": bands[0]["lower"],
            "provisions": [],
            "requirements": common,
        }
    if fid in ("invoice", "fukusu"):
        sw, pc, reg = p["it_donyu.invoice.software"], p["it_donyu.invoice.pc"], p["it_donyu.invoice.register"]
        rows = [
            {
                "employees": f"会計・受発注・決済ソフト（{sw['min_functions']}機能以上）",
                "cap_yen": sw["tier_threshold_yen"],
            },
            {"employees": f"同（{sw['min_functions_for_over']}機能以上）", "cap_yen": sw["cap"]},
            {"employees": "PC・タブレット等", "cap_yen": pc["cap"]},
            {"employees": "レジ・券売機等", "cap_yen": reg["cap"]},
        ]
        terms: dict[str, Any] = {
            "caps": {"kind": "by_item", "rows": rows, "source": _src(p, "it_donyu.invoice.software")},
            "rates": _rates(
                ("中小企業（ソフトウェア）", sw["rate"]),
                ("小規模事業者（ソフトウェア）", sw["small_rate"]),
                ("PC・タブレット等、レジ・券売機等", pc["rate"]),
                source=_src(p, "it_donyu.invoice.software"),
                tiers=[f"補助額{man_yen(sw['tier_threshold_yen'])}超の部分は{rate(frac(sw['over']))}"],
            ),
            "lower_limit_yen": None,
            "provisions": [],
            "requirements": common + ["補助下限なし"],
            # software, PC and register are capped each on its own: together at most their sum
            "max_cap_yen": sw["cap"] + pc["cap"] + reg["cap"],
        }
        if fid == "fukusu":
            f = p["it_donyu.fukusu"]
            per = p["it_donyu.fukusu.base_limits"]
            # ① scales with the members: each row is the limit per member (× 構成員数)
            terms["caps"]["rows"] = [
                {
                    "employees": f"会計・受発注・決済ソフト（{sw['min_functions']}機能以上）1者あたり × 構成員数",
                    "cap_yen": per["software_tier_per_member"],
                },
                {
                    "employees": f"同（{sw['min_functions_for_over']}機能以上）1者あたり × 構成員数",
                    "cap_yen": per["software_cap_per_member"],
                },
                {"employees": "PC・タブレット等 1者あたり × 構成員数", "cap_yen": per["pc_cap_per_member"]},
                {
                    "employees": "レジ・券売機等 1者あたり × 構成員数",
                    "cap_yen": per["register_cap_per_member"],
                },
            ]
            terms["caps"]["source"] = _src(p, "it_donyu.fukusu.base_limits")
            terms["caps"]["rows"] += [
                {
                    "employees": f"消費動向等分析経費（{man_yen(f['analysis_per_member'])}×構成員数。①＋②の上限）",
                    "cap_yen": f["group_cap"],
                },
                {"employees": "事務費・専門家費", "cap_yen": f["coordination_cap"]},
            ]
            # the most a consortium can receive: ①＋② up to their joint cap, and ③ beside it
            terms["max_cap_yen"] = f["group_cap"] + f["coordination_cap"]
            terms["requirements"] = [
                f"{f['min_members']}者以上の中小企業・小規模事業者等が連携すること",
                *common,
            ]
        return terms
    if fid == "denshi_torihiki":
        d = p["it_donyu.denshi_torihiki"]
        return {
            "caps": {
                "kind": "single",
                "rows": [{"employees": "—", "cap_yen": d["cap"]}],
                "source": _src(p, "it_donyu.denshi_torihiki"),
            },
            "rates": _rates(
                ("中小企業・小規模事業者等", d["sme_rate"]),
                ("その他（大企業等）", d["other_rate"]),
                source=_src(p, "it_donyu.denshi_torihiki"),
            ),
            "lower_limit_yen": None,
            "provisions": [],
            "requirements": [
                "発注者が費用を負担し、受注者の中小企業・小規模事業者等が無償で利用できるインボイス対応済の受発注ソフトであること"
            ],
        }
    s = p["it_donyu.security"]
    return {
        "caps": {
            "kind": "single",
            "rows": [{"employees": "—", "cap_yen": s["cap"], "lower_yen": s["lower"]}],
            "source": _src(p, "it_donyu.security"),
        },
        "rates": _rates(("中小企業・小規模事業者等", s["rate"]), source=_src(p, "it_donyu.security")),
        "lower_limit_yen": s["lower"],
        "provisions": [],
        "requirements": [
            f"IPA「サイバーセキュリティお助け隊サービスリスト」掲載サービスの利用料（最大{period(s['max_months'])}分）"
        ],
    }


def _shoryokuka(frame: Frame, p: ParamView) -> dict[str, Any]:
    wage = p["shoryokuka.wage_requirement"]
    return {
        "caps": _caps_by_band(p, "shoryokuka.caps", "賃上げ要件達成時"),
        "rates": _rates(("中小企業等", p["shoryokuka.rate"]), source=_src(p, "shoryokuka.rate")),
        "lower_limit_yen": None,
        "provisions": [
            {
                "name": "賃上げ要件",
                "text": f"補助事業終了時点で事業場内最低賃金+{wage['min_wage_increase_yen']}円以上、かつ給与支給総額+{percent(frac(wage['payroll_increase']))}%以上の場合、補助上限額を引上げ",
                "source": _src(p, "shoryokuka.wage_requirement"),
            }
        ],
        "requirements": [
            "人手不足の状態にあること",
            "カタログに掲載された製品を、掲載された販売事業者から購入し、共同で申請すること",
            f"労働生産性を年平均{percent(frac(p['shoryokuka.productivity_cagr']))}%以上向上させる事業計画",
        ],
    }


def _jigyo_shokei(frame: Frame, p: ParamView) -> dict[str, Any]:
    fid = frame.id
    a = p[f"jigyo_shokei.{fid}.amounts"]
    r = p[f"jigyo_shokei.{fid}.rate"]
    closure = p["jigyo_shokei.closure_topup_yen"]
    special = a.get("special")
    rows = [{"employees": "—", "cap_yen": a["cap"], "special_yen": special, "lower_yen": a["lower"] or None}]
    if fid == "senmonka":
        rates = _rates(
            ("買い手支援類型", r["buyer"]),
            ("売り手支援類型", r["seller"]),
            ("売り手支援類型（赤字・営業利益率低下）", r["seller_preferred"]),
            source=_src(p, f"jigyo_shokei.{fid}.rate"),
        )
    else:
        rates = _rates(
            ("中小企業者", r["base"]),
            ("小規模事業者・赤字・営業利益率低下・再生事業者", r["preferred"]),
            source=_src(p, f"jigyo_shokei.{fid}.rate"),
        )
    provisions = []
    if special:
        provisions.append(
            {
                "name": "賃上げによる上限引上げ",
                "text": f"事業場内最低賃金を{a['wage_premium_yen']}円以上引き上げる場合、補助上限額{man_yen(special)}",
                "source": _src(p, f"jigyo_shokei.{fid}.amounts"),
            }
        )
    if fid != "haigyo":
        provisions.append(
            {
                "name": "廃業費の上乗せ",
                "text": f"廃業を伴う場合、補助上限額に{man_yen(closure)}を上乗せ",
                "source": _src(p, "jigyo_shokei.closure_topup_yen"),
            }
        )
    return {
        "caps": {
            "kind": "single",
            "special_label": "賃上げ時",
            "rows": rows,
            "source": _src(p, f"jigyo_shokei.{fid}.amounts"),
        },
        "rates": rates,
        "lower_limit_yen": a["lower"] or None,
        "provisions": provisions,
        "requirements": [frame.summary],
        # the most the frame pays: the higher cap, with the 廃業費 top-up where it applies
        "max_cap_yen": max(a["cap"], special or 0) + (closure if fid != "haigyo" else 0),
    }


BUILDERS = {
    "monozukuri": _monozukuri,
    "jizokuka": _jizokuka,
    "it_donyu": _it,
    "shoryokuka": _shoryokuka,
    "jigyo_shokei": _jigyo_shokei,
}


def frame_terms(key: str, day: date) -> dict[str, Any] | None:
    """The terms of a grant frame on `day`, or None for a frame that is not a grant."""
    reg = registry()
    frame = reg.frame(key)
    builder = BUILDERS.get(frame.program)
    if builder is None:
        return None
    terms = builder(frame, reg.at(day))
    rows = terms["caps"]["rows"]
    terms.setdefault("max_cap_yen", max(max(r["cap_yen"], r.get("special_yen") or 0) for r in rows))
    terms["expenses"] = [EXPENSE_CATEGORIES[e] for e in frame.expenses]
    terms["unverified"] = any(
        isinstance(v, dict) and v.get("status") == "unverified"
        for v in (
            terms["caps"]["source"],
            terms["rates"]["source"],
            terms.get("lower_limit_source"),
            *[x["source"] for x in terms["provisions"]],
        )
    )
    return terms
