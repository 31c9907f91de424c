"""French administrative geography a site's INSEE code implies: département, region, holidays."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

# INSEE region codes (2016 regions) and their départements.
REGIONS: dict[str, tuple[str, ...]] = {
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),  # Île-de-France
    "24": ("18", "28", "36", "37", "41", "45"),  # Centre-Val de Loire
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),  # Bourgogne-Franche-Comté
    "28": ("14", "27", "50", "61", "76"),  # Normandie
    "32": ("02", "59", "60", "62", "80"),  # Hauts-de-France
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),  # Grand Est
    "52": ("44", "49", "53", "72", "85"),  # Pays de la Loire
    "53": ("22", "29", "35", "56"),  # Bretagne
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),  # Nouvelle-Aquitaine
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),  # Occitanie
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),  # Auvergne-Rhône-Alpes
    "93": ("04", "05", "06", "13", "83", "84"),  # Provence-Alpes-Côte d'Azur
    "94": ("2A", "2B"),  # Corse
    "01": ("971",), "02": ("972",), "03": ("973",), "04": ("974",), "06": ("976",),  # overseas
}
REGION_OF = {dept: region for region, depts in REGIONS.items() for dept in depts}
# Départements whose public holidays differ from the national calendar, as the holidays library names them.
_HOLIDAY_SUBDIVISION = {"57": "57", "67": "6AE", "68": "6AE", "971": "971", "972": "972", "973": "973",
                        "974": "974", "976": "976"}


def department_of(insee_code: str) -> str:
    """The département of a commune: 93 for 93029 (Drancy), 2A for 2A004, 971 for 97101."""
    return insee_code[:3] if insee_code.startswith("97") else insee_code[:2]


def region_of(insee_code: str) -> str | None:
    return REGION_OF.get(department_of(insee_code))


@lru_cache(maxsize=256)
def _calendar(department: str, year: int) -> holidays.HolidayBase:
    subdiv = _HOLIDAY_SUBDIVISION.get(department)
    return holidays.country_holidays("FR", subdiv=subdiv, years=year)


def is_public_holiday(day: date, department: str) -> bool:
    """French public holidays, with Alsace-Moselle's and the overseas départements' own."""
    return day in _calendar(department, day.year)
