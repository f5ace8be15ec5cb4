"""中小企業省力化投資補助事業（カタログ型）."""

from __future__ import annotations

from shien.rules.frames.base import SME, Check, Context, Note, Outcome, decide, purpose_check
from shien.rules.registry import Frame
from shien.rules.vec import (
    FAIL,
    PASS,
    band_lookup,
    frac,
    minimum,
    mul_floor,
    not_,
    percent,
    where,
)

PRODUCT = Check(
    "catalog_product",
    "カタログに掲載された製品を導入すること",
    ok="カタログ掲載製品 {product:,}円",
    ng="カタログに掲載された省力化製品の購入費用が対象です",
    unknown="導入するカタログ掲載製品の価格を入力すると判定できます",
)
SHORTAGE = Check(
    "labor_shortage",
    "人手不足の状態にあること",
    ok="人手不足の状態にあります",
    ng="人手不足の状態（平均残業時間が月{overtime_hours}時間超、従業員の減少、求人の未充足など）にある事業者が対象です",
    unknown="人手不足の状態（平均残業時間が月{overtime_hours}時間超、前年比で従業員{employee_decrease}%以上減少、求人を出しても充足しない など）にあることの確認が必要です",
    source="shoryokuka.labor_shortage",
)
WAGE_REQUIREMENT = Check(
    "wage_requirement",
    "賃上げ要件（補助上限額の引上げ）",
    ok="賃上げ要件を達成する計画のため、補助上限額を{cap:,}円に引き上げます",
    ng="",
    source="shoryokuka.wage_requirement",
)

COMMITMENTS = (
    Note("commit_vendor", "カタログに掲載された販売事業者（省力化支援事業者）と共同で申請する"),
    Note(
        "commit_productivity",
        "労働生産性を年平均{productivity}%以上向上させる事業計画を策定する",
        source="shoryokuka.productivity_cagr",
    ),
    Note(
        "commit_wage",
        "補助事業終了時点で、申請時と比べて事業場内最低賃金を{wage_yen}円以上、給与支給総額を{payroll}%以上引き上げ、従業員に表明する",
        when="wage_special",
        source="shoryokuka.wage_requirement",
    ),
)
OBLIGATIONS = (
    Note("report_results", "製品の購入・導入後に実績報告を提出する"),
    Note(
        "report_effect",
        "{effect_years}年間、効果報告（労働生産性・賃上げの状況）を提出する",
        source="shoryokuka.effect_report_years",
    ),
    Note("refund_wage", "{shortfall}", when="wage_special", source="shoryokuka.wage_requirement.shortfall"),
)
TRACE = (
    Note("base", "補助対象経費 {base:,}円（製品本体価格 {product:,}円＋導入経費 {installation:,}円）"),
    Note("rate", "補助率 {rate}"),
    Note("calc", "計算額 {raw:,}円（円未満切捨て）"),
    Note("cap", "補助上限額 {cap:,}円（従業員{employees}人の区分）", when="no_wage_special"),
    Note(
        "cap_special",
        "補助上限額 {cap:,}円（従業員{employees}人の区分、賃上げ要件達成時）",
        when="wage_special",
    ),
    Note("result", "補助金額 {capped:,}円（計算額 {raw:,}円と補助上限額 {cap:,}円の小さい方）"),
)


def evaluate(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    caps = p["shoryokuka.caps"]
    rate = frac(p["shoryokuka.rate"])
    wage = p["shoryokuka.wage_requirement"]
    employees, _ = b.number("employees")
    product, installation = b.expense("catalog_product"), b.expense("installation")
    base = b.expenses(frame.expenses)
    wage_special = b.flag("wage_increase_special")
    maxima = [band["max_employees"] for band in caps]
    cap = where(
        wage_special,
        band_lookup(employees, maxima, [band["special"] for band in caps]),
        band_lookup(employees, maxima, [band["cap"] for band in caps]),
    )
    raw = mul_floor(base, rate)
    capped = minimum(raw, cap)
    checks = [
        (SME, ctx.sme),
        (purpose_check(frame, "省力化（人手不足の解消）"), b.has_any("purposes", frame.purposes)),
        (PRODUCT, ctx.spend(product > 0)),
        (SHORTAGE, b.tri("labor_shortage")),
    ]
    return decide(
        frame=frame,
        checks=checks,
        capped=capped,
        cap=cap,
        rate_index=b.full(0),
        rates=((rate, "省力化投資補助枠"),),
        facts={
            "product": product,
            "installation": installation,
            "base": base,
            "raw": raw,
            "capped": capped,
            "cap": cap,
            "wage_special": wage_special,
            "no_wage_special": not_(wage_special),
        },
        provisions=[(WAGE_REQUIREMENT, where(wage_special, PASS, FAIL), wage_special)],
        commitments=COMMITMENTS,
        obligations=OBLIGATIONS,
        trace=TRACE,
        sources=("shoryokuka.caps", "shoryokuka.rate"),
        constants={
            "productivity": percent(frac(p["shoryokuka.productivity_cagr"])),
            "wage_yen": wage["min_wage_increase_yen"],
            "payroll": percent(frac(wage["payroll_increase"])),
            "effect_years": p["shoryokuka.effect_report_years"],
            "shortfall": p["shoryokuka.wage_requirement.shortfall"],
            "overtime_hours": p["shoryokuka.labor_shortage"]["overtime_hours_per_month"],
            "employee_decrease": percent(frac(p["shoryokuka.labor_shortage"]["employee_decrease"])),
        },
    )
