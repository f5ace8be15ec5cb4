"""CSV and Excel downloads of the program table (one row per frame)."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpRequest, HttpResponse
from openpyxl import Workbook
from openpyxl.styles import Font

from shien.programs import pages

HEADER = ["制度", "制度ID", "枠", "枠ID", "対象", "補助上限額（最大・円）", "補助率", "公募回", "受付開始", "締切", "状態",
          "お問合せ先", "電話", "未確認の値を含む"]  # fmt: skip
STATES = {"open": "受付中", "upcoming": "受付前", "closed": "受付終了", "undated": "日程未定"}


def rows() -> list[list[Any]]:
    out = []
    for p in pages.programs_view(pages.minute()):
        audience = "・".join(a["label"] for a in p["audience"])
        for f in p["frames"]:
            terms = f["terms"] or {}
            rates = "、".join(f"{r['who']} {r['rate']}" for r in terms.get("rates", {}).get("rows", []))
            windows = f["windows"] or [None]
            for w in windows:
                out.append([
                    p["short_name"], p["id"], f["name"], f["id"], audience, terms.get("max_cap_yen"), rates,
                    w["name"] if w else "", w["start"].isoformat() if w and w["start"] else "",
                    w["end"].isoformat() if w and w["end"] else "", STATES[w["state"]] if w else "",
                    p["contact"]["name"], p["contact"].get("phone", ""),
                    "はい" if terms.get("unverified") or (w and w["unverified"]) else "いいえ",
                ])  # fmt: skip
    return out


def programs_csv(request: HttpRequest) -> HttpResponse:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # so that Excel opens UTF-8 as Japanese
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows())
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="shien-programs.csv"'
    return response


def programs_xlsx(request: HttpRequest) -> HttpResponse:
    book = Workbook()
    sheet = book.active
    sheet.title = "制度一覧"
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows():
        sheet.append(row)
    for column, width in zip(
        "ABCDEFGHIJKLMN", (22, 14, 40, 14, 24, 16, 40, 36, 26, 26, 10, 36, 14, 10), strict=True
    ):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = 'attachment; filename="shien-programs.xlsx"'
    return response
