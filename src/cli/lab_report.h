// What one `replikv lab` run measured, and its two renderings: summary.json and report.html.
// Pure functions of the record; times are microseconds since the run started.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/history.h"

namespace rkv::lab {

// One client operation as the report plots it (the history keeps the checked form).
struct Sample {
  int node = 0;  // the node the client talked to
  int64_t invoke_us = 0;
  int64_t end_us = 0;  // when the client stopped waiting (a reply, an error or its timeout)
  check::OpStatus status = check::OpStatus::kOk;
  bool final_read = false;
};

struct Fault {
  int64_t start_us = 0;
  int64_t end_us = 0;  // == start_us for instantaneous ones (a restart's stop)
  std::string kind;    // "kill", "pause", "restart", "partition"
  std::string description;
};

struct CheckOutcome {
  std::string what;     // keyspace, promise and checker
  std::string verdict;  // check::verdict_name
  std::string explanation;
  std::vector<std::string> notes;
};

struct Window {
  int node = 0;
  int64_t start_us = 0, end_us = 0;
};

struct Run {
  std::string repro;  // the command line that reruns it
  uint64_t seed = 0;
  std::string model, faults;
  int nodes = 0, clients = 0;
  int64_t fault_phase_end_us = 0, final_reads_us = 0, end_us = 0;
  std::vector<Sample> samples;
  std::vector<Fault> timeline;
  std::vector<CheckOutcome> checks;
  std::vector<std::string> anomalies;    // invariants a reply broke on the spot, lab errors
  std::vector<std::string> measured;     // documented weaknesses, as measured (not failures)
  std::vector<std::string> lost_listed;  // "key element": set elements LOSTWRITES listed
  bool passed = false;
};

// Per node, the spans of at least `min_us` in which clients tried operations on it and none
// succeeded (final reads excluded).
std::vector<Window> unavailability(const Run& run, int64_t min_us = 1'000'000);

std::string render_summary_json(const Run& run);
// A self-contained page (inline CSS and SVG, no script, nothing fetched). Element ids the tests
// look for: verdict, timeline, ops-per-node, latency, unavailability, anomalies, measured,
// checks.
std::string render_html(const Run& run);

}  // namespace rkv::lab
