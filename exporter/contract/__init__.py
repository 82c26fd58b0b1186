"""The monitoring contract: the numbers, recording rules and alerts the shipped rules are made of.

    outcomes.py  every outcome a probe or check can end in, and which of them count as failures
    labels.py    the labels of a probe series and where each value comes from
    settings.py  every threshold and the SLO, each with its meaning (the exporter reads them too)
    model.py     the types (Setting, Record, Alert, Group), the selectors and the one link pass
    rules.py     the rule groups: recording rules, then the alerts that read them

alertmanager/generate.py writes alertmanager/rules.yml, the alert and settings tables of
docs/alerting.md and the skeleton of a new docs/runbook.md section from it; deploy/kubernetes/
generate.py turns rules.yml into the PrometheusRule and mixin/ serves it to jsonnet. Adding an alert
is one `Alert` in rules.py plus its promtool case in alertmanager/tests/.
"""
