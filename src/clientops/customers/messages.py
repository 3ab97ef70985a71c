"""The words users see for validation codes raised by the customer service."""

from __future__ import annotations

from clientops.core.i18n import N_, gettext

ERRORS = {
    "required": N_("This field is required."),
    "invalid_phone": N_("Enter a valid phone number, e.g. 13812345678 or +44 20 7946 0958."),
    "invalid_email": N_("Enter a valid email address, e.g. name@example.com."),
    "unknown_user": N_("No such user."),
    "unknown_team": N_("No such team."),
    "not_your_team": N_("You can only file customers under your own teams."),
    "unknown_account": N_("No such account (company) that you can see."),
    "unknown_field": N_("No such custom field."),
    "invalid_number": N_("Enter a number."),
    "invalid_date": N_("Enter a date as YYYY-MM-DD."),
    "invalid_choice": N_("Choose one of the listed values."),
    "taken": N_("This external id already belongs to another customer."),
    "already_exists": N_("This already exists."),
    "invalid_sort": N_("Unknown sort order."),
    "invalid": N_("Invalid value."),
    "too_long": N_("This is too long."),
    "account_is_company": N_("An account is always a company."),
    "invalid_id_number": N_(
        "Enter a valid resident identity number: 18 characters (the last may be X) "
        "with a correct check digit, or the old 15-digit form."
    ),
    "invalid_postcode": N_("Enter a postcode of letters and digits, e.g. 518057."),
    "implausible_birth_date": N_("A birth date cannot be in the future or before 1850."),
    "birth_date_mismatch": N_("The birth date does not match the one in the identity number."),
    "invalid_birth_date": N_(
        "Enter a date such as 1990-01-31, 1990/1/31 or 1990年1月31日 (a day/month order "
        "like 05/01/1990 is ambiguous)."
    ),
}


def message(code: str) -> str:
    """The translated message for a validation code."""
    return gettext(ERRORS.get(code, ERRORS["invalid"]))
