"""ものづくり補助金: 省力化(オーダーメイド)枠, 高付加価値化枠 通常類型・成長分野進出類型, グローバル枠."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from shien.rules.frames.base import SME, Check, Context, Note, Outcome, decide, purpose_check
from shien.rules.registry import Frame, ParamView
from shien.rules.text import man_yen, rate, year_range
from shien.rules.vec import (
    FAIL,
    PASS,
    UNKNOWN,
    band_lookup,
    frac,
    is_true,
    minimum,
    mul_floor_indexed,
    negate,
    not_,
    percent,
    select_rate,
    tiered_indexed,
    tri,
    where,
)

PURPOSE_TEXT = {
    "shoryokuka": "省力化（人手不足の解消）",
    "kofukakachi": "革新的な製品・サービスの開発（高付加価値化）",
    "seicho": "DX・GXに資する製品・サービス開発",
    "global": "海外事業の拡大・強化",
}

MACHINERY = Check(
    "machinery_required",
    "機械装置・システム構築費を含むこと",
    ok="機械装置・システム構築費 {machinery:,}円 を含みます",
    ng="機械装置・システム構築費は必須の経費です",
    unknown="機械装置・システム構築費（必須）を含む経費を入力すると判定できます",
)
MIN_WAGE_PLAN = Check(
    "basic_min_wage",
    "基本要件③ 事業場内最低賃金を地域別最低賃金＋{premium}円以上にする計画",
    ok="計画する事業場内最低賃金 {planned_wage:,}円 ≥ {prefecture}の地域別最低賃金 {regional_wage:,}円＋{premium}円",
    ng="計画する事業場内最低賃金 {planned_wage:,}円 が{prefecture}の地域別最低賃金 {regional_wage:,}円＋{premium}円（{wage_target:,}円）に届きません",
    unknown="事業場内最低賃金を地域別最低賃金＋{premium}円以上（{wage_target_text}）とする計画が必要です（{wage_hint}）",
    source="monozukuri.basic.min_wage_premium_yen",
)
VALUE_ADDED_PLAN = Check(
    "basic_value_added",
    "基本要件① 付加価値額 年平均成長率{va_need}%以上の計画",
    ok="付加価値額の年平均成長率の計画 {va_plan_pct}% ≥ {va_need}%",
    ng="付加価値額の年平均成長率の計画 {va_plan_pct}% が要件の{va_need}%に届きません",
    unknown="付加価値額（営業利益＋人件費＋減価償却費）の年平均成長率{va_need}%以上の{plan_years}の事業計画が必要です",
    source="monozukuri.basic.value_added_cagr",
)
PAYROLL_PLAN = Check(
    "basic_payroll",
    "基本要件② 給与支給総額 年平均成長率{pay_need}%以上の計画",
    ok="給与支給総額の年平均成長率の計画 {pay_plan_pct}% ≥ {pay_need}%",
    ng="給与支給総額の年平均成長率の計画 {pay_plan_pct}% が要件の{pay_need}%に届きません",
    unknown="給与支給総額の年平均成長率{pay_need}%以上の事業計画が必要です",
    source="monozukuri.basic.payroll_cagr",
)
NOT_EARLIER_ROUND = Check(
    "not_applied_earlier_round",
    "同じ補助金の前の公募回に申請していないこと",
    ok="前の公募回（{excluded_rounds}）への申請はありません",
    ng="{excluded_rounds}に申請した事業者はこの公募回に申請できません",
    unknown="{excluded_rounds}に申請していないことの確認が必要です（申請した場合はこの公募回に申請できません）",
)
LOWER_LIMIT = Check(
    "lower_limit",
    "補助金額が下限額{lower_man}以上であること",
    ok="補助金額 {capped:,}円 ≥ 下限額 {lower:,}円",
    ng="補助金額 {capped:,}円 が下限額 {lower:,}円 に届きません",
    unknown="経費を入力すると、補助金額が下限額 {lower:,}円 以上か判定できます",
    source="monozukuri.lower_limit_yen",
)
WAGE_SPECIAL = Check(
    "wage_special",
    "大幅賃上げ特例（補助上限額の引上げ）",
    ok="大幅賃上げ特例により補助上限額を{cap:,}円に引き上げます",
    ng="新型コロナ回復加速化特例を適用する事業者は大幅賃上げ特例を併用できません",
    source="monozukuri.wage_special.requirements",
)
ORDERMADE_SIER = Check(
    "ordermade_sier",
    "オーダーメイド設備（SIerとの連携などにより構築するロボットシステム等）であること",
    ok="オーダーメイド設備です",
    ng="ロボット単体の導入は省力化(オーダーメイド)枠の対象外です",
    unknown="ロボット単体の導入ではなく、外部のシステムインテグレータ（SIer）との連携などにより構築するロボットシステム等（オーダーメイド設備）であることの確認が必要です",
    source="monozukuri.shoryokuka.sier",
)
ORDERMADE_PRODUCTIVITY = Check(
    "ordermade_productivity",
    "事業計画期間内に労働生産性を{productivity_multiple}倍以上にする計画",
    ok="事業計画期間内に労働生産性を{productivity_multiple}倍以上にする計画です",
    ng="省力化(オーダーメイド)枠は、事業計画期間内に労働生産性を{productivity_multiple}倍以上にする計画が必要です",
    unknown="省力化(オーダーメイド)枠の追加要件: 事業計画期間内に労働生産性を{productivity_multiple}倍以上にする計画であることの確認が必要です",
    source="monozukuri.shoryokuka.productivity_multiple",
)
COVID_SPECIAL = Check(
    "covid_special",
    "新型コロナ回復加速化特例（補助率{covid_rate}）",
    ok="新型コロナ回復加速化特例により補助率を{covid_rate}とします",
    ng="",
    source="monozukuri.kofukakachi.rate",
)

COMMITMENTS = (
    Note(
        "commit_value_added",
        "付加価値額（営業利益＋人件費＋減価償却費）を年平均{va_need}%以上増加させる{plan_years}の事業計画に取り組む",
        after="basic_value_added",
        source="monozukuri.basic.value_added_cagr",
    ),
    Note(
        "commit_payroll",
        "給与支給総額を年平均{pay_need}%以上増加させる",
        after="basic_payroll",
        source="monozukuri.basic.payroll_cagr",
    ),
    Note(
        "commit_min_wage",
        "事業場内最低賃金を地域別最低賃金＋{premium}円以上（現在は{wage_target_text}。地域別最低賃金が改定されると目標も上がります）の水準にする",
        after="basic_min_wage",
        source="monozukuri.basic.min_wage_premium_yen",
    ),
    Note(
        "warn_exclusive",
        "{round_name}に申請すると、{later_rounds}には申請できません（どちらの公募回で申請するか確認してください）",
        when="exclusive",
        kind="confirm",
    ),
    Note(
        "commit_announce",
        "賃上げ計画を従業員に表明する（表明していない場合は補助金の全額返還）",
        source="monozukuri.refund.rules",
    ),
    Note(
        "commit_wage_special",
        "大幅賃上げ特例: 補助事業終了後{plan_years}で給与支給総額を年平均{special_payroll}%以上増加させ、事業場内最低賃金を毎年{special_wage}円以上引き上げる",
        when="wage_special",
        source="monozukuri.wage_special.requirements",
    ),
    Note(
        "commit_gbiz", "GビズIDプライムを取得し、電子申請システムで締切までに申請する", due="acceptance_end"
    ),
)
OBLIGATIONS = (
    Note(
        "report_results",
        "補助事業実施期間内に設備投資等を行い、実績報告書を提出する",
        due="project_end",
        source="monozukuri.report_years",
    ),
    Note(
        "report_yearly",
        "補助事業の終了後{report_years}年間、毎年 事業化状況報告を提出する（基本要件等が未達の場合は補助金の返還義務があります）",
        source="monozukuri.report_years",
    ),
    Note("refund_payroll", "返還: {refund_payroll}", source="monozukuri.refund.rules"),
    Note("refund_min_wage", "返還: {refund_min_wage}", source="monozukuri.refund.rules"),
    Note(
        "refund_wage_special",
        "返還: {refund_wage_special}",
        when="wage_special",
        source="monozukuri.refund.rules",
    ),
)
TRACE = (
    Note("base", "補助対象経費 {base:,}円（{frame_name}の対象経費の合計）"),
    Note("rate", "補助率 {rate}（{rate_reason}）"),
    Note(
        "tier",
        "補助金額のうち{tier_man}を超える部分は補助率{over_rate}: {base:,}円 → {raw:,}円",
        when="tiered",
    ),
    Note("calc", "計算額 {raw:,}円（円未満切捨て）", when="untiered"),
    Note("cap", "補助上限額 {cap:,}円（従業員{employees}人の区分）", when="no_wage_special"),
    Note(
        "cap_special",
        "補助上限額 {cap:,}円（従業員{employees}人の区分、大幅賃上げ特例）",
        when="wage_special",
    ),
    Note("result", "補助金額 {capped:,}円（計算額 {raw:,}円と補助上限額 {cap:,}円の小さい方）"),
)


def _common(ctx: Context, p: ParamView) -> dict[str, Any]:
    """The 基本要件 checks and facts every ものづくり frame shares."""
    b = ctx.batch
    premium = int(p["monozukuri.basic.min_wage_premium_yen"])
    regional, regional_known = ctx.regional_wage
    planned, planned_known = b.number("planned_min_hourly_wage_yen")
    target = regional + premium
    va_need = frac(p["monozukuri.basic.value_added_cagr"])
    pay_need = frac(p["monozukuri.basic.payroll_cagr"])
    va, va_known = b.number("value_added_cagr_pct")
    pay, pay_known = b.number("payroll_cagr_pct")
    machinery = b.expense("machinery")
    special = p["monozukuri.wage_special.requirements"]
    refund = p["monozukuri.refund.rules"]
    return {
        "machinery_check": (MACHINERY, ctx.spend(machinery > 0)),
        "plan_checks": [
            (VALUE_ADDED_PLAN, tri(va * va_need.denominator >= va_need.numerator * 10_000, va_known)),
            (PAYROLL_PLAN, tri(pay * pay_need.denominator >= pay_need.numerator * 10_000, pay_known)),
            (MIN_WAGE_PLAN, tri(planned >= target, planned_known & regional_known)),
        ],
        "wage_requested": b.flag("wage_increase_special"),
        "covid": b.flag("covid_recovery_special"),
        "preferred": ctx.small | is_true(b.tri("revitalization")),
        "facts": {
            "machinery": machinery,
            "premium": premium,
            "planned_wage": planned,
            "wage_target": where(regional_known, target, 0),
            "wage_hint": ctx.wage_hint("所在地と計画値を入力すると判定できます"),
            "va_plan_pct": va,
            "pay_plan_pct": pay,
        },
        "constants": {
            "plan_years": year_range(p["monozukuri.plan_years"]),
            "va_need": percent(va_need),
            "pay_need": percent(pay_need),
            "special_payroll": percent(frac(special["payroll_cagr"])),
            "special_wage": special["min_wage_annual_increase_yen"],
            "report_years": p["monozukuri.report_years"],
            "refund_payroll": refund["payroll"],
            "refund_min_wage": refund["min_wage"],
            "refund_wage_special": refund["wage_special"],
        },
    }


def _texts(p: ParamView, fid: str) -> dict[str, str]:
    """The figures a frame's templates write about its rate and limits (built once a day)."""
    r = p[f"monozukuri.{fid}.rate"]
    tiered = fid == "shoryokuka"
    return {
        "tier_man": man_yen(int(r["tier_threshold_yen"])) if tiered else "",
        "over_rate": rate(frac(r["over"])) if tiered else "",
        "covid_rate": rate(frac(r["covid"])) if fid == "kofukakachi" else "",
        "lower_man": man_yen(int(p["monozukuri.lower_limit_yen"])),
        "rate_detail": (
            f"補助金額{man_yen(int(r['tier_threshold_yen']))}を超える部分は{rate(frac(r['over']))}"
            if tiered
            else ""
        ),
    }


