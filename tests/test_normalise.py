"""Normalising identity numbers, dates, names and phones as people and spreadsheets write them."""

from __future__ import annotations

import datetime as dt

import pytest

from clientops.core.normalise import (
    clean_name,
    id_number_birth_date,
    parse_date,
    parse_id_number,
    parse_phone,
)

# --- identity numbers ----------------------------------------------------------------------
#
# The check codes below were worked out by hand from GB 11643-1999 (weights 7 9 10 5 8 4 2 1 6
# 3 7 9 10 5 8 4 2, check code "10X98765432"[sum % 11]):
#
# 11010519491231002X (the example printed in the standard):
#   1*7 + 1*9 + 0*10 + 1*5 + 0*8 + 5*4 + 1*2 + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10 + 1*5 + 0*8
#   + 0*4 + 2*2 = 167; 167 % 11 = 2 -> "X".
# 44030419900101001?:
#   4*7 + 4*9 + 0 + 3*5 + 0 + 4*4 + 1*2 + 9*1 + 9*6 + 0 + 0 + 1*9 + 0 + 1*5 + 0 + 0 + 1*2 = 176;
#   176 % 11 = 0 -> "1".
# 32010219850615123?:
#   3*7 + 2*9 + 0 + 1*5 + 0 + 2*4 + 1*2 + 9*1 + 8*6 + 5*3 + 0 + 6*9 + 1*10 + 5*5 + 1*8 + 2*4
#   + 3*2 = 237; 237 % 11 = 6 -> "6".


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width
        ("  110105 19491231 002X ", "11010519491231002X"),
        ("440304199001010011", "440304199001010011"),
        ("320102198506151236", "320102198506151236"),
        # The 15-digit legacy form: "19" put before the year, the check code appended.
        ("110105491231002", "11010519491231002X"),
        ("440304900101001", "440304199001010011"),
    ],
)
def test_valid_identity_numbers(written: str, stored: str) -> None:
    assert parse_id_number(written) == stored


@pytest.mark.parametrize(
    "written",
    [
        "110105194912310021",  # wrong check code (X expected)
        "440304199001010012",  # wrong check code (1 expected)
        "11010519491231002",  # 17 characters
        "1101051949123100211",  # 19 characters
        "11010519491331002X",  # month 13 (check code right for these digits or not: refused)
        "110105194902300024",  # 30 February
        "110105" + "2999" + "0101" + "001" + "0",  # born in the future
        "01010519491231002X",  # a region code never starts with 0
        "1101051949123100X2",  # X only as the last character
        "",
        "abc",
    ],
)
def test_invalid_identity_numbers_are_refused(written: str) -> None:
    with pytest.raises(ValueError, match="invalid_id_number"):
        parse_id_number(written)


def test_birth_date_read_from_identity_number() -> None:
    assert id_number_birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert id_number_birth_date("440304900101001") == dt.date(1990, 1, 1)


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "2024-01-05",
        "2024/1/5",
        "2024.1.5",
        "2024年1月5日",
        "2024 年 1 月 5 日",
        "2024年01月05日",
        "20240105",
        "２０２４－０１－０５",  # full-width digits and dash
        "2024-01-05 00:00:00",  # a date exported with its midnight time
        "2024-01-05T00:00",
    ],
)
def test_dates_in_common_forms(written: str) -> None:
    assert parse_date(written) == dt.date(2024, 1, 5)


def test_day_month_order_only_when_it_cannot_be_mistaken() -> None:
    assert parse_date("25/12/2023") == dt.date(2023, 12, 25)  # 25 cannot be a month
    assert parse_date("12/25/2023") == dt.date(2023, 12, 25)
    assert parse_date("07/07/2023") == dt.date(2023, 7, 7)  # same either way
    with pytest.raises(ValueError, match="invalid_date"):
        parse_date("05/01/2024")  # 5 January or 1 May: refused rather than guessed


@pytest.mark.parametrize(
    "written", ["2024-02-30", "2023-02-29", "20241301", "2024/13/1", "yesterday", "", "24-1-5"]
)
def test_impossible_or_unreadable_dates_are_refused(written: str) -> None:
    with pytest.raises(ValueError, match="invalid_date"):
        parse_date(written)


def test_excel_serial_numbers_only_when_asked() -> None:
    # Excel's serial 1 is 1900-01-01, and 2024-01-01 is 45292 (four days before 45296); Excel
    # keeps a phantom 1900-02-29 at serial 60, so 61 is 1 March 1900.
    assert parse_date("45296", excel_serial=True) == dt.date(2024, 1, 5)
    assert parse_date("45296.0", excel_serial=True) == dt.date(2024, 1, 5)
    assert parse_date("1", excel_serial=True) == dt.date(1900, 1, 1)
    assert parse_date("59", excel_serial=True) == dt.date(1900, 2, 28)
    assert parse_date("61", excel_serial=True) == dt.date(1900, 3, 1)
    with pytest.raises(ValueError, match="invalid_date"):
        parse_date("60", excel_serial=True)  # the day that never was
    with pytest.raises(ValueError, match="invalid_date"):
        parse_date("45296")


def test_leap_day_in_a_leap_year() -> None:
    assert parse_date("2024/2/29") == dt.date(2024, 2, 29)


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("  张伟  ", "张伟"),
        ("张 伟", "张伟"),
        ("张　伟", "张伟"),  # ideographic space
        ("欧阳 娜 娜", "欧阳娜娜"),
        ("ＪＯＨＮ　Ｓｍｉｔｈ", "JOHN Smith"),  # full-width letters and space
        ("John \t\n Smith", "John Smith"),
        ("Li\u200bLei", "LiLei"),  # zero-width space removed
        ("\u202e王芳", "王芳"),  # right-to-left override removed
        ("张伟 Zhang Wei", "张伟 Zhang Wei"),  # a space next to a Latin word stays
        ("阿沛·阿旺晋美", "阿沛·阿旺晋美"),
    ],
)
def test_names_cleaned(written: str, stored: str) -> None:
    assert clean_name(written) == stored


# --- phones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "+86 138 0013 8000",
        "0086 13800138000",
        "+86-138-0013-8000",
        "１３８００１３８０００",  # full-width digits
        "＋８６１３８００１３８０００",
        "(+86) 138 0013 8000",
    ],
)
def test_mainland_mobile_forms_give_one_e164(written: str) -> None:
    assert parse_phone(written, "CN") == "+8613800138000"


def test_default_region_decides_national_numbers() -> None:
    # A national number without country code is read in the configured region.
    assert parse_phone("020 7946 0018", "GB") == "+442079460018"
    assert parse_phone("(415) 555-2671", "US") == "+14155552671"
    # An international number is the same whatever the default region.
    assert parse_phone("+86 138 0013 8000", "US") == "+8613800138000"
    with pytest.raises(ValueError, match="invalid_phone"):
        parse_phone("12345", "CN")
