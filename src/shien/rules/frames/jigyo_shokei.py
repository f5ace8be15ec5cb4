"""事業承継・引継ぎ補助金: 経営革新枠, 専門家活用枠, 廃業・再チャレンジ枠."""

from __future__ import annotations

from fractions import Fraction

from shien.rules.frames.base import SME, Check, Context, Note, Outcome, decide, purpose_check
from shien.rules.registry import Frame
from shien.rules.text import man_yen
from shien.rules.vec import (
    FAIL,
    PASS,
    frac,
    is_true,
    minimum,
    mul_floor_indexed,
    select_rate,
    where,
)
from shien.rules.vocab import SUCCESSION_TYPES

TYPE = Check(
    "succession_type",
    "対象となる類型に当たること（{types_text}）",
    ok="事業承継の類型が対象に当たります",
    ng="この枠の対象は{types_text}です",
    unknown="事業承継の類型（{types_text}）の確認が必要です",
)
HAS_EXPENSES = Check(
    "eligible_expenses",
    "補助対象経費があること",
    ok="補助対象経費 {base:,}円",
    ng="この枠の補助対象経費が入力されていません",
    unknown="補助対象経費を入力すると、補助額を計算できます",
)
LOWER = Check(
    "lower_limit",
    "補助金額が下限額以上であること",
    ok="補助金額 {capped:,}円 ≥ 下限額 {lower:,}円",
    ng="補助金額 {capped:,}円 が下限額 {lower:,}円 に届きません",
    unknown="経費を入力すると、補助金額が下限額 {lower:,}円 以上か判定できます",
)
WAGE = Check(
    "wage_special",
    "賃上げによる補助上限額の引上げ（事業場内最低賃金＋{wage_premium}円）",
    ok="一定の賃上げを行うため、補助上限額を{cap:,}円に引き上げます",
    ng="",
    source="jigyo_shokei.keiei_kakushin.amounts",
)
CLOSURE = Check(
    "closure_topup",
    "廃業費の上乗せ（＋{closure_man}）",
    ok="廃業を伴うため、廃業費として補助上限額に{closure_man}を上乗せします",
    ng="",
    source="jigyo_shokei.closure_topup_yen",
)

COMMITMENTS = (
    Note("commit_gbiz", "GビズIDプライムを取得し、jGrantsで締切までに申請する", due="acceptance_end"),
    Note(
        "commit_wage",
        "補助事業期間中に事業場内最低賃金を{wage_premium}円以上引き上げる",
        when="wage_special",
        source="jigyo_shokei.keiei_kakushin.amounts",
    ),
)
OBLIGATIONS = (
    Note("report_results", "補助事業を実施し、実績報告を提出する"),
    Note("report_status", "補助事業終了後、事業化状況報告を提出する"),
)
TRACE = (
    Note("base", "補助対象経費 {base:,}円"),
    Note("rate", "補助率 {rate}（{rate_reason}）"),
    Note("calc", "計算額 {raw:,}円（円未満切捨て）"),
    Note("cap", "補助上限額 {cap:,}円"),
    Note("result", "補助金額 {capped:,}円（計算額 {raw:,}円と補助上限額 {cap:,}円の小さい方）"),
)


def evaluate(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    fid = frame.id
    amounts = p[f"jigyo_shokei.{fid}.amounts"]
    rate_p = p[f"jigyo_shokei.{fid}.rate"]
    closure_topup = int(p["jigyo_shokei.closure_topup_yen"])
    base = b.expenses(frame.expenses)
    closure = b.expense("closure")

    deficit = is_true(b.tri("deficit"))
    margin = is_true(b.tri("operating_margin_decline"))
    revital = is_true(b.tri("revitalization"))
    if fid == "senmonka":
        buyer = is_true(b.has_any("succession_types", ["buyer"]))
        rates: tuple[tuple[Fraction, str], ...] = (
            (frac(rate_p["seller"]), "売り手支援類型"),
            (frac(rate_p["seller_preferred"]), "売り手支援類型（赤字・営業利益率低下）"),
            (frac(rate_p["buyer"]), "買い手支援類型"),
        )
        index = select_rate([(buyer, 2), (deficit | margin, 1)], 0, b.size)
    else:
        rates = (
            (frac(rate_p["base"]), "中小企業者"),
            (frac(rate_p["preferred"]), "小規模事業者・赤字・営業利益率低下・再生事業者"),
        )
        index = select_rate([(ctx.small | deficit | margin | revital, 1)], 0, b.size)

    wage_special = b.flag("wage_increase_special") if fid == "keiei_kakushin" else b.full(False)
    cap_base = where(wage_special, int(amounts.get("special", amounts["cap"])), int(amounts["cap"]))
    with_closure = (closure > 0) & (fid != "haigyo")
    cap = cap_base + where(with_closure, closure_topup, 0)
    raw = mul_floor_indexed(base, index, tuple(r for r, _ in rates))
    capped = minimum(raw, cap)
    lower = int(amounts["lower"])

    checks = [
        (SME, ctx.sme),
        (purpose_check(frame, "事業承継・M&A・廃業"), b.has_any("purposes", frame.purposes)),
        (TYPE, b.has_any("succession_types", frame.succession_types)),
        (HAS_EXPENSES, ctx.spend(base > 0)),
    ]
    if lower:
        checks.append((LOWER, ctx.spend(capped >= lower)))
    provisions = [(CLOSURE, b.full(PASS), with_closure)]
    if fid == "keiei_kakushin":
        provisions.append((WAGE, where(wage_special, PASS, FAIL), wage_special))
    return decide(
        frame=frame,
        checks=checks,
        capped=capped,
        cap=cap,
        rate_index=index,
        rates=rates,
        facts={
            "base": base,
            "raw": raw,
            "capped": capped,
            "cap": cap,
            "lower": lower,
            "wage_special": wage_special,
        },
        provisions=provisions,
        commitments=COMMITMENTS,
        obligations=OBLIGATIONS,
        trace=TRACE,
        sources=(f"jigyo_shokei.{fid}.amounts", f"jigyo_shokei.{fid}.rate"),
        constants={
            "types_text": "、".join(SUCCESSION_TYPES[t] for t in frame.succession_types),
            "wage_premium": amounts.get("wage_premium_yen", ""),
            "closure_man": man_yen(closure_topup),
        },
    )
