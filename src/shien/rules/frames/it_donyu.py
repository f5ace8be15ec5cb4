"""IT導入補助金: 通常枠, インボイス対応類型, 電子取引類型, 複数社連携IT導入枠, セキュリティ対策推進枠."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shien.rules.frames.base import SME, Check, Context, Note, Outcome, decide, purpose_check
from shien.rules.registry import Frame, ParamView
from shien.rules.text import man_yen, period_months, rate
from shien.rules.vec import (
    FAIL,
    PASS,
    UNKNOWN,
    Ints,
    frac,
    is_true,
    minimum,
    mul_floor,
    mul_floor_indexed,
    not_,
    select_rate,
    tiered_indexed,
    tri,
    where,
)

SOFTWARE = Check(
    "software_required",
    "登録されたITツール（ソフトウェア・クラウド）を含むこと",
    ok="ソフトウェア購入費・クラウド利用料 {software_total:,}円 を含みます",
    ng="ソフトウェア（ITツール）の導入が必要です（ハードウェアのみの購入は対象外）",
    unknown="導入するITツール（ソフトウェア・クラウド）の費用を入力すると判定できます",
)
PROCESSES = Check(
    "processes",
    "業務プロセスを{min_processes}つ以上含むITツールであること",
    ok="ITツールの業務プロセス数 {processes}",
    ng="ITツールは業務プロセスを{min_processes}つ以上含む必要があります",
    unknown="導入するITツールの業務プロセス数（登録ITツールの情報）の確認が必要です",
)
TSUJO_LOWER = Check(
    "lower_limit",
    "補助額が下限額以上であること",
    ok="補助額 {capped:,}円 ≥ 下限額 {lower:,}円",
    ng="補助額 {capped:,}円 が下限額 {lower:,}円 に届きません",
    unknown="費用を入力すると、補助額が下限額以上か判定できます",
    source="it_donyu.tsujo.bands",
)
TSUJO_BAND = Check(
    "tsujo_band",
    "{big_processes}プロセス以上（補助額{big_lower_man}以上{big_upper_man}以下）",
    ok="業務プロセスが{big_processes}以上のため、補助額の上限は{cap:,}円です",
    ng="業務プロセスが{big_processes}以上のITツールなら、補助額の上限が{big_upper_man}になります（現在は{big_lower_man}未満）",
    unknown="業務プロセスが{big_processes}以上のITツールなら、補助額の上限が{big_upper_man}になります",
    source="it_donyu.tsujo.bands",
)
INVOICE_FUNCTIONS = Check(
    "invoice_functions",
    "会計・受発注・決済のうち{min_functions}機能以上を有するソフトウェアであること",
    ok="インボイス対応の機能 {functions}機能",
    ng="会計・受発注・決済のいずれかの機能を有するソフトウェアが対象です",
    unknown="ソフトウェアが会計・受発注・決済のいずれかの機能を有することの確認が必要です",
    source="it_donyu.invoice.software",
)
TWO_FUNCTIONS = Check(
    "two_functions",
    "{two_functions}機能以上（補助額{tier_man}超〜{software_cap_man}）",
    ok="{two_functions}機能以上のため、ソフトウェアの補助額の上限は{software_cap_man}です",
    ng="会計・受発注・決済のうち{two_functions}機能以上を有するソフトウェアなら、補助額{tier_man}超（上限{software_cap_man}）の部分も対象になります",
    unknown="{two_functions}機能以上のソフトウェアなら、補助額{tier_man}超（上限{software_cap_man}）の部分も対象になります",
    source="it_donyu.invoice.software",
)
SME_RATE = Check(
    "sme_rate",
    "中小企業・小規模事業者等の補助率（{sme_rate}）",
    ok="中小企業・小規模事業者等に該当するため、補助率は{sme_rate}です",
    ng="中小企業・小規模事業者等に該当しないため、補助率は{other_rate}です",
    unknown="中小企業者であれば補助率は{sme_rate}です（資本金を入力すると判定できます。現在は{other_rate}で計算しています）",
    source="it_donyu.denshi_torihiki",
)
ORDERING = Check(
    "ordering_software",
    "インボイス対応済の受発注ソフトを導入すること",
    ok="受発注ソフト {ordering:,}円",
    ng="電子取引類型は、取引先の受注者が無償で利用できるインボイス対応済の受発注ソフトの導入が対象です",
    unknown="導入する受発注ソフトの費用を入力すると判定できます",
)
MEMBERS = Check(
    "consortium_members",
    "{min_members}者以上の中小企業・小規模事業者等が連携すること",
    ok="連携する事業者 {members}者 ≥ {min_members}者",
    ng="連携する事業者 {members}者 が{min_members}者に届きません",
    unknown="{min_members}者以上の中小企業・小規模事業者等の連携が必要です（連携する事業者数を入力すると判定できます）",
    source="it_donyu.fukusu",
)
HAS_EXPENSES = Check(
    "eligible_expenses",
    "補助対象経費があること",
    ok="補助対象経費 {base:,}円",
    ng="この枠の補助対象経費が入力されていません（PC・タブレット、レジ等のハードウェアのみの購入は対象外）",
    unknown="補助対象経費を入力すると、補助額を計算できます",
)
SECURITY = Check(
    "security_service",
    "サイバーセキュリティお助け隊サービスの利用であること",
    ok="セキュリティサービス利用料 {security:,}円",
    ng="IPA「サイバーセキュリティお助け隊サービスリスト」掲載サービスの利用料が対象です",
    unknown="お助け隊サービスの利用料を入力すると判定できます",
)

TOOL_COMMITMENTS = (
    Note("commit_tool", "事務局に登録されたITツールを、登録されたIT導入支援事業者と共同で申請する"),
    Note(
        "commit_gbiz",
        "GビズIDプライムを取得し、SECURITY ACTIONを宣言して締切までに交付申請する",
        due="acceptance_end",
    ),
    Note(
        "info_cloud",
        "クラウド利用料は最大{cloud_period}分までが補助対象です",
        kind="confirm",
        source="it_donyu.cloud_max_months",
    ),
)
APPLY_COMMITMENTS = (
    Note(
        "commit_gbiz",
        "GビズIDプライムを取得し、SECURITY ACTIONを宣言して締切までに交付申請する",
        due="acceptance_end",
    ),
)
SECURITY_COMMITMENTS = (
    Note(
        "commit_service",
        "IPA「サイバーセキュリティお助け隊サービスリスト」に掲載されたサービスを、そのサービスを提供するIT導入支援事業者と共同で申請する",
    ),
    *APPLY_COMMITMENTS,
)
COMMON_OBLIGATIONS = (
    Note("report_results", "交付決定後にITツールを契約・導入・支払いし、事業実績報告を提出する"),
    Note("report_effect", "事業実施効果報告（労働生産性の向上の状況等）を提出する"),
)
TRACE = (
    Note("base", "補助対象経費 {base:,}円"),
    Note("rate", "補助率 {rate}（{rate_reason}）"),
    Note("calc", "計算額 {raw:,}円（円未満切捨て）"),
    Note("cap", "補助上限額 {cap:,}円"),
    Note("result", "補助額 {capped:,}円（計算額 {raw:,}円と補助上限額 {cap:,}円の小さい方）"),
)
INVOICE_TRACE = (
    Note(
        "software",
        "ソフトウェア等 {software_base:,}円 × {rate}（補助額{threshold:,}円超の部分は{over_rate}）→ {software_raw:,}円、上限 {software_cap:,}円 → {software_subsidy:,}円",
    ),
    Note(
        "members_assumed",
        "連携する事業者数が未入力のため、上限額は最少の{members}者として計算しています",
        when="members_assumed",
    ),
    Note(
        "pc", "PC・タブレット等 {pc:,}円 × {pc_rate} → {pc_subsidy:,}円（上限 {pc_cap:,}円）", when="has_pc"
    ),
    Note(
        "register",
        "レジ・券売機等 {register:,}円 × {register_rate} → {register_subsidy:,}円（上限 {register_cap:,}円）",
        when="has_register",
    ),
    Note(
        "analysis",
        "消費動向等分析経費 {analysis:,}円 × {analysis_rate} → {analysis_subsidy:,}円（上限 {analysis_per_member_man}×{members}者）",
        when="is_fukusu",
    ),
    Note(
        "coordination",
        "事務費・専門家費 {coordination:,}円 × {coordination_rate} → {coordination_subsidy:,}円（上限 {coordination_cap:,}円）",
        when="is_fukusu",
    ),
    Note("result", "補助額 合計 {capped:,}円"),
)


def _texts(p: ParamView) -> dict[str, Any]:
    """The figures the templates of every IT導入 frame write, from the parameters (built once a day)."""
    bands, sw = p["it_donyu.tsujo.bands"], p["it_donyu.invoice.software"]
    pc, register, f = p["it_donyu.invoice.pc"], p["it_donyu.invoice.register"], p["it_donyu.fukusu"]
    d = p["it_donyu.denshi_torihiki"]
    hardware = rate(frac(pc["rate"]))
    if frac(pc["rate"]) != frac(register["rate"]):
        hardware = f"PC・タブレット等は{hardware}、レジ・券売機等は{rate(frac(register['rate']))}"
    else:
        hardware = f"PC・タブレット等、レジ・券売機等は{hardware}"
    analysis, coordination = rate(frac(f["analysis_rate"])), rate(frac(f["coordination_rate"]))
    consortium = (
        f"②消費動向等分析経費・③事務費・専門家費は{analysis}"
        if analysis == coordination
        else f"②消費動向等分析経費は{analysis}、③事務費・専門家費は{coordination}"
    )
    tier = f"補助額{man_yen(int(sw['tier_threshold_yen']))}超の部分は{rate(frac(sw['over']))}"
    return {
        "min_processes": bands[0]["min_processes"],
        "big_processes": bands[1]["min_processes"],
        "big_lower_man": man_yen(int(bands[1]["lower"])),
        "big_upper_man": man_yen(int(bands[1]["upper"])),
        "min_functions": sw["min_functions"],
        "two_functions": sw["min_functions_for_over"],
        "tier_man": man_yen(int(sw["tier_threshold_yen"])),
        "software_cap_man": man_yen(int(sw["cap"])),
        "over_rate": rate(frac(sw["over"])),
        "pc_rate": rate(frac(pc["rate"])),
        "register_rate": rate(frac(register["rate"])),
        "analysis_rate": analysis,
        "coordination_rate": coordination,
        "sme_rate": rate(frac(d["sme_rate"])),
        "other_rate": rate(frac(d["other_rate"])),
        "cloud_period": period_months(int(p["it_donyu.cloud_max_months"])),
        "invoice_rate_detail": f"{tier}。{hardware}",
        "fukusu_rate_detail": f"①インボイス対応類型と同様、{consortium}",
    }


def _outcome(
    ctx: Context, frame: Frame, checks: list[tuple[Check, Any]], capped: Ints, cap: Ints, **kw: Any
) -> Outcome:
    constants = {**ctx.rule_params(frame).table("it_donyu:texts", _texts), **kw.pop("constants", {})}
    return decide(
        frame=frame,
        checks=checks,
        capped=capped,
        cap=cap,
        facts=kw.pop("facts", {}),
        commitments=kw.pop("commitments", TOOL_COMMITMENTS),
        obligations=COMMON_OBLIGATIONS,
        constants=constants,
        **kw,
    )


def tsujo(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    bands = p["it_donyu.tsujo.bands"]
    rate = frac(p["it_donyu.tsujo.rate"])
    processes, processes_known = b.number("software_processes")
    software_total = b.expenses(["software", "cloud"])
    base = b.expenses(frame.expenses)
    raw = mul_floor(base, rate)
    small_band, big_band = bands[0], bands[1]
    big = processes_known & (processes >= big_band["min_processes"]) & (raw >= big_band["lower"])
    cap = where(big, big_band["upper"], small_band["upper"])
    lower = where(big, big_band["lower"], small_band["lower"])
    capped = minimum(raw, cap)
    checks = [
        (SME, ctx.sme),
        (purpose_check(frame, "ITツールの導入による業務効率化"), b.has_any("purposes", frame.purposes)),
        (SOFTWARE, ctx.spend(software_total > 0)),
        (PROCESSES, tri(processes >= small_band["min_processes"], processes_known)),
        (TSUJO_LOWER, ctx.spend(capped >= lower)),
    ]
    band_state = where(big, PASS, where(processes_known, FAIL, UNKNOWN))
    return _outcome(
        ctx,
        frame,
        checks,
        capped,
        cap,
        rate_index=b.full(0),
        rates=((rate, "通常枠"),),
        provisions=[(TSUJO_BAND, band_state, raw >= big_band["lower"])],
        trace=TRACE,
        facts={
            "base": base,
            "raw": raw,
            "lower": lower,
            "software_total": software_total,
            "processes": processes,
        },
        sources=("it_donyu.tsujo.bands", "it_donyu.tsujo.rate"),
    )


def _invoice_parts(ctx: Context, frame: Frame, limits: dict[str, Ints] | None = None) -> dict[str, Ints]:
    """①: software at its rate (小規模 a higher one) up to the tier threshold of subsidy and the `over`
    rate beyond (2+ functions), plus hardware (figures: `it_donyu.invoice.*`).

    `limits` replaces the one-business limits (tier threshold, software cap, PC cap, register cap), as
    複数社連携IT導入枠 does with limits per member × the number of members.
    """
    p, b = ctx.rule_params(frame), ctx.batch
    sw = p["it_donyu.invoice.software"]
    pc_p, reg_p = p["it_donyu.invoice.pc"], p["it_donyu.invoice.register"]
    if limits is None:
        limits = {
            "threshold": int(sw["tier_threshold_yen"]),
            "software_cap": int(sw["cap"]),
            "pc_cap": int(pc_p["cap"]),
            "register_cap": int(reg_p["cap"]),
        }
    functions = b.count("invoice_functions")
    functions_known = b.known["invoice_functions"]
    two = functions_known & (functions >= sw["min_functions_for_over"])
    software_base = b.expenses(["software", "cloud", "installation"])
    index = select_rate([(ctx.small, 1)], 0, b.size)
    threshold, over = limits["threshold"], frac(sw["over"])
    software_raw = tiered_indexed(
        software_base, index, (frac(sw["rate"]), frac(sw["small_rate"])), threshold, over
    )
    software_cap = where(two, limits["software_cap"], threshold)
    software_subsidy = minimum(software_raw, software_cap)
    pc, register = b.expense("pc"), b.expense("register")
    pc_cap, register_cap = limits["pc_cap"], limits["register_cap"]
    # hardware is eligible only together with software (ハードウェアのみの購入は対象外)
    with_software = b.expenses(["software", "cloud"]) > 0
    pc_subsidy = where(with_software, minimum(mul_floor(pc, frac(pc_p["rate"])), pc_cap), 0)
    register_subsidy = where(
        with_software, minimum(mul_floor(register, frac(reg_p["rate"])), register_cap), 0
    )
    return {
        "index": index,
        "threshold": threshold,
        "functions": functions,
        "functions_known": functions_known,
        "two": two,
        "software_base": software_base,
        "software_raw": software_raw,
        "software_cap": software_cap,
        "software_subsidy": software_subsidy,
        "pc": pc,
        "register": register,
        "pc_subsidy": pc_subsidy,
        "register_subsidy": register_subsidy,
        "pc_cap": pc_cap,
        "register_cap": register_cap,
        "has_pc": pc > 0,
        "has_register": register > 0,
    }


def _invoice_rates(ctx: Context, frame: Frame) -> tuple[tuple[object, str], ...]:
    sw = ctx.rule_params(frame)["it_donyu.invoice.software"]
    return ((frac(sw["rate"]), "中小企業"), (frac(sw["small_rate"]), "小規模事業者"))


def _invoice_checks(ctx: Context, frame: Frame, parts: dict[str, Ints]) -> list[tuple[Check, np.ndarray]]:
    b = ctx.batch
    return [
        (SME, ctx.sme),
        (purpose_check(frame, "インボイス制度への対応"), b.has_any("purposes", frame.purposes)),
        (SOFTWARE, ctx.spend(parts["software_base"] - b.expense("installation") > 0)),
        (
            INVOICE_FUNCTIONS,
            tri(
                parts["functions"] >= ctx.rule_params(frame)["it_donyu.invoice.software"]["min_functions"],
                parts["functions_known"],
            ),
        ),
    ]


def _two_state(parts: dict[str, Ints]) -> Any:
    return where(parts["two"], PASS, where(parts["functions_known"], FAIL, UNKNOWN))


def invoice(ctx: Context, frame: Frame) -> Outcome:
    b = ctx.batch
    parts = _invoice_parts(ctx, frame)
    capped = parts["software_subsidy"] + parts["pc_subsidy"] + parts["register_subsidy"]
    cap = parts["software_cap"] + parts["pc_cap"] + parts["register_cap"]
    return _outcome(
        ctx,
        frame,
        _invoice_checks(ctx, frame, parts),
        capped,
        cap,
        rate_index=parts["index"],
        rates=_invoice_rates(ctx, frame),
        # the 2-function rule matters once the software subsidy passes the tier threshold
        provisions=[(TWO_FUNCTIONS, _two_state(parts), parts["software_raw"] > parts["threshold"])],
        trace=INVOICE_TRACE,
        rate_detail=ctx.rule_params(frame).table("it_donyu:texts", _texts)["invoice_rate_detail"],
        facts={
            **parts,
            "software_total": parts["software_base"],
            "is_fukusu": b.full(False),
            "members_assumed": b.full(False),
        },
        sources=("it_donyu.invoice.software", "it_donyu.invoice.pc", "it_donyu.invoice.register"),
    )


def denshi_torihiki(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    d = p["it_donyu.denshi_torihiki"]
    ordering = b.expense("ordering_software")
    rates = ((frac(d["other_rate"]), "大企業等"), (frac(d["sme_rate"]), "中小企業・小規模事業者等"))
    index = select_rate([(is_true(ctx.sme), 1)], 0, b.size)
    raw = mul_floor_indexed(ordering, index, tuple(r for r, _ in rates))
    cap = b.full(int(d["cap"]))
    capped = minimum(raw, cap)
    checks = [
        (purpose_check(frame, "インボイス制度への対応"), b.has_any("purposes", frame.purposes)),
        (ORDERING, ctx.spend(ordering > 0)),
    ]
    return _outcome(
        ctx,
        frame,
        checks,
        capped,
        cap,
        rate_index=index,
        rates=rates,
        trace=TRACE,
        provisions=[(SME_RATE, ctx.sme, b.full(True))],
        commitments=APPLY_COMMITMENTS,
        facts={"base": ordering, "raw": raw, "ordering": ordering},
        sources=("it_donyu.denshi_torihiki",),
    )


def fukusu(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    f = p["it_donyu.fukusu"]
    per = p["it_donyu.fukusu.base_limits"]
    members, members_known = b.number("consortium_members")
    # the limits of ① and ② scale with the number of members; not given, the fewest the frame allows
    # (the members criterion is then a condition to confirm)
    counted = where(members_known, members, int(f["min_members"]))
    parts = _invoice_parts(
        ctx,
        frame,
        {
            "threshold": counted * int(per["software_tier_per_member"]),
            "software_cap": counted * int(per["software_cap_per_member"]),
            "pc_cap": counted * int(per["pc_cap_per_member"]),
            "register_cap": counted * int(per["register_cap_per_member"]),
        },
    )
    analysis, coordination = b.expense("analysis"), b.expense("coordination")
    analysis_cap = counted * int(f["analysis_per_member"])
    analysis_subsidy = minimum(mul_floor(analysis, frac(f["analysis_rate"])), analysis_cap)
    coordination_subsidy = minimum(
        mul_floor(coordination, frac(f["coordination_rate"])), int(f["coordination_cap"])
    )
    group = parts["software_subsidy"] + parts["pc_subsidy"] + parts["register_subsidy"] + analysis_subsidy
    capped = minimum(group, int(f["group_cap"])) + coordination_subsidy
    cap = b.full(int(f["group_cap"]) + int(f["coordination_cap"]))
    # hardware counts only together with software (ハードウェアのみの購入は対象外)
    base = b.expenses(["software", "cloud", "installation", "analysis", "coordination"]) + where(
        b.expenses(["software", "cloud"]) > 0, b.expenses(["pc", "register"]), 0
    )
    checks = [
        (SME, ctx.sme),
        (
            purpose_check(frame, "インボイス制度への対応・キャッシュレス決済等の導入"),
            b.has_any("purposes", frame.purposes),
        ),
        (MEMBERS, tri(members >= int(f["min_members"]), members_known)),
        (HAS_EXPENSES, ctx.spend(base > 0)),
    ]
    return _outcome(
        ctx,
        frame,
        checks,
        capped,
        cap,
        rate_index=parts["index"],
        rates=_invoice_rates(ctx, frame),
        trace=INVOICE_TRACE,
        rate_detail=p.table("it_donyu:texts", _texts)["fukusu_rate_detail"],
        facts={
            **parts,
            "base": base,
            "members": counted,
            "members_assumed": not_(members_known),
            "analysis": analysis,
            "coordination": coordination,
            "analysis_subsidy": analysis_subsidy,
            "coordination_subsidy": coordination_subsidy,
            "coordination_cap": int(f["coordination_cap"]),
            "is_fukusu": b.full(True),
        },
        constants={
            "min_members": f["min_members"],
            "analysis_per_member_man": man_yen(int(f["analysis_per_member"])),
        },
        sources=("it_donyu.fukusu", "it_donyu.fukusu.base_limits", "it_donyu.invoice.software"),
    )


def security(ctx: Context, frame: Frame) -> Outcome:
    p, b = ctx.rule_params(frame), ctx.batch
    s = p["it_donyu.security"]
    rate = frac(s["rate"])
    service = b.expense("security_service")
    raw = mul_floor(service, rate)
    cap = b.full(int(s["cap"]))
    capped = minimum(raw, cap)
    lower = b.full(int(s["lower"]))
    checks = [
        (SME, ctx.sme),
        (purpose_check(frame, "サイバーセキュリティ対策"), b.has_any("purposes", frame.purposes)),
        (SECURITY, ctx.spend(service > 0)),
        (TSUJO_LOWER, ctx.spend(capped >= lower)),
    ]
    return _outcome(
        ctx,
        frame,
        checks,
        capped,
        cap,
        rate_index=b.full(0),
        rates=((rate, "セキュリティ対策推進枠"),),
        trace=TRACE,
        commitments=SECURITY_COMMITMENTS,
        facts={"base": service, "raw": raw, "security": service, "lower": lower},
        sources=("it_donyu.security",),
    )


RULES: dict[str, Callable[[Context, Frame], Outcome]] = {
    "tsujo": tsujo,
    "invoice": invoice,
    "denshi_torihiki": denshi_torihiki,
    "fukusu": fukusu,
    "security": security,
}
