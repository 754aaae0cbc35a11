#include "cli/lab_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace rkv::lab {

namespace {

constexpr int64_t kBucketUs = 500'000;  // ops-per-node bars
constexpr int kWidth = 960;             // plot width in px, axis labels excluded
constexpr int kLeft = 70;               // room for row labels

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

double x_of(const Run& run, int64_t us) {
  const double span = static_cast<double>(std::max<int64_t>(run.end_us, 1));
  return kLeft + static_cast<double>(kWidth) * static_cast<double>(us) / span;
}

// Grey bands behind a plot: where faults were in force.
std::string fault_bands(const Run& run, int height) {
  std::string out;
  for (const Fault& f : run.timeline) {
    const double x0 = x_of(run, f.start_us), x1 = std::max(x_of(run, f.end_us), x0 + 2);
    out += fmt::format(
        "<rect class=\"band\" x=\"{:.1f}\" y=\"0\" width=\"{:.1f}\" height=\"{}\"><title>{}: "
        "{}</title></rect>",
        x0, x1 - x0, height, escape(f.kind), escape(f.description));
  }
  return out;
}

std::string time_axis(const Run& run, int y) {
  std::string out;
  const int64_t step = run.end_us > 60'000'000 ? 10'000'000 : 5'000'000;
  for (int64_t t = 0; t <= run.end_us; t += step) {
    out += fmt::format("<text class=\"axis\" x=\"{:.1f}\" y=\"{}\">{}s</text>", x_of(run, t), y,
                       t / 1'000'000);
  }
  out += fmt::format(
      "<line class=\"phase\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"0\" y2=\"{1}\"><title>faults "
      "healed</title></line>",
      x_of(run, run.fault_phase_end_us), y - 12);
  return out;
}

std::string timeline_svg(const Run& run) {
  std::vector<std::string> kinds;
  for (const Fault& f : run.timeline)
    if (std::find(kinds.begin(), kinds.end(), f.kind) == kinds.end()) kinds.push_back(f.kind);
  const int row = 22;
  const int height = static_cast<int>(kinds.size()) * row + 30;
  std::string out = fmt::format("<svg width=\"{}\" height=\"{}\">", kLeft + kWidth + 10, height);
  for (size_t k = 0; k < kinds.size(); ++k) {
    const int y = static_cast<int>(k) * row + 4;
    out +=
        fmt::format("<text class=\"label\" x=\"4\" y=\"{}\">{}</text>", y + 14, escape(kinds[k]));
    for (const Fault& f : run.timeline) {
      if (f.kind != kinds[k]) continue;
      const double x0 = x_of(run, f.start_us), x1 = std::max(x_of(run, f.end_us), x0 + 3);
      out += fmt::format(
          "<rect class=\"fault {}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\">"
          "<title>{:.1f}s-{:.1f}s {}</title></rect>",
          escape(f.kind), x0, y, x1 - x0, row - 6, static_cast<double>(f.start_us) / 1e6,
          static_cast<double>(f.end_us) / 1e6, escape(f.description));
    }
  }
  out += time_axis(run, height - 4) + "</svg>";
  return out;
}

std::string ops_svg(const Run& run) {
  const int row = 70;
  const int64_t buckets = run.end_us / kBucketUs + 1;
  // counts[node][bucket] = {ok, fail, info}
  std::vector<std::vector<std::array<int, 3>>> counts(
      static_cast<size_t>(run.nodes), std::vector<std::array<int, 3>>(buckets, {0, 0, 0}));
  int peak = 1;
  for (const Sample& s : run.samples) {
    if (s.node < 0 || s.node >= run.nodes) continue;
    auto& c = counts[static_cast<size_t>(s.node)][static_cast<size_t>(s.invoke_us / kBucketUs)];
    ++c[static_cast<size_t>(s.status)];
    peak = std::max(peak, c[0] + c[1] + c[2]);
  }
  const int height = run.nodes * row + 24;
  std::string out = fmt::format("<svg width=\"{}\" height=\"{}\">", kLeft + kWidth + 10, height);
  out += fault_bands(run, height - 20);
  const double bw = static_cast<double>(kWidth) / static_cast<double>(buckets);
  static const char* kClass[] = {"ok", "fail", "info"};
  for (int n = 0; n < run.nodes; ++n) {
    const int base = (n + 1) * row;
    out += fmt::format("<text class=\"label\" x=\"4\" y=\"{}\">n{}</text>", base - row / 2, n + 1);
    for (int64_t b = 0; b < buckets; ++b) {
      const auto& c = counts[static_cast<size_t>(n)][static_cast<size_t>(b)];
      double y = base;
      for (int k = 0; k < 3; ++k) {
        if (c[static_cast<size_t>(k)] == 0) continue;
        const double h = (row - 8) * static_cast<double>(c[static_cast<size_t>(k)]) / peak;
        y -= h;
        out += fmt::format(
            "<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\">"
            "<title>n{} {:.1f}s: {} {}</title></rect>",
            kClass[k], kLeft + bw * static_cast<double>(b), y, std::max(bw - 1, 1.0), h, n + 1,
            static_cast<double>(b * kBucketUs) / 1e6, c[static_cast<size_t>(k)], kClass[k]);
      }
    }
  }
  out += time_axis(run, height - 4) + "</svg>";
  return out;
}

std::string latency_svg(const Run& run) {
  const int height = 220;
  int64_t peak = 1000;
  for (const Sample& s : run.samples)
    peak = std::max(peak, s.end_us - s.invoke_us);
  std::string out = fmt::format("<svg width=\"{}\" height=\"{}\">", kLeft + kWidth + 10, height);
  out += fault_bands(run, height - 20);
  const double plot = height - 30;
  // A square-root scale keeps the common sub-millisecond replies apart from timeouts.
  auto y_of = [&](int64_t us) {
    return 6 + plot - plot * std::sqrt(static_cast<double>(us) / static_cast<double>(peak));
  };
  for (int64_t ms : {1, 10, 100, 1000, 3000}) {
    if (ms * 1000 > peak) break;
    out +=
        fmt::format("<text class=\"axis\" x=\"4\" y=\"{:.1f}\">{} ms</text>", y_of(ms * 1000), ms);
  }
  static const char* kClass[] = {"ok", "fail", "info"};
  for (const Sample& s : run.samples) {
    out += fmt::format("<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"1.6\"/>",
                       kClass[static_cast<size_t>(s.status)], x_of(run, s.invoke_us),
                       y_of(s.end_us - s.invoke_us));
  }
  out += time_axis(run, height - 4) + "</svg>";
  return out;
}

const char* kStyle = R"(
body{font-family:sans-serif;margin:20px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
.pass{color:#fff;background:#2a7d2a;padding:3px 10px;border-radius:4px}
.fail-verdict{color:#fff;background:#b22;padding:3px 10px;border-radius:4px}
code{background:#f2f2f2;padding:2px 4px}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
pre{margin:0;white-space:pre-wrap;font-size:12px}
svg text{font-size:11px} .label{font-weight:bold}
rect.ok,circle.ok{fill:#3a3} rect.fail,circle.fail{fill:#e90} rect.info,circle.info{fill:#c22}
rect.band{fill:#eee} line.phase{stroke:#36c;stroke-dasharray:4 3}
rect.fault{fill:#69c} rect.kill{fill:#c44} rect.pause{fill:#c8a000} rect.partition{fill:#58c}
rect.restart{fill:#8a5} rect.clock{fill:#a6c} rect.disk{fill:#964}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
)";

}  // namespace

std::vector<Window> unavailability(const Run& run, int64_t min_us) {
  std::vector<Window> out;
  for (int n = 0; n < run.nodes; ++n) {
    std::vector<const Sample*> ops;
    for (const Sample& s : run.samples)
      if (s.node == n && !s.final_read) ops.push_back(&s);
    std::sort(ops.begin(), ops.end(),
              [](const Sample* a, const Sample* b) { return a->invoke_us < b->invoke_us; });
    // A window opens at the first op of a run of non-ok ops and closes at the next ok op.
    int64_t open = -1;
    for (const Sample* s : ops) {
      if (s->status != check::OpStatus::kOk) {
        if (open < 0) open = s->invoke_us;
      } else if (open >= 0) {
        if (s->end_us - open >= min_us) out.push_back({n, open, s->end_us});
        open = -1;
      }
    }
    if (open >= 0 && run.fault_phase_end_us - open >= min_us)
      out.push_back({n, open, run.fault_phase_end_us});
  }
  return out;
}

std::string render_summary_json(const Run& run) {
  nlohmann::json j;
  j["repro"] = run.repro;
  j["seed"] = run.seed;
  j["model"] = run.model;
  j["faults"] = run.faults;
  j["nodes"] = run.nodes;
  j["clients"] = run.clients;
  j["passed"] = run.passed;
  j["fault_phase_end_s"] = static_cast<double>(run.fault_phase_end_us) / 1e6;
  j["duration_s"] = static_cast<double>(run.end_us) / 1e6;
  std::map<std::string, int64_t> counts;
  for (const Sample& s : run.samples)
    ++counts[check::op_status_name(s.status)];
  j["ops"] = counts;
  j["timeline"] = nlohmann::json::array();
  for (const Fault& f : run.timeline) {
    j["timeline"].push_back({{"kind", f.kind},
                             {"start_s", static_cast<double>(f.start_us) / 1e6},
                             {"end_s", static_cast<double>(f.end_us) / 1e6},
                             {"description", f.description}});
  }
  j["checks"] = nlohmann::json::array();
  for (const CheckOutcome& c : run.checks) {
    j["checks"].push_back({{"check", c.what},
                           {"verdict", c.verdict},
                           {"explanation", c.explanation},
                           {"notes", c.notes}});
  }
  j["unavailability"] = nlohmann::json::array();
  for (const Window& w : unavailability(run)) {
    j["unavailability"].push_back({{"node", fmt::format("n{}", w.node + 1)},
                                   {"start_s", static_cast<double>(w.start_us) / 1e6},
                                   {"end_s", static_cast<double>(w.end_us) / 1e6}});
  }
  j["anomalies"] = run.anomalies;
  j["measured"] = run.measured;
  j["lost_listed"] = run.lost_listed;
  return j.dump(2) + "\n";
}

std::string render_html(const Run& run) {
  std::string h = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>replikv lab: seed " +
                  std::to_string(run.seed) + "</title><style>" + kStyle + "</style></head><body>";
  h += fmt::format(
      "<h1>replikv lab &mdash; {} model, {} nodes, seed {} <span id=\"verdict\" class=\"{}\">{}"
      "</span></h1>",
      escape(run.model), run.nodes, run.seed, run.passed ? "pass" : "fail-verdict",
      run.passed ? "PASS" : "FAIL");
  h += fmt::format("<p>Repro: <code id=\"repro\">{}</code></p>", escape(run.repro));
  std::map<std::string, int64_t> counts;
  for (const Sample& s : run.samples)
    ++counts[check::op_status_name(s.status)];
  h += fmt::format(
      "<p>{} operations from {} clients ({} ok, {} fail, {} unknown), {} faults "
      "({}); faults healed at {:.1f}s, run ended at {:.1f}s.</p>",
      run.samples.size(), run.clients, counts["ok"], counts["fail"], counts["info"],
      run.timeline.size(), escape(run.faults), static_cast<double>(run.fault_phase_end_us) / 1e6,
      static_cast<double>(run.end_us) / 1e6);

  h += "<h2>Checks</h2><table id=\"checks\"><tr><th>check</th><th>verdict</th><th>details</th>"
       "</tr>";
  for (const CheckOutcome& c : run.checks) {
    std::string details = c.verdict == "valid" ? "" : c.explanation;
    for (const auto& n : c.notes)
      details += (details.empty() ? "" : "\n") + ("note: " + n);
    h += fmt::format(
        "<tr class=\"check\"><td>{}</td><td class=\"v-{}\">{}</td><td><pre>{}</pre>"
        "</td></tr>",
        escape(c.what), escape(c.verdict), escape(c.verdict), escape(details));
  }
  h += "</table>";

  h += "<h2>Anomalies</h2><div id=\"anomalies\">";
  if (run.anomalies.empty()) h += "<p>none</p>";
  for (const auto& a : run.anomalies)
    h += "<pre class=\"anomaly\">" + escape(a) + "</pre>";
  h += "</div>";

  h += "<h2>Documented weaknesses, measured</h2><div id=\"measured\">";
  if (run.measured.empty()) h += "<p>none observed</p>";
  for (const auto& m : run.measured)
    h += "<p class=\"measured\">" + escape(m) + "</p>";
  h += "</div>";

  h += "<h2>Fault timeline</h2><div id=\"timeline\">" + timeline_svg(run) + "</div>";
  h += "<h2>Operations per node over time</h2><p class=\"legend\"><span style=\"background:#3a3\">"
       "</span>ok<span style=\"background:#e90\"></span>fail<span style=\"background:#c22\">"
       "</span>unknown (timeout, connection lost) &mdash; grey bands: faults in force; "
       "dashed line: healed</p><div id=\"ops-per-node\">" +
       ops_svg(run) + "</div>";
  h += "<h2>Latency over time</h2><div id=\"latency\">" + latency_svg(run) + "</div>";

  h += "<h2>Unavailability windows</h2><table id=\"unavailability\"><tr><th>node</th>"
       "<th>from</th><th>to</th><th>length</th></tr>";
  for (const Window& w : unavailability(run)) {
    h += fmt::format("<tr><td>n{}</td><td>{:.1f}s</td><td>{:.1f}s</td><td>{:.1f}s</td></tr>",
                     w.node + 1, static_cast<double>(w.start_us) / 1e6,
                     static_cast<double>(w.end_us) / 1e6,
                     static_cast<double>(w.end_us - w.start_us) / 1e6);
  }
  h += "</table>";

  h += "<h2>Faults</h2><table id=\"faults\"><tr><th>start</th><th>end</th><th>kind</th><th>what"
       "</th></tr>";
  for (const Fault& f : run.timeline) {
    h += fmt::format("<tr><td>{:.1f}s</td><td>{:.1f}s</td><td>{}</td><td>{}</td></tr>",
                     static_cast<double>(f.start_us) / 1e6, static_cast<double>(f.end_us) / 1e6,
                     escape(f.kind), escape(f.description));
  }
  h += "</table></body></html>\n";
  return h;
}

}  // namespace rkv::lab
