"""持続化補助金: 通常枠, 賃金引上げ枠, 卒業枠, 後継者支援枠, 創業枠 (and the インボイス特例 on each)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from shien.rules.columns import EPOCH_ORDINAL
from shien.rules.frames.base import Check, Context, Note, Outcome, decide, purpose_check
from shien.rules.registry import Frame, ParamView
from shien.rules.text import man_yen
from shien.rules.vec import (
    FAIL,
    PASS,
    UNKNOWN,
    all_of,
    frac,
    is_true,
    minimum,
    mul_floor_indexed,
    not_,
    select_rate,
    tri,
    where,
)

SMALL = Check(
    "small_business",
    "小規模事業者であること",
    ok="従業員{employees}人 ≤ {small_max}人（{industry}の小規模事業者の基準）",
    ng="この補助金は小規模事業者が対象です（{industry}は従業員{small_max}人以下。現在{employees}人）",
    source="sme.{industry}",
)
HAS_EXPENSES = Check(
    "eligible_expenses",
    "補助対象経費があること",
    ok="補助対象経費 {eligible_total:,}円",
    ng="この枠の補助対象経費（機械装置等費、広報費、ウェブサイト関連費、展示会等出展費、旅費、新商品開発費、資料購入費、借料、設備処分費、委託・外注費）が入力されていません",
    unknown="補助対象経費（広報費、機械装置等費など）を入力すると、補助額を計算できます",
)
WEBSITE_NOT_ALONE = Check(
    "website_not_alone",
    "ウェブサイト関連費のみの申請でないこと",
    ok="ウェブサイト関連費以外の経費を含みます",
    ng="ウェブサイト関連費のみでは申請できません",
    unknown="ウェブサイト関連費のみでの申請はできません",
    source="jizokuka.website.limits",
)
WAGE_RAISE = Check(
    "chingin_wage",
    "事業場内最低賃金を+{premium}円以上引き上げる計画",
    ok="計画する事業場内最低賃金 {planned_wage:,}円 ≥ {wage_target:,}円（{wage_basis}＋{premium}円）",
    ng="計画する事業場内最低賃金 {planned_wage:,}円 が{wage_target:,}円（{wage_basis}＋{premium}円）に届きません",
    unknown="事業場内最低賃金を地域別最低賃金＋{premium}円以上（既に達成している場合は現在の事業場内最低賃金＋{premium}円以上）にする計画が必要です（{wage_hint}）",
    source="jizokuka.chingin.min_wage_premium_yen",
)
GRADUATE = Check(
    "sotsugyo_growth",
    "補助事業期間中に従業員数が小規模事業者の基準を超える計画",
    ok="事業終了時の従業員数の計画 {planned_employees}人 > {small_max}人",
    ng="事業終了時の従業員数の計画 {planned_employees}人 が小規模事業者の基準（{small_max}人）を超えません",
    unknown="補助事業の終了時点で常時使用する従業員数を{small_max}人より多くする計画が必要です",
    source="jizokuka.refund.rules",
)
SUCCESSOR = Check(
    "kokeisha_finalist",
    "アトツギ甲子園のファイナリスト等であること",
    ok="アトツギ甲子園のファイナリスト等に該当します",
    ng="この枠はアトツギ甲子園のファイナリスト等となった事業者が対象です",
    unknown="アトツギ甲子園のファイナリスト等に該当することの確認が必要です",
)
STARTUP = Check(
    "sogyo_founded",
    "過去{sogyo_years}年以内に特定創業支援等事業の支援を受けて創業したこと",
    ok="創業から{sogyo_years}年以内で、特定創業支援等事業による支援を受けています",
    ng="この枠は過去{sogyo_years}年以内に特定創業支援等事業の支援を受けて創業した事業者が対象です",
    unknown="創業日（{sogyo_years}年以内）と特定創業支援等事業による支援の確認が必要です",
    source="jizokuka.sogyo.years_since_founding",
)
INVOICE_SPECIAL = Check(
    "invoice_special",
    "インボイス特例（補助上限額＋{invoice_man}）",
    ok="免税事業者から適格請求書発行事業者に転換するため、補助上限額を{invoice_man}上乗せします",
    ng="適格請求書発行事業者の登録を受けると、補助上限額が{invoice_man}上乗せされます",
    unknown="適格請求書発行事業者の登録（補助事業終了時点まで）を確認できれば、補助上限額が{invoice_man}上乗せされます",
    source="jizokuka.invoice_special_yen",
)

COMMITMENTS = (
    Note(
        "commit_form4",
        "商工会・商工会議所の経営指導員と経営計画を作成し、事業支援計画書（様式4）の交付を受ける",
        due="form4_deadline",
        when="form4_open",
    ),
    Note(
        "form4_passed",
        "事業支援計画書（様式4）の交付の受付締切（原則）を過ぎています。申請する場合は、すぐに地域の商工会・商工会議所に相談してください",
        due="form4_deadline",
        when="form4_passed",
        kind="confirm",
    ),
    Note("commit_apply", "GビズIDプライムを取得し、締切までに電子申請する", due="acceptance_end"),
    Note(
        "commit_wage",
        "補助事業終了時点で事業場内最低賃金を{wage_target:,}円以上にする（未達の場合は補助金を交付しない）",
        when="is_chingin",
        after="chingin_wage",
        source="jizokuka.refund.rules",
    ),
    Note(
        "commit_grow",
        "補助事業終了時点で常時使用する従業員数を{small_max}人より多くする（未達の場合は補助金を交付しない）",
        when="is_sotsugyo",
        after="sotsugyo_growth",
        source="jizokuka.refund.rules",
    ),
    Note(
        "commit_invoice",
        "補助事業終了時点まで適格請求書発行事業者の登録を維持する（確認できない場合は上乗せ分を交付しない）",
        when="invoice_applied",
        source="jizokuka.refund.rules",
    ),
)
OBLIGATIONS = (
    Note("project_period", "交付決定日から事業を実施し、期限までに完了する", due="project_end"),
    Note("report_results", "実績報告書を提出する", due="report_deadline"),
    Note(
        "report_effect",
        "補助事業終了後{effect_years}年の事業効果報告を提出する",
        source="jizokuka.effect_report_years",
    ),
)
TRACE = (
    Note(
        "base",
        "補助対象経費 {eligible_total:,}円（うちウェブサイト関連費 {website:,}円、算入 {website_counted:,}円）",
    ),
    Note("rate", "補助率 {rate}（{rate_reason}）"),
    Note("calc", "計算額 {raw:,}円（円未満切捨て）"),
    Note("cap", "補助上限額 {cap:,}円（{frame_name}）", when="no_invoice"),
    Note(
        "cap_invoice",
        "補助上限額 {cap:,}円（{frame_name} {frame_cap:,}円＋インボイス特例 {invoice_yen:,}円）",
        when="invoice_applied",
    ),
    Note("result", "補助金額 {capped:,}円（計算額 {raw:,}円と補助上限額 {cap:,}円の小さい方）"),
)


def _common(ctx: Context, p: ParamView, expenses: tuple[str, ...], form4: Any) -> dict[str, Any]:
    """What the five frames share: the business, its expenses, its wages and the invoice special."""
    b = ctx.batch
    rate_p = p["jizokuka.rate"]
    website = b.expense("website")
    others = b.expenses([c for c in expenses if c != "website"])
    premium = int(p["jizokuka.chingin.min_wage_premium_yen"])
    regional, regional_known = ctx.regional_wage
    current, current_known = b.number("min_hourly_wage_yen")
    planned, planned_known = b.number("planned_min_hourly_wage_yen")
    wage_target = where(current >= regional + premium, current, regional) + premium
    years = int(p["jizokuka.sogyo.years_since_founding"])
    founded, founded_known = b.number("founded_on")
    day = ctx.day
    limit = date(day.year - years, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
    exempt = is_true(b.tri("was_tax_exempt"))
    registered = b.tri("invoice_registered")
    invoice_applied = exempt & (registered == PASS)
    invoice_yen = int(p["jizokuka.invoice_special_yen"])
    limits = p["jizokuka.website.limits"]
    share = frac(limits["share_of_subsidy"])
    rates = {
        "base": (frac(rate_p["base"]), "小規模事業者"),
        "deficit": (frac(rate_p["chingin_deficit"]), "賃金引上げ枠の赤字事業者"),
    }
    return {
        "checks": [
            (SMALL, tri(ctx.small)),
            (
                purpose_check(ctx.registry.frame("jizokuka/tsujo"), "販路開拓"),
                b.has_any("purposes", ("sales_channel",)),
            ),
            (HAS_EXPENSES, ctx.spend(others + website > 0)),
            (WEBSITE_NOT_ALONE, ctx.spend(not_((website > 0) & (others == 0)))),
        ],
        "frame_checks": {
            "chingin": (
                WAGE_RAISE,
                tri(planned >= wage_target, planned_known & regional_known & current_known),
            ),
            "sotsugyo": (
                GRADUATE,
                tri(b.number("planned_employees")[0] > ctx.small_max, b.number("planned_employees")[1]),
            ),
            "kokeisha": (SUCCESSOR, b.tri("atotsugi_finalist")),
            "sogyo": (
                STARTUP,
                all_of(
                    tri(founded >= limit.toordinal() - EPOCH_ORDINAL, founded_known),
                    b.tri("tokutei_sogyo_support"),
                ),
            ),
        },
        "website": website,
        "others": others,
        "share": share,
        "max_website_subsidy": int(limits["max_subsidy_yen"]),
        "invoice_applied": invoice_applied,
        "invoice_add": where(invoice_applied, invoice_yen, 0),
        "invoice_state": where(invoice_applied, PASS, where(registered == UNKNOWN, UNKNOWN, FAIL)),
        "exempt": exempt,
        "deficit": is_true(b.tri("deficit")),
        "rates": rates,
        "facts": {
            "planned_wage": planned,
            "wage_target": wage_target,
            "planned_employees": b.number("planned_employees")[0],
            "website": website,
            "invoice_applied": invoice_applied,
            "no_invoice": not_(invoice_applied),
            "invoice_yen": invoice_yen,
            "form4_passed": bool(form4 and form4.form4_deadline and ctx.as_of > form4.form4_deadline),
            "form4_open": not (form4 and form4.form4_deadline and ctx.as_of > form4.form4_deadline),
            "wage_hint": ctx.wage_hint("所在地・現在の事業場内最低賃金・計画値を入力すると判定できます"),
            "wage_basis": where(current >= regional + premium, "現在の事業場内最低賃金", "地域別最低賃金"),
        },
        "constants": {
            "premium": premium,
            "sogyo_years": years,
            "invoice_man": man_yen(invoice_yen),
            "effect_years": p["jizokuka.effect_report_years"],
        },
    }


def evaluate(ctx: Context, frame: Frame) -> Outcome:
    b, fid = ctx.batch, frame.id
    p = ctx.rule_params(frame)
    form4 = ctx.round(ctx.registry.programs["jizokuka"], fid).round
    c = ctx.memo(f"jizokuka:{p.day}:{frame.expenses}", lambda: _common(ctx, p, frame.expenses, form4))
    frame_cap = int(p["jizokuka.caps"][fid])
    checks = list(c["checks"])
    if fid in c["frame_checks"]:
        checks.append(c["frame_checks"][fid])
    cap = c["invoice_add"] + frame_cap

    if fid == "chingin":
        rates: tuple[tuple[Fraction, str], ...] = (c["rates"]["base"], c["rates"]["deficit"])
        index = select_rate([(c["deficit"], 1)], 0, b.size)
    else:
        rates = (c["rates"]["base"],)
        index = b.full(0)

    # ウェブサイト関連費: its subsidy ≤ share (1/4) of the total and ≤ 50万円. With r the rate and O the other
    # expenses, the exact subsidy is min(r(O+W), rO/(1-share), rO + 50万円), floored once.
    fractions = tuple(r for r, _ in rates)
    others, website, share = c["others"], c["website"], c["share"]
    all_in = mul_floor_indexed(others + website, index, fractions)
    of_others = mul_floor_indexed(others, index, fractions)
    by_share = mul_floor_indexed(others * share.denominator, index, fractions) // (
        share.denominator - share.numerator
    )
    raw = minimum(all_in, minimum(by_share, of_others + c["max_website_subsidy"]))
    website_counted = minimum(website, others * share.numerator // (share.denominator - share.numerator))
    eligible_total = others + website
    capped = minimum(raw, cap)
    facts = {
        **c["facts"],
        "eligible_total": eligible_total,
        "website_counted": website_counted,
        "raw": raw,
        "capped": capped,
        "cap": cap,
        "frame_cap": frame_cap,
        "is_chingin": fid == "chingin",
        "is_sotsugyo": fid == "sotsugyo",
    }
    return decide(
        frame=frame,
        checks=checks,
        capped=capped,
        cap=cap,
        rate_index=index,
        rates=rates,
        facts=facts,
        provisions=[(INVOICE_SPECIAL, c["invoice_state"], c["exempt"])],
        commitments=COMMITMENTS,
        obligations=OBLIGATIONS,
        trace=TRACE,
        sources=("jizokuka.caps", "jizokuka.rate", "jizokuka.invoice_special_yen", "jizokuka.website.limits"),
        constants=c["constants"],
    )
