"""The global rules of a deployment with several locations (deploy/multi-region): one exporter per
location, each scraped by a regional Prometheus that adds `location` and evaluates rules.yml; a
global Prometheus federates their ALERTS and evaluates these groups (alertmanager/rules-global.yml).

A page about a model (LOCATION_PAGES) raised by a regional Prometheus is an input here, not a
notification (alertmanager.yml routes it to `location-input`, a receiver with no integration):
seen from two or more locations for the same target and model it pages once, naming them; seen
from one location only it is a warning about that location's network or egress.

No settings are read: the regional settings series arrive once per region through federation, so
`scalar()` of them would be NaN. Two locations make "several".
"""

from __future__ import annotations

from exporter.contract.model import MODEL_VARIABLES, Alert, Group, Record

# The regional pages that say "this model does not work for us": the same problem seen from every
# location is one problem. NanoBananaExporterDown stays a page per location (that location is blind).
LOCATION_PAGES = ("NanoBananaProbeFailing", "NanoBananaOutage", "NanoBananaErrorBudgetBurnFast",
                  "NanoBananaApiKeyRejected", "NanoBananaModelGone")
PAGES = "|".join(LOCATION_PAGES)
FIRING = "nanobanana:location_pages:firing"
LOCATIONS = "nanobanana:locations_paging:count"
MODEL = "target {{ $labels.target }} (model {{ $labels.model }}, api {{ $labels.api }})"
WHICH = ('{{ range query (printf "' + FIRING + '{target=%q,api=%q,model=%q}" $labels.target $labels.api '
         '$labels.model) }}{{ .Labels.location }} {{ end }}')

RECORDS = (
    Record(FIRING, f'count by (target, api, model, location) (ALERTS{{alertstate="firing",alertname=~"{PAGES}",'
                   'location!=""})',
           comment="Per target, api, model and location: how many of the regional pages about the model fire."),
    Record(LOCATIONS, f"count without (location) ({FIRING})",
           comment="Per target, api and model: from how many locations it is failing."),
)

ALERTS = (
    Alert(
        name="NanoBananaFailingInSeveralLocations", severity="critical",
        expr=f"{LOCATIONS} >= 2",
        summary="Nano Banana failing from {{ $value }} locations: {{ $labels.target }} {{ $labels.model }}",
        description=(
            "Probes of " + MODEL + " fail from {{ $value }} locations: " + WHICH + "(their regional pages are "
            "held back: this is the one page). Seen from several places, it is the API or our key, not one "
            "network. First: open the overview dashboard by location, then check the official status and the "
            "API key."),
        fires_when=f"a regional page about a model ({', '.join(n.removeprefix('NanoBanana') for n in LOCATION_PAGES)}) "
                   "fires in 2 or more locations for the same target, api and model (rules-global.yml)",
        dashboard="overview", variables=MODEL_VARIABLES),
    Alert(
        name="NanoBananaFailingInOneLocation", severity="warning", for_="10m",
        expr=f"{FIRING}\nand on (target, api, model)\n  {LOCATIONS} == 1",
        summary="Nano Banana failing from {{ $labels.location }} only: {{ $labels.target }} {{ $labels.model }}",
        description=(
            "Probes of " + MODEL + " fail from location {{ $labels.location }} only, for 10 minutes; the other "
            "locations see it work. That is this location's network or egress (DNS, proxy, firewall, NAT, a "
            "regional quota), not the model. First: check the exporter's egress in {{ $labels.location }} "
            "(its probe-detail phases and the liveness check); users elsewhere are not affected."),
        fires_when="a regional page about a model fires in exactly one location for 10 m while the others "
                   "see the model work (rules-global.yml)",
        dashboard="overview", variables=MODEL_VARIABLES + ("location",)),
)

GLOBAL_GROUPS: tuple[Group, ...] = (
    Group("nanobanana-locations", RECORDS + ALERTS,
          comment="For the global Prometheus only (deploy/multi-region/prometheus-global.yml), over the ALERTS it "
                  "federates from the regional ones. A regional Prometheus sees one location: it must not load this."),
)
