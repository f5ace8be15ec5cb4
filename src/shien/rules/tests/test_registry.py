"""The YAML registry is complete and consistent; every template renders."""

from __future__ import annotations

import re
import string
from datetime import date

from shien.rules.engine import grant_frames
from shien.rules.frames import RULES
from shien.rules.frames.base import Check, Note
from shien.rules.registry import Registry, registry
from shien.rules.vocab import EXPENSE_CATEGORIES, PREFECTURES, PURPOSES


def test_every_grant_frame_has_a_rule_and_every_rule_a_frame() -> None:
    assert set(grant_frames()) == set(RULES)


def test_every_value_has_a_reference_and_a_valid_status() -> None:
    for parameter in registry().parameters.values():
        for entry in parameter.entries:
            assert entry.reference.title, parameter.name
            assert entry.status in ("verified", "unverified")
            if entry.unverified:
                assert entry.note, f"{parameter.name}: an unverified value says why"


def test_parameter_descriptions_are_japanese_without_yaml_keys() -> None:
    """A description is shown on the program page (「すべてのパラメータ」 and the ※未確認 list): it names
    things in Japanese, not by the YAML's keys (「special は…」); acronyms such as DX, IT, SIer stay."""
    for parameter in registry().parameters.values():
        keys = re.findall(r"(?<![A-Za-z])[a-z_]{2,}(?![A-Za-z])", parameter.description)
        assert not keys, f"{parameter.name}: {parameter.description}"


def test_minimum_wage_for_every_prefecture_r5_to_r7_then_unknown() -> None:
    """R5, R6 and R7 (2025) for all 47 prefectures; after that the value is unknown (null), never the
    previous year's carried forward as if current."""
    reg = registry()
    for prefecture in PREFECTURES:
        parameter = reg.parameters[f"minimum_wage.{prefecture}"]
        values = [e.value for e in parameter.entries]
        assert len(values) == 4 and values[-1] is None, prefecture
        r7 = parameter.entries[2]
        assert r7.value >= 1023, prefecture  # every prefecture ≥ 1,023円 in 2025 (niigata-nippo.co.jp)
        assert date(2025, 10, 1) <= r7.since <= date(2026, 3, 31), prefecture
        assert r7.value > values[1], prefecture
        assert parameter.entries[-1].since == date(2026, 10, 1) and parameter.entries[-1].unverified
    view = reg.at(date(2024, 10, 1))
    assert view["minimum_wage.広島県"] == 1020 and view["minimum_wage.東京都"] == 1163
    assert reg.at(date(2024, 9, 30))["minimum_wage.広島県"] == 970
    assert reg.at(date(2024, 10, 11))["minimum_wage.島根県"] == 904  # R6 takes effect 10-12
    # R7: the effective dates vary by prefecture, from 2025-10-01 (栃木) into 2026 (秋田 2026-03-31)
    assert reg.at(date(2025, 10, 31))["minimum_wage.広島県"] == 1020
    assert reg.at(date(2025, 11, 1))["minimum_wage.広島県"] == 1085
    assert reg.at(date(2025, 10, 3))["minimum_wage.東京都"] == 1226
    assert reg.at(date(2026, 3, 30))["minimum_wage.秋田県"] == 951
    assert reg.at(date(2026, 3, 31))["minimum_wage.秋田県"] == 1031
    assert reg.at(date(2026, 9, 30))["minimum_wage.沖縄県"] == 1023
    assert reg.at(date(2026, 10, 1))["minimum_wage.広島県"] is None


def test_frames_use_known_vocabulary() -> None:
    for program in registry().programs.values():
        for frame in program.frames.values():
            assert set(frame.purposes) <= set(PURPOSES), frame.key
            assert set(frame.expenses) <= set(EXPENSE_CATEGORIES), frame.key


def test_round_windows_are_ordered_and_in_japan_time() -> None:
    for program in registry().programs.values():
        for r in program.rounds:
            if r.acceptance_start and r.acceptance_end:
                assert r.acceptance_start < r.acceptance_end, r.key
                assert r.acceptance_end.utcoffset().total_seconds() == 9 * 3600  # type: ignore[union-attr]


def test_a_new_dated_entry_changes_the_value_from_its_date(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.yaml").write_text(
        "references: {r: {title: T}}\nparameters:\n  p:\n    description: d\n    values:\n"
        "      2024-01-01: {value: 1, reference: r}\n      2025-04-01: {value: 2, reference: r, status: unverified, note: n}\n",
        encoding="utf-8",
    )
    reg = Registry(tmp_path)
    assert reg.at(date(2025, 3, 31))["p"] == 1
    assert reg.at(date(2025, 4, 1))["p"] == 2 and reg.at(date(2025, 4, 1)).entry("p").unverified


def test_template_placeholders_are_known_names() -> None:
    """Every {name} in a message is something the engine provides (else a KeyError at run time)."""
    import shien.rules.frames.it_donyu as it
    import shien.rules.frames.jigyo_shokei as js
    import shien.rules.frames.jizokuka as jz
    import shien.rules.frames.monozukuri as mz
    import shien.rules.frames.shoryokuka as sh

    names = set()
    for module in (it, js, jz, mz, sh):
        for value in vars(module).values():
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if isinstance(item, Check):
                    texts = [item.label, item.ok, item.ng, item.unknown]
                elif isinstance(item, Note):
                    texts = [item.text]
                else:
                    continue
                for text in texts:
                    names |= {f for _, f, _, _ in string.Formatter().parse(text) if f}
    assert names, "templates found"
    assert all(re.fullmatch(r"[a-z_]+", n) for n in names)


def test_the_rules_package_imports_nothing_from_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, shien.rules as r\n"
        "for m in pkgutil.walk_packages(r.__path__, 'shien.rules.'):\n"
        "    if '.tests' not in m.name: importlib.import_module(m.name)\n"
        "from shien.rules.engine import estimate\n"
        "print(any(k == 'django' or k.startswith('django.') for k in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == "False"


def test_every_parameter_file_reads_the_same_with_any_yaml_loader() -> None:
    """The registry reads with libyaml (CSafeLoader); the same files must mean the same to PyYAML's
    pure-Python loader (and so to other YAML tools): no plain scalar that only libyaml accepts."""
    import yaml

    from shien.rules.registry import PARAMETER_DIR

    for path in sorted(PARAMETER_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=yaml.SafeLoader) == yaml.load(text, Loader=yaml.CSafeLoader), path.name  # noqa: S506


def test_the_procedure_facts_live_in_the_program_yaml() -> None:
    """Which programs ask for a 様式4 and which adopt with a grant decision are program facts (YAML), read
    by the application side through the registry, never a set of program ids in Python."""
    programs = registry().programs.values()
    assert [p.id for p in programs if p.support_plan_required] == ["jizokuka"]
    assert [p.id for p in programs if p.adoption_is_grant] == ["shoryokuka"]
