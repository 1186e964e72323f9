"""Coverage by zone: grid counts rolled up the zone path, hazard zones, registry counts."""

from __future__ import annotations

from sqlalchemy import select, update

from broadcaster.alerts import coverage
from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.registry.models import Household, Zone
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.integration.console_support import seed


def test_households_final_roll_up_from_grids_to_the_district(
    db: Database, settings: Settings
) -> None:
    seeded = seed(db, settings, households=10)  # G1: 5 households, G2: 5; H1: the first two
    with db.transaction() as session:
        zones = {z.code: z for z in session.scalars(select(Zone))}
        other = f.zone(session, code="V2", kind=zones["V1"].kind, parent=zones["T1"])
        f.household(session, grid=f.zone(session, code="G3", kind=zones["G1"].kind, parent=other))
        in_g1 = select(Household.id).where(Household.grid_id == zones["G1"].id)
        first = select(Household.id).where(Household.code == seeded.household_codes[0])
        session.execute(
            update(Recipient)
            .where(Recipient.household_id.in_(in_g1))
            .values(state=RecipientState.confirmed, final_at=utcnow())
        )
        session.execute(
            update(Recipient)
            .where(Recipient.household_id.in_(first))
            .values(state=RecipientState.needs_help)
        )
    with db.read() as session:
        rows = coverage.rolled_up(session, seeded.alert_id)
        by_code = {r.code: r for r in rows}
        assert [r.code for r in rows] == ["D", "T1", "V1"]  # V2 holds no household of the alert
        for code in ("D", "T1", "V1"):
            assert (by_code[code].targeted, by_code[code].final) == (10, 5)
            assert by_code[code].needs_help == 1
            assert by_code[code].percent == 50
            assert by_code[code].band == "fair"
        grids = coverage.grid_rows(session, seeded.alert_id, zones["V1"])
        assert [(g.code, g.final, g.band) for g in grids] == [("G2", 0, "poor"), ("G1", 5, "done")]
        hazards = coverage.hazard_rows(session, seeded.alert_id, ["H1"])
        assert [(h.code, h.targeted, h.final) for h in hazards] == [("H1", 2, 1)]
        assert coverage.hazard_rows(session, seeded.alert_id, []) == []
        registered = coverage.zone_households(session)
        assert registered[zones["D"].id] == 11
        assert registered[zones["T1"].id] == 11
        assert registered[zones["V1"].id] == 10
        assert registered[other.id] == 1
        assert registered[zones["G1"].id] == 5
        assert registered[zones["H1"].id] == 2
