"""Names the synthetic company draws from: people, companies, and lost reasons."""

from __future__ import annotations

FIRST = [
    "Ann",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Fatima",
    "Goran",
    "Hana",
    "Ivo",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Viktor",
    "Wen",
    "Yusuf",
]

LAST = [
    "Adams",
    "Berg",
    "Costa",
    "Diaz",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Sato",
    "Tanaka",
]

WORDS = [
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kite",
    "Lumen",
    "Maple",
    "Nova",
    "Orbit",
    "Pine",
    "Quartz",
    "River",
    "Summit",
    "Terra",
]

SUFFIX = ["Systems", "Labs", "Group", "Works", "Holdings", "Analytics", "Logistics", "Health"]

LOST_REASONS = ["no budget", "chose competitor", "no decision", "timing", "not a fit"]
NEVER_WORKED_REASON = "never contacted"  # a lead nobody worked, closed when the team clears its queue
