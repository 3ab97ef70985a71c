"""Input and output shapes of customers and accounts; inputs list every writable field."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clientops.core.types import MAX_ID, NO_CONTROL

Text = Annotated[str, StringConstraints(pattern=NO_CONTROL)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

Stage = Literal["potential", "new", "growing", "mature", "declining", "churned"]
Kind = Literal["person", "company"]
CustomValue = Annotated[str, StringConstraints(pattern=NO_CONTROL, max_length=500)] | float | None


class ExternalIdIn(BaseModel):
    """An id this customer has in a source system."""

    model_config = ConfigDict(extra="forbid")
    source: Text = Field(min_length=1, max_length=60)
    external_id: Text = Field(min_length=1, max_length=120)


class CustomerBase(BaseModel):
    """Fields shared by create and update."""

    model_config = ConfigDict(extra="forbid")
    phone: Text | None = Field(default=None, max_length=40)
    email: Text | None = Field(default=None, max_length=254)
    address: Text | None = Field(default=None, max_length=500)
    province: Text | None = Field(default=None, max_length=40)
    city: Text | None = Field(default=None, max_length=100)
    district: Text | None = Field(default=None, max_length=60)
    postcode: Text | None = Field(default=None, max_length=16)
    birth_date: Text | None = Field(
        default=None,
        max_length=40,
        description="A date: 1990-01-31, 1990/1/31, 1990.1.31, 1990年1月31日 or 19900131; "
        "day/month order only when unambiguous (31/01/1990).",
    )
    id_number: Text | None = Field(
        default=None,
        max_length=40,
        description="Mainland resident identity number (18 characters, or the legacy 15 digits).",
    )
    title: Text | None = Field(default=None, max_length=120)
    website: Text | None = Field(default=None, max_length=200)
    industry: Text | None = Field(default=None, max_length=100)
    lifecycle_stage: Stage | None = None
    source: Text | None = Field(default=None, max_length=60)
    notes: Text | None = Field(default=None, max_length=10000)
    account_id: Id | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    tags: list[Annotated[Text, Field(max_length=60)]] | None = Field(default=None, max_length=50)
    custom_fields: dict[str, CustomValue] | None = None
    external_ids: list[ExternalIdIn] | None = Field(default=None, max_length=50)


class CustomerCreate(CustomerBase):
    """A new customer."""

    name: Text = Field(min_length=1, max_length=200)
    kind: Kind = "person"


class CustomerUpdate(CustomerBase):
    """Changes to a customer; only the fields sent are changed."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    kind: Kind | None = None


class CustomerRead(BaseModel):
    """A customer as the API returns it (personal data masked for roles that need no more)."""

    id: int
    kind: str
    name: str
    phone: str | None
    email: str | None
    address: str | None
    province: str | None
    city: str | None
    district: str | None
    postcode: str | None
    birth_date: str | None = Field(
        description="ISO date; masked to the year (1990-**-**) for roles that see masked data."
    )
    id_number: str | None
    title: str | None
    website: str | None
    industry: str | None
    lifecycle_stage: str
    source: str | None
    notes: str | None
    account_id: int | None
    owner_id: int | None
    team_id: int | None
    tags: list[str]
    custom_fields: dict[str, str | float | None]
    external_ids: list[ExternalIdIn]
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    """One page of customers and the cursor of the next (null at the end)."""

    items: list[CustomerRead]
    next_cursor: str | None


class AccountRead(CustomerRead):
    """A company with the ids of its contacts."""

    contact_ids: list[int]


class AccountPage(BaseModel):
    """One page of accounts and the cursor of the next (null at the end)."""

    items: list[AccountRead]
    next_cursor: str | None


class ActivityCreate(BaseModel):
    """A note, call, meeting or email logged against a customer."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["note", "call", "meeting", "email"]
    subject: str = Field(min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=20000)
    occurred_at: datetime | None = None


class ActivityRead(BaseModel):
    """A logged activity."""

    id: int
    customer_id: int
    kind: str
    subject: str
    body: str | None
    occurred_at: datetime
    actor_id: int | None


class OrderRead(BaseModel):
    """An order of a customer."""

    id: int
    number: str
    ordered_at: datetime
    amount: Decimal
    currency: str
    channel: str | None
    status: str


class CustomFieldCreate(BaseModel):
    """An admin's definition of a custom field."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    label_en: str = Field(min_length=1, max_length=120)
    label_zh: str = Field(min_length=1, max_length=120)
    field_type: Literal["text", "number", "date", "choice"]
    choices: list[Annotated[Text, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200
    )
    required: bool = False
