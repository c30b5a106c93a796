"""Capturing leads one request at a time: validated, deduplicated, scored and routed at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import Assignment, Lead
from leadflow.settings import Settings
from tests.conftest import Database

NOW = datetime(2026, 5, 14, 10, 0)
REPS = [
    ["external_id", "name", "team", "territory", "capacity"],
    ["ann", "Ann Lee", "East team", "East", "10"],
    ["bo", "Bo Chen", "East team", "East", "10"],
]


def test_capture_routes_new_merges_duplicates_and_sets_bad_records_aside(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
    records = [
        {"email": "Dana@Acme.example", "first_name": "Dana", "company": "Acme", "territory": "East"},
        {"email": "eli@beta.example", "company": "Beta", "territory": "East", "utm_campaign": "spring"},
        {"email": "fay@gamma.example", "created_at": "not a date", "territory": "East"},
        {"email": "gil@delta.example", "territory": "Mars"},
    ]
    with session_scope(db.engine) as s:
        result = capture_leads(s, settings=Settings(), records=records, channel="web form", now=NOW)
    by_record = {lead.record: lead for lead in result.leads}
    assert sorted(by_record) == [1, 2, 4]
    first, second, mars = by_record[1], by_record[2], by_record[4]
    assert first.new and first.stage == "lead" and {first.owner, second.owner} == {"ann", "bo"}
    assert first.grade is not None and first.fit_score is not None
    assert first.reason is not None and first.reason.startswith("round_robin in territory East")
    # nobody covers Mars: queued, with the reason, never silently dropped
    assert mars.owner is None and mars.queue == "unassigned" and "Mars has no reps" in (mars.reason or "")
    [reject] = result.rejects
    assert (reject.file, reject.line, reject.column) == ("web form", 3, "created_at")
    assert reject.value == "not a date"

    # The same person again (email in another case): merged into the lead, not routed twice.
    again = [{"email": "dana@acme.example", "phone": "+1 555 0100", "territory": "East"}]
    with session_scope(db.engine) as s:
        merged = capture_leads(s, settings=Settings(), records=again, channel="web form", now=NOW)
    [lead] = merged.leads
    assert lead.id == first.id and not lead.new and lead.owner == first.owner
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 3
        assert s.scalar(select(func.count()).where(Assignment.lead_id == first.id)) == 1
        dana = s.get(Lead, first.id)
        eli = s.get(Lead, second.id)
        assert dana is not None and dana.phone == "+1 555 0100"
        assert eli is not None and eli.extra == {"utm_campaign": "spring"}


def test_a_captured_lead_without_a_date_is_dated_by_its_arrival_and_a_merge_keeps_the_date(
    db: Database,
    write_csv,  # type: ignore[no-untyped-def]
) -> None:
    assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
    given = datetime(2026, 5, 4, 8, 30)
    records = [
        {"email": "dana@acme.example", "company": "Acme", "territory": "East"},
        {
            "email": "eli@beta.example",
            "company": "Beta",
            "territory": "East",
            "created_at": given.isoformat(),
        },
    ]
    with session_scope(db.engine) as s:
        result = capture_leads(s, settings=Settings(), records=records, channel="web form", now=NOW)
    dana, eli = sorted(result.leads, key=lambda lead: lead.record)
    later = datetime(2026, 12, 1, 9, 0)
    with session_scope(db.engine) as s:  # Dana again, later, without a date: she keeps hers
        capture_leads(s, settings=Settings(), records=records[:1], channel="web form", now=later)
    with session_scope(db.engine) as s:
        dates = {i: d for i, d in s.execute(select(Lead.id, Lead.created_at)).all()}
        months = {i: m for i, m in s.execute(select(Lead.id, Lead.created_month)).all()}
    assert dates == {dana.id: NOW, eli.id: given}
    assert months == {dana.id: NOW.year * 12 + NOW.month - 1, eli.id: 2026 * 12 + 4}


def test_a_captured_lead_takes_what_it_lacks_from_the_account_it_names(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    accounts = [
        ["name", "domain", "industry", "employees", "country"],
        ["Acme Corp", "acme.example", "manufacturing", "1200", "Germany"],
        ["Beta GmbH", "beta.example", "retail", "40", "Austria"],
    ]
    assert db.cli("companies", "import", str(write_csv("accounts.csv", accounts)))[0] == 0
    records = [
        {"email": "dana@acme.example", "company": "ACME corp"},  # the account, spelled otherwise
        {"email": "eli@beta.example", "company": "Beta GmbH", "industry": "software", "company_size": "12"},
        {"email": "fay@gamma.example", "company": "Gamma"},  # no such account: a name only
        {"email": "gil@delta.example", "first_name": "Gil"},  # no company at all
    ]
    with session_scope(db.engine) as s:
        result = capture_leads(s, settings=Settings(), records=records, channel="web form", now=NOW)
    ids = {lead.record: lead.id for lead in result.leads}
    with session_scope(db.engine) as s:
        rows = {
            lead.id: (lead.company_id is not None, lead.industry, lead.company_size, lead.country)
            for lead in s.scalars(select(Lead))
        }
    assert rows[ids[1]] == (True, "manufacturing", 1200, "Germany")
    # what the record says wins over its account; the rest comes from the account
    assert rows[ids[2]] == (True, "software", 12, "Austria")
    assert rows[ids[3]] == (False, None, None, None)
    assert rows[ids[4]] == (False, None, None, None)


def test_a_lead_known_by_its_accounts_domain_and_its_name_is_found_by_them(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    accounts = [["name", "domain"], ["Acme Corp", "acme.example"], ["Beta GmbH", "beta.example"]]
    assert db.cli("companies", "import", str(write_csv("accounts.csv", accounts)))[0] == 0
    # no email and no domain: the account's domain and the person's name are all it is known by
    first = {"first_name": "Hana", "last_name": "Ito", "company": "Acme Corp"}
    with session_scope(db.engine) as s:
        (hana,) = capture_leads(s, settings=Settings(), records=[first], channel="web form", now=NOW).leads
    later = [
        {"first_name": "hana", "last_name": "ITO", "domain": "https://www.acme.example/", "company": "Acme"},
        {"first_name": "Hana", "last_name": "Ito", "company": "Beta GmbH"},  # another company's Hana
    ]
    with session_scope(db.engine) as s:
        again, other = capture_leads(s, settings=Settings(), records=later, channel="web form", now=NOW).leads
    assert (again.id, again.new) == (hana.id, False)
    assert other.new and other.id != hana.id
    with session_scope(db.engine) as s:
        stored = dict(s.execute(select(Lead.id, Lead.domain_key)).all())
    assert stored == {hana.id: "acme.example", other.id: "beta.example"}
