"""Registration offices are data; a few examples seed a demo."""

from models import Office, database

KINDS = ("document_office", "government_window", "tax_authority", "consulate")

DEMO_OFFICES = [
    ("BP-V-OKM", "document_office", "V. kerületi Okmányiroda", "Budapest", "Magyarország"),
    ("BP-KA-01", "government_window", "Kormányablak – Budapest, Váci út", "Budapest", "Magyarország"),
    ("NAV-DEB", "tax_authority", "NAV Ügyfélszolgálat Debrecen", "Debrecen", "Magyarország"),
    ("KONZ-WIEN", "consulate", "Magyarország Nagykövetsége, Konzuli Osztály", "Bécs", "Ausztria"),
]


def seed_demo_offices():
    with database.atomic():
        for code, kind, name, place, country in DEMO_OFFICES:
            Office.get_or_create(code=code, defaults={"kind": kind, "name": name, "place": place, "country": country})


def by_code(code):
    return Office.get_or_none(Office.code == code) if code else None
