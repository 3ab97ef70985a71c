"""The words users see for import error codes: in the report, on the pages and in the CLI."""

from __future__ import annotations

from clientops.core.i18n import N_, gettext

ROW_ERRORS = {
    "required": N_("A value is required here."),
    "too_long": N_("The value is too long."),
    "invalid_phone": N_("Not a valid phone number (e.g. 13812345678 or +44 20 7946 0958)."),
    "invalid_email": N_("Not a valid e-mail address (e.g. name@example.com)."),
    "invalid_date": N_("Not a date: write it as 2024-01-31, 2024/1/31 or 2024年1月31日."),
    "invalid_datetime": N_("Not a date and time: write it as 2024-01-31 14:05."),
    "invalid_id_number": N_("Not a valid resident identity number (18 characters, checksum)."),
    "invalid_postcode": N_("Not a valid postcode (six digits in China)."),
    "leading_zeros_lost": N_(
        "Leading zeros are missing (a spreadsheet turned the identifier into a number): "
        "format the column as text and export again."
    ),
    "scientific_notation": N_(
        "The number was shortened by a spreadsheet (like 1.38E+10) and its digits are lost: "
        "format the column as text and export again."
    ),
    "float_suffix": N_(
        "A spreadsheet added “.0” to this identifier: format the column as text and export again."
    ),
    "hidden_characters": N_(
        "The cell contains invisible characters (zero-width or right-to-left marks): "
        "remove them and import again."
    ),
    "formula": N_("The cell holds a spreadsheet formula; only plain values can be imported."),
    "invalid_kind": N_("Type must be person or company (个人 / 公司)."),
    "invalid_stage": N_("Unknown lifecycle stage."),
    "invalid_number": N_("Not a number."),
    "invalid_choice": N_("Not one of the field's choices."),
    "unknown_user": N_("No user with this name."),
    "unknown_team": N_("No team with this name."),
    "not_your_team": N_("You can only import into your own teams."),
    "no_key": N_("The row needs an external id, a phone or an e-mail to be matched."),
    "no_customer_key": N_("The row needs a customer id, phone or e-mail to find its customer."),
    "duplicate_key": N_("The same key is already on row {detail} of this file."),
    "external_id_taken": N_("This external id belongs to a customer outside your teams."),
    "same_customer_twice": N_("Another row of this file matches the same customer."),
    "unknown_customer": N_("No customer you can see has this id, phone or e-mail."),
    "order_taken": N_("This order number belongs to a customer outside your teams."),
    "activity_taken": N_("This record belongs to a customer outside your teams."),
    "invalid_amount": N_("Not an amount (e.g. 1234.50)."),
    "invalid_quantity": N_("Not a quantity (a positive number)."),
    "invalid_currency": N_("Not a currency code (e.g. CNY, USD)."),
    "invalid_status": N_("Unknown order status (paid, refunded, cancelled, pending)."),
    "invalid_activity_kind": N_("Type must be note, call, meeting or email."),
    "order_conflict": N_("This line of the order disagrees with its first line."),
    "order_lines_apart": N_(
        "Lines of this order are not together: it started on row {detail}; keep an order's "
        "lines on consecutive rows."
    ),
}
"""Row-level error code → message; ``{detail}`` is filled in from the error."""

FILE_ERRORS = {
    "not_found": N_("The file was not found."),
    "too_large": N_("The file is larger than the limit of {limit} bytes."),
    "empty_file": N_("The file is empty."),
    "encoding": N_("The file is not in a text encoding we can read (tried {encoding})."),
    "mixed_encoding": N_(
        "The file mixes text encodings (line {line} is UTF-8, other lines are not): save it "
        "again in one encoding, preferably UTF-8."
    ),
    "nul_byte": N_("The file contains NUL bytes (line {line}): it is not a text table."),
    "zip_bomb": N_("The workbook expands to far more than its size: refused."),
    "not_a_table": N_("The file is neither CSV nor XLSX."),
    "encrypted": N_("The workbook is password-protected."),
    "sheet_not_found": N_("No such sheet in the workbook."),
    "empty_header": N_("Column {column} has no header."),
    "duplicate_header": N_("The header “{column}” appears twice."),
    "malformed_row": N_("Row {row} cannot be read (an unclosed quote?)."),
    "too_many_cells": N_("Row {row} has more cells than the header."),
    "too_many_rows": N_("The file has more than {limit} rows."),
    "unknown_kind": N_("Unknown kind of import."),
    "unknown_field": N_("Unknown field “{field}” in the mapping."),
    "field_twice": N_("The field “{field}” is mapped from two columns."),
    "missing_column": N_("The mapping names the column “{column}”, which the file does not have."),
    "missing_field": N_("Map a column to “{field}”: it is required."),
    "missing_customer_key": N_("Map a column to the customer's external id, phone or e-mail."),
    "invalid_mapping": N_("The mapping file is not valid: {detail}"),
    "invalid_source": N_("The source must be 1 to 60 characters."),
    "invalid_mode": N_("The mode must be all-or-nothing or valid-rows."),
    "invalid_timezone": N_("Unknown time zone."),
    "not_ready": N_("This import cannot do that in its current state."),
}
"""File- and mapping-level error code → message."""


def row_message(code: str, detail: str = "") -> str:
    """The translated message for a row error."""
    template = ROW_ERRORS.get(code)
    if template is None:
        return code
    return gettext(template).replace("{detail}", detail)


def file_message(errors: dict[str, str]) -> str:
    """One translated sentence for a refused file or mapping (``errors`` of the exception)."""
    for value in errors.values():
        if value in FILE_ERRORS:
            text = gettext(FILE_ERRORS[value])
            for key, detail in errors.items():
                text = text.replace("{" + key + "}", detail)
            return text
    return ", ".join(f"{key}: {value}" for key, value in errors.items())