def evaluate(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    fid = frame.id
    c = ctx.memo(f"monozukuri:{p.day}", lambda: _common(ctx, p))
    caps = p[f"monozukuri.{fid}.caps"]
    rate_p = p[f"monozukuri.{fid}.rate"]
    lower = int(p["monozukuri.lower_limit_yen"])
    employees, _ = b.number("employees")

    wage_requested = c["wage_requested"]
    covid = c["covid"] if fid == "kofukakachi" else b.full(False)
    wage_special = wage_requested & not_(covid)

    program = ctx.registry.programs["monozukuri"]
    info = ctx.round(program, fid)
    earlier = [r for r in program.rounds if info.round is not None and info.round.id in r.excludes_later]
    excluded = [f"monozukuri/{r.id}" for r in earlier]

    checks: list[tuple[Check, np.ndarray]] = [
        (SME, ctx.sme),
        (purpose_check(frame, PURPOSE_TEXT[fid]), b.has_any("purposes", frame.purposes)),
        c["machinery_check"],
        *c["plan_checks"],
    ]
    if excluded:
        checks.append((NOT_EARLIER_ROUND, negate(b.has_any("applied_rounds", excluded))))
    if fid == "shoryokuka":
        # 追加要件: the profile does not describe the equipment or the plan's productivity, so both
        # are conditions to confirm for everyone (never a failure, never silently passed)
        if p["monozukuri.shoryokuka.sier"]:
            checks.append((ORDERMADE_SIER, b.full(UNKNOWN)))
        checks.append((ORDERMADE_PRODUCTIVITY, b.full(UNKNOWN)))
    current = info.round
    later = [r for r in program.rounds if current is not None and r.id in current.excludes_later]

    # rate: index 0 is the base rate, 1 the preferential one
    preferred = c["preferred"]
    rates: tuple[tuple[Fraction, str], ...]
    if fid == "shoryokuka":
        rates = ((frac(rate_p["base"]), "中小企業者"), (frac(rate_p["small"]), "小規模事業者・再生事業者"))
        index = select_rate([(preferred, 1)], 0, b.size)
    elif fid == "kofukakachi":
        rates = (
            (frac(rate_p["base"]), "中小企業者"),
            (frac(rate_p["small"]), "小規模事業者・再生事業者"),
            (frac(rate_p["covid"]), "新型コロナ回復加速化特例"),
        )
        index = select_rate([(preferred, 1), (covid, 2)], 0, b.size)
    elif fid == "seicho":
        rates = ((frac(rate_p["base"]), "成長分野進出類型"),)
        index = b.full(0)
    else:
        rates = ((frac(rate_p["base"]), "中小企業者"), (frac(rate_p["small"]), "小規模事業者"))
        index = select_rate([(ctx.small, 1)], 0, b.size)

    base = b.expenses(frame.expenses)
    texts = p.table(f"monozukuri:texts:{fid}", lambda p: _texts(p, fid))
    if fid == "shoryokuka":
        threshold = int(rate_p["tier_threshold_yen"])
        over = frac(rate_p["over"])
        raw = tiered_indexed(base, index, tuple(r for r, _ in rates), threshold, over)
        tiered_mask = raw > threshold
    else:
        threshold = 0
        raw = mul_floor_indexed(base, index, tuple(r for r, _ in rates))
        tiered_mask = b.full(False)

    maxima = [band["max_employees"] for band in caps]
    cap = where(
        wage_special,
        band_lookup(employees, maxima, [band["special"] for band in caps]),
        band_lookup(employees, maxima, [band["cap"] for band in caps]),
    )
    capped = minimum(raw, cap)
    checks.append((LOWER_LIMIT, ctx.spend(capped >= lower)))

    provisions = [
        (WAGE_SPECIAL, where(wage_special, PASS, FAIL), wage_requested),
    ]
    if fid == "kofukakachi":
        provisions.append((COVID_SPECIAL, b.full(PASS), covid))

    facts = {
        **c["facts"],
        "base": base,
        "raw": raw,
        "capped": capped,
        "cap": cap,
        "lower": lower,
        "wage_special": wage_special,
        "no_wage_special": not_(wage_special),
        "tiered": tiered_mask,
        "untiered": not_(tiered_mask),
        "exclusive": bool(later),
    }
    return decide(
        frame=frame,
        checks=checks,
        capped=capped,
        cap=cap,
        rate_index=index,
        rates=rates,
        facts=facts,
        provisions=provisions,
        commitments=COMMITMENTS,
        obligations=OBLIGATIONS,
        trace=TRACE,
        rate_detail=texts["rate_detail"],
        sources=(f"monozukuri.{fid}.caps", f"monozukuri.{fid}.rate", "monozukuri.lower_limit_yen"),
        constants={
            **c["constants"],
            "productivity_multiple": p["monozukuri.shoryokuka.productivity_multiple"],
            **texts,
            "excluded_rounds": "・".join(r.name for r in earlier),
            "round_name": current.name if current else "",
            "later_rounds": "・".join(r.name for r in later),
        },
    )
