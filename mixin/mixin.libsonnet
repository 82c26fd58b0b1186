// nanobanana-exporter as a monitoring mixin, for teams that build their monitoring with jsonnet
// (kube-prometheus, grafana/mimir-style mixins). It serves the shipped files as they are:
// alertmanager/rules.yml and grafana/dashboards/*.json (through generated.libsonnet), with the
// settings group rewritten from _config. See docs/alerting.md.
//
//   local nanobanana = (import 'github.com/OWNER/nanobanana-exporter/mixin/mixin.libsonnet') + {
//     _config+:: { exporterJobs: ['nanobanana-eu', 'nanobanana-us'],
//                  settings+: { 'nanobanana:slo_objective:ratio': 0.999 } },
//   };
//   nanobanana.prometheusAlerts, nanobanana.prometheusRules, nanobanana.grafanaDashboards
//   (and nanobanana.prometheusGlobalAlerts for the global Prometheus of several locations)
local generated = import 'generated.libsonnet';

// 'record' or 'record{label="value",...}' (labels in alphabetical order): the name of a setting.
local settingKey(rule) =
  local labels = std.get(rule, 'labels', {});
  rule.record + (if labels == {} then '' else
                   '{' + std.join(',', ['%s="%s"' % [k, labels[k]] for k in std.objectFields(labels)]) + '}');

local isSetting(rule) = std.objectHas(rule, 'record') && std.startsWith(rule.expr, 'vector(');

{
  _config+:: {
    // The scrape job(s) of the exporter, for NanoBananaExporterDown: the job_name of each scrape config.
    exporterJobs: ['nanobanana'],
    // Bases of every alert's runbook_url and dashboard_url annotation: where docs/runbook.md is served
    // (your fork's .../blob/main/docs/runbook.md) and your Grafana. Empty: the alerts carry no such link.
    runbookURL: '',
    grafanaURL: '',
    // Any threshold of the settings group by its name, as docs/alerting.md lists them, e.g.
    // 'nanobanana:threshold:latency_p95_seconds{resolution="4K"}': 120. Unknown names are an error.
    settings: {},
  },

  local config = self._config,
  local settingsRules(rules) =
    local known = [settingKey(r) for r in rules if isSetting(r)];
    local unknown = [k for k in std.objectFields(config.settings) if !std.member(known, k)];
    assert unknown == [] : 'nanobanana mixin: unknown settings %s; known: %s' % [unknown, known];
    std.flattenArrays([
      if r.record == 'nanobanana:exporter_job:info' then [r { labels: { job: job } } for job in config.exporterJobs]
      else if r.record == 'nanobanana:alert_links:info' then
        [r { labels: { runbook_url: config.runbookURL, grafana_url: config.grafanaURL } }]
      else if isSetting(r) && std.objectHas(config.settings, settingKey(r)) then
        [r { expr: 'vector(%s)' % config.settings[settingKey(r)] }]
      else [r]
      for r in rules
    ]),
  local groups = [
    g { rules: if g.name == 'nanobanana-settings' then settingsRules(g.rules) else g.rules }
    for g in generated.groups
  ],
  // A group with alerts goes to prometheusAlerts whole, with the records its alerts read in the same
  // evaluation (splitting them would let an alert see the previous minute's record); groups of
  // records only (the settings) go to prometheusRules. Group names stay those of rules.yml.
  local alerting(g) = std.length([r for r in g.rules if std.objectHas(r, 'alert')]) > 0,

  prometheusRules+:: { groups+: [g for g in groups if !alerting(g)] },
  prometheusAlerts+:: { groups+: [g for g in groups if alerting(g)] },
  // Several locations (deploy/multi-region): the rules of the GLOBAL Prometheus only, which federates
  // the regional ALERTS (docs/alerting.md, "Several locations"); the regions load the two above.
  prometheusGlobalAlerts+:: { groups+: generated.globalGroups },
  grafanaDashboards+:: generated.dashboards,
}
