from datetime import date, datetime

from shien.rules.registry import JST
from shien.rules.text import man_yen, wareki, wareki_date, wareki_datetime


def test_wareki_with_seireki() -> None:
    assert (
        wareki_datetime(datetime(2024, 3, 27, 8, 0, tzinfo=JST)) == "令和6年3月27日(水) 08:00（2024-03-27）"
    )
    assert wareki_date(date(2019, 5, 1)) == "令和元年5月1日(水)（2019-05-01）"
    assert wareki(date(2019, 4, 30)) == "平成31年4月30日(火)"


def test_utc_instant_is_shown_in_japan_time() -> None:
    from datetime import UTC

    assert (
        wareki_datetime(datetime(2024, 3, 27, 8, 0, tzinfo=UTC)) == "令和6年3月27日(水) 17:00（2024-03-27）"
    )


def test_man_yen() -> None:
    assert man_yen(15_000_000) == "1,500万円"
    assert man_yen(100_000_000) == "1億円"
    assert man_yen(1_234) == "1,234円"
