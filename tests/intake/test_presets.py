"""The CRMs people leave: a HubSpot contacts export and a Salesforce leads report, imported with
their presets; every field of every lead is what the file says, and a re-import changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Database

EXPORTS = Path(__file__).parent / "exports"
REPS = [["external_id", "name", "team", "territory"], ["ann", "Ann Lee", "East", "East"],
        ["wes", "Wes Tern", "West", "West"]]  # fmt: skip

# What each file says of each lead that goes in, field by field (blank fields are absent); the
# owner is the rep named in the file, the stage the vendor's stage mapped by the preset.
HUBSPOT = {
    "51234001": {
        "created_at": "2025-02-03T14:22:00", "first_name": "Carol", "last_name": "Contact",
        "email": "carol@acme.com", "phone": "+1 (617) 555-0142", "company": "Acme Corp",
        "title": "VP Operations", "industry": "computer software", "company_size": "100",
        "annual_revenue": "25000000.0", "country": "United States", "region": "Massachusetts",
        "city": "Boston", "source": "Organic Search", "stage": "qualified", "owner": "ann",
        "Lead Status": "In Progress", "company_size (as given)": "100-500",
    },
    "51234002": {
        "created_at": "2025-03-11T09:05:00", "first_name": "Dev", "last_name": "Patel",
        "email": "dev.patel@globex.io", "company": "Globex", "title": "CTO",
        "industry": "information technology and services", "company_size": "1000", "country": "India",
        "region": "Karnataka", "city": "Bengaluru", "source": "Paid Search", "stage": "lead",
        "Lead Status": "New", "company_size (as given)": "1000+",
    },
    "51234003": {  # 'Erin Olsen <erin@initech.example>' is her email
        "created_at": "2024-11-20T16:40:00", "first_name": "Erin", "last_name": "Olsen",
        "email": "erin@initech.example", "phone": "555 010 9911", "company": "Initech",
        "title": "Head of Sales", "industry": "financial services", "company_size": "25",
        "annual_revenue": "4500000.0", "country": "Norway", "city": "Oslo", "source": "Referrals",
        "stage": "won", "owner": "wes", "company_size (as given)": "25-50",
    },
    "51234004": {  # 'mid' is a size word: 50 employees
        "created_at": "2025-01-07T08:00:00", "first_name": "Farid", "last_name": "Haddad",
        "email": "farid@umbrella.example", "company": "Umbrella", "title": "Buyer",
        "industry": "hospital & health care", "company_size": "50", "source": "Offline Sources",
        "stage": "lead", "owner": "ann", "Lead Status": "Attempted to Contact",
        "company_size (as given)": "mid",
    },
    "51234005": {
        "created_at": "2025-04-01T12:00:00", "email": "gus@hooli.example", "company": "Hooli",
        "company_size": "5", "country": "United States", "region": "California", "city": "Palo Alto",
        "source": "Direct Traffic", "stage": "inquiry", "company_size (as given)": "5-25",
    },
    "51234007": {  # 'many' employees is not a number: the size is left out, the lead goes in
        "created_at": "2025-04-03T11:15:00", "first_name": "Ivan", "last_name": "Petrov",
        "email": "ivan@stark.example", "company": "Stark Industries", "title": "Engineer",
        "industry": "defense & space", "country": "Germany", "city": "Berlin", "source": "Paid Social",
        "stage": "lead", "owner": "wes", "company_size (as given)": "many",
    },
}  # fmt: skip
HUBSPOT_PROBLEMS = {
    (7, "stage", "error"),  # 'Partner' is no HubSpot default stage the preset maps
    (7, "annual_revenue", "warning"),  # -5
    (8, "company_size", "warning"),  # 'many'
}
SALESFORCE = {
    "00Q5g00000AbCdE": {
        "created_at": "2025-02-02T02:01:00", "first_name": "Jane", "last_name": "Doe",
        "email": "jane.doe@pinnacle.example", "phone": "(415) 555-0101", "title": "Procurement Lead",
        "company": "Pinnacle Foods", "industry": "food & beverage", "company_size": "4563",
        "annual_revenue": "3410000.0", "country": "USA", "region": "CA", "city": "San Francisco",
        "source": "Web", "owner": "ann", "stage": "lead", "Salutation": "Ms.", "Rating": "Hot",
    },
    "00Q5g00000AbCdF": {
        "created_at": "2024-11-14T15:45:00", "first_name": "Ken", "last_name": "Adams",
        "email": "ken.adams@summit.example", "title": "Director of IT", "company": "Summit Health",
        "industry": "healthcare", "company_size": "250", "annual_revenue": "12000000.0",
        "country": "USA", "region": "NY", "city": "New York", "source": "Partner Referral",
        "owner": "wes", "stage": "lead", "Salutation": "Mr.", "Rating": "Warm",
    },
    "00Q5g00000AbCdG": {
        "created_at": "2025-01-09T10:12:00", "first_name": "Lena", "last_name": "Berg",
        "phone": "+47 22 55 01 23", "title": "Chief Medical Officer", "company": "Fjord Clinics",
        "industry": "healthcare", "company_size": "85", "country": "Norway", "city": "Oslo",
        "source": "Trade Show", "owner": "ann", "stage": "opportunity", "Salutation": "Dr.",
        "Rating": "Hot",
    },
    "00Q5g00000AbCdH": {
        "created_at": "2024-12-30T23:59:00", "first_name": "Omar", "last_name": "Said",
        "email": "omar@delta.example", "title": "Buyer", "company": "Delta Freight",
        "industry": "transportation", "country": "UAE", "city": "Dubai", "source": "Purchased List",
        "stage": "disqualified", "Rating": "Cold",
    },
}  # fmt: skip
SALESFORCE_PROBLEMS = {(6, "company_size", "warning"), (6, "owner", "error")}  # 'twelve'; an unknown rep
# What leadflow adds to every lead; not in the file, so not compared.
COMPUTED = {"id", "fit_score", "grade", "win_probability", "self_sourced", "score_model_id", "assigned_at"}


def exported(db: Database, tmp_path: Path) -> dict[str, dict[str, Any]]:
    out = tmp_path / "out.csv"
    assert db.cli("export", str(out))[0] == 0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # the export neutralises cells that a spreadsheet would run as a formula ('+1 ...)
    return {
        r["external_id"]: {k: v.removeprefix("'") for k, v in r.items() if v and k not in COMPUTED}
        for r in rows
    }


@pytest.mark.parametrize(
    ("preset", "file", "expected", "problems"),
    [
        ("hubspot", "hubspot-contacts.csv", HUBSPOT, HUBSPOT_PROBLEMS),
        ("salesforce", "salesforce-leads.csv", SALESFORCE, SALESFORCE_PROBLEMS),
    ],
)
def test_a_vendor_export_imports_field_by_field(  # type: ignore[no-untyped-def]
    db: Database, tmp_path: Path, write_csv, preset: str, file: str, expected: dict, problems: set
) -> None:
    assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
    report = tmp_path / "problems.csv"
    code, out, err = db.cli(
        "leads", "import", "--preset", preset, str(EXPORTS / file), "--rejects", str(report)
    )
    assert code == 0, err

    leads = exported(db, tmp_path)
    assert {k: {f: v for f, v in lead.items() if f != "external_id"} for k, lead in leads.items()} == expected
    with report.open(encoding="utf-8") as handle:
        found = {(int(r["line"]), r["column"], r["severity"]) for r in csv.DictReader(handle)}
    assert found == problems
    assert "Create Date" in out and "created_at" in out  # the mapping it used is shown

    code, out, _ = db.cli("leads", "import", "--preset", preset, str(EXPORTS / file))
    assert code == 0
    line = next(r for r in out.splitlines() if file in r and "│" in r)
    new, changed, unchanged = [c.strip() for c in line.split("│") if c.strip()][3:6]
    assert (new, changed, unchanged) == ("0", "0", str(len(expected)))
    assert exported(db, tmp_path) == leads
