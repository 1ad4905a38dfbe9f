"""The sectors a member picks from: few enough that the group's mix says how diverse it is (free text gave
"Fintech", "fintech" and "Finance" three bars of one), with Other for the rest."""
from __future__ import annotations

SECTORS = (
    "Agriculture and food",
    "Architecture and construction",
    "Arts, media and design",
    "Consulting and professional services",
    "Education",
    "Energy and environment",
    "Finance and insurance",
    "Government and public service",
    "Health and care",
    "Hospitality and tourism",
    "Law",
    "Manufacturing",
    "Non-profit and community",
    "Real estate",
    "Retail and consumer goods",
    "Science and research",
    "Software and technology",
    "Trades and crafts",
    "Transport and logistics",
    "Other",
)

# The mix's chart shows this many sectors by name, largest first; the long tail is one bar.
MIX_BARS = 10
