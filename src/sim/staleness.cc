#include "sim/staleness.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/assert.h"
#include "core/text.h"

namespace rkv::sim {
namespace {

using Kind = DelayDist::Kind;

constexpr std::string_view kSyntaxHint =
    "expected const:C, uniform:A:B, exp:MEAN or pareto:XM:ALPHA, optionally +OFFSET, mixtures "
    "as W1*DIST1 + W2*DIST2";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Splits on '+', except the sign of a number's exponent ("1e+3").
std::vector<std::string_view> split_terms(std::string_view s) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '+') continue;
    const bool exponent_sign =
        i >= 2 && (s[i - 1] == 'e' || s[i - 1] == 'E') && (is_digit(s[i - 2]) || s[i - 2] == '.');
    if (exponent_sign) continue;
    out.push_back(trim(s.substr(begin, i - begin)));
    begin = i + 1;
  }
  out.push_back(trim(s.substr(begin)));
  return out;
}

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ':') {
      out.push_back(trim(s.substr(begin, i - begin)));
      begin = i + 1;
    }
  }
  return out;
}

// Collects the first error of a parse, prefixed with the whole spec.
class Errors {
 public:
  Errors(std::string_view spec, std::string* out) : spec_(spec), out_(out) {}
  bool fail(const std::string& what) {
    if (out_) *out_ = fmt::format("delay spec '{}': {}", spec_, what);
    return false;
  }

 private:
  std::string_view spec_;
  std::string* out_;
};

bool parse_number(std::string_view text, std::string_view what, double max, double* out,
                  Errors& e) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
    return e.fail(fmt::format("{} '{}' is not a finite number", what, text));
  if (v > max) return e.fail(fmt::format("{} {} exceeds the limit of {}", what, text, max));
  *out = v;
  return true;
}

struct Shape {
  std::string_view name;
  Kind kind;
  int params;
  std::string_view usage;
};
constexpr Shape kShapes[] = {
    {"const", Kind::kConst, 1, "const:C"},
    {"uniform", Kind::kUniform, 2, "uniform:A:B"},
    {"exp", Kind::kExp, 1, "exp:MEAN"},
    {"pareto", Kind::kPareto, 2, "pareto:XM:ALPHA"},
};

bool check_ranges(const DelayDist::Component& c, std::string_view dist, Errors& e) {
  switch (c.kind) {
    case Kind::kConst:
      if (c.p1 < 0) return e.fail(fmt::format("'{}': C must be >= 0", dist));
      return true;
    case Kind::kUniform:
      if (c.p1 < 0) return e.fail(fmt::format("'{}': A must be >= 0", dist));
      if (c.p1 > c.p2) return e.fail(fmt::format("'{}': A must be <= B", dist));
      return true;
    case Kind::kExp:
      if (c.p1 <= 0) return e.fail(fmt::format("'{}': MEAN must be > 0", dist));
      return true;
    case Kind::kPareto:
      if (c.p1 <= 0) return e.fail(fmt::format("'{}': XM must be > 0", dist));
      if (c.p2 <= 0) return e.fail(fmt::format("'{}': ALPHA must be > 0", dist));
      return true;
  }
  RKV_UNREACHABLE();
}

// "exp:2", "uniform:1:3", ... (no weight, no offset).
bool parse_dist(std::string_view dist, DelayDist::Component* c, Errors& e) {
  const std::vector<std::string_view> f = split_fields(dist);
  const Shape* shape = nullptr;
  for (const Shape& s : kShapes) {
    if (iequals(f[0], s.name)) shape = &s;
  }
  if (!shape)
    return e.fail(
        fmt::format("unknown distribution '{}' ({})", f[0].empty() ? dist : f[0], kSyntaxHint));
  const int got = static_cast<int>(f.size()) - 1;
  if (got != shape->params)
    return e.fail(fmt::format("'{}' takes {} parameter{} ({}), got {}", shape->name, shape->params,
                              shape->params == 1 ? "" : "s", shape->usage, got));
  c->kind = shape->kind;
  if (!parse_number(f[1], "parameter", kMaxDelayMs, &c->p1, e)) return false;
  if (shape->params == 2 && !parse_number(f[2], "parameter", kMaxDelayMs, &c->p2, e)) return false;
  return check_ranges(*c, dist, e);
}

// "[WEIGHT*]DIST"; sets *weighted when a weight was given.
bool parse_component(std::string_view term, DelayDist::Component* c, bool* weighted, Errors& e) {
  const size_t star = term.find('*');
  *weighted = star != std::string_view::npos;
  if (!*weighted) return parse_dist(term, c, e);
  const std::string_view weight = trim(term.substr(0, star));
  const std::string_view dist = trim(term.substr(star + 1));
  if (!parse_number(weight, "weight", kMaxDelayMs, &c->weight, e)) return false;
  if (c->weight <= 0) return e.fail(fmt::format("weight {} must be > 0", weight));
  if (dist.empty()) return e.fail(fmt::format("weight {} has no distribution after '*'", weight));
  return parse_dist(dist, c, e);
}

// A term that is a bare number ("0.5" in "exp:2+0.5") is an offset, not a component.
bool is_offset(std::string_view term) {
  return !term.empty() && (is_digit(term[0]) || term[0] == '.' || term[0] == '-') &&
         term.find_first_of(":*") == std::string_view::npos;
}

// The whole spec into *d, weights normalised.
bool parse_terms(std::string_view spec, DelayDist* d, Errors& e) {
  if (trim(spec).empty()) return e.fail(fmt::format("empty ({})", kSyntaxHint));
  d->components.clear();
  bool all_weighted = true;
  std::vector<bool> has_offset;
  for (const std::string_view term : split_terms(spec)) {
    if (term.empty()) return e.fail("empty term (a stray '+')");
    if (is_offset(term)) {
      if (d->components.empty())
        return e.fail(fmt::format("offset {} has no distribution before it", term));
      if (has_offset.back()) return e.fail(fmt::format("second offset {} for one term", term));
      double& offset = d->components.back().offset;
      if (!parse_number(term, "offset", kMaxDelayMs, &offset, e)) return false;
      if (offset < 0) return e.fail(fmt::format("offset {} must be >= 0", term));
      has_offset.back() = true;
      continue;
    }
    if (d->components.size() == kMaxDelayComponents)
      return e.fail(fmt::format("more than {} terms", kMaxDelayComponents));
    DelayDist::Component c;
    bool weighted = false;
    if (!parse_component(term, &c, &weighted, e)) return false;
    all_weighted = all_weighted && weighted;
    d->components.push_back(c);
    has_offset.push_back(false);
  }
  if (d->components.size() > 1 && !all_weighted)
    return e.fail("every term of a mixture needs a weight, as in 0.9*exp:1 + 0.1*const:5");
  double total = 0;
  for (const DelayDist::Component& c : d->components)
    total += c.weight;
  for (DelayDist::Component& c : d->components)
    c.weight /= total;
  return true;
}

DelayDist single(Kind kind, double p1, double p2, double offset) {
  DelayDist d;
  d.components[0] = DelayDist::Component{kind, p1, p2, offset, 1.0};
  return d;
}

double draw_component(const DelayDist::Component& c, Random& rng) {
  double x = 0;
  switch (c.kind) {
    case Kind::kConst:
      x = c.p1;
      break;
    case Kind::kUniform:
      x = c.p1 + (c.p2 - c.p1) * rng.unit();
      break;
    case Kind::kExp:
      x = -c.p1 * std::log1p(-rng.unit());  // unit() < 1, so the log is finite
      break;
    case Kind::kPareto:
      x = c.p1 * std::pow(1.0 - rng.unit(), -1.0 / c.p2);  // 1 - unit() in (0, 1]
      break;
  }
  return std::min(x + c.offset, kMaxDelayMs);
}

double component_mean(const DelayDist::Component& c) {
  double m = 0;
  switch (c.kind) {
    case Kind::kConst:
      m = c.p1;
      break;
    case Kind::kUniform:
      m = (c.p1 + c.p2) / 2;
      break;
    case Kind::kExp:
      m = c.p1;
      break;
    case Kind::kPareto:
      m = c.p2 > 1 ? c.p2 * c.p1 / (c.p2 - 1) : std::numeric_limits<double>::infinity();
      break;
  }
  return m + c.offset;
}

std::string describe_component(const DelayDist::Component& c) {
  std::string s;
  switch (c.kind) {
    case Kind::kConst:
      s = fmt::format("const:{}", c.p1);
      break;
    case Kind::kUniform:
      s = fmt::format("uniform:{}:{}", c.p1, c.p2);
      break;
    case Kind::kExp:
      s = fmt::format("exp:{}", c.p1);
      break;
    case Kind::kPareto:
      s = fmt::format("pareto:{}:{}", c.p1, c.p2);
      break;
  }
  if (c.offset != 0) s += fmt::format("+{}", c.offset);
  return s;
}

// The k-th smallest (1-based) of v; reorders v.
double kth_smallest(std::vector<double>& v, size_t k) {
  RKV_ASSERT(k >= 1 && k <= v.size());
  const auto it = v.begin() + static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(v.begin(), it, v.end());
  return *it;
}

// Nearest-rank percentile, q in (0, 1]; reorders v.
double percentile(std::vector<double>& v, double q) {
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return kth_smallest(v, std::clamp<size_t>(rank, 1, v.size()));
}

}  // namespace

DelayDist DelayDist::constant(double c) {
  RKV_ASSERT(c >= 0 && c <= kMaxDelayMs);
  return single(Kind::kConst, c, 0, 0);
}

DelayDist DelayDist::uniform(double a, double b) {
  RKV_ASSERT(a >= 0 && a <= b && b <= kMaxDelayMs);
  return single(Kind::kUniform, a, b, 0);
}

DelayDist DelayDist::exponential(double mean, double offset) {
  RKV_ASSERT(mean > 0 && mean <= kMaxDelayMs && offset >= 0 && offset <= kMaxDelayMs);
  return single(Kind::kExp, mean, 0, offset);
}

DelayDist DelayDist::pareto(double xm, double alpha) {
  RKV_ASSERT(xm > 0 && xm <= kMaxDelayMs && alpha > 0 && alpha <= kMaxDelayMs);
  return single(Kind::kPareto, xm, alpha, 0);
}

std::optional<DelayDist> DelayDist::parse(std::string_view spec, std::string* error) {
  Errors e(spec, error);
  DelayDist d;
  if (!parse_terms(spec, &d, e)) return std::nullopt;
  return d;
}

double DelayDist::draw(Random& rng) const {
  RKV_ASSERT(!components.empty());
  if (components.size() == 1) return draw_component(components[0], rng);
  double u = rng.unit();
  for (const Component& c : components) {
    if (u < c.weight) return draw_component(c, rng);
    u -= c.weight;
  }
  return draw_component(components.back(), rng);  // rounding left u just above the last weight
}

double DelayDist::mean() const {
  double m = 0;
  for (const Component& c : components)
    m += c.weight * component_mean(c);
  return m;
}

std::string DelayDist::describe() const {
  if (components.size() == 1) return describe_component(components[0]);
  std::string s;
  for (const Component& c : components) {
    if (!s.empty()) s += " + ";
    s += fmt::format("{}*{}", c.weight, describe_component(c));
  }
  return s;
}

bool validate_staleness(const StalenessOptions& o, std::string* error) {
  auto fail = [&](const std::string& what) {
    if (error) *error = what;
    return false;
  };
  if (o.n < 1 || o.n > kMaxStalenessReplicas)
    return fail(fmt::format("N = {} must be in 1..{}", o.n, kMaxStalenessReplicas));
  if (o.r < 1 || o.r > o.n) return fail(fmt::format("R = {} must be in 1..N ({})", o.r, o.n));
  if (o.w < 1 || o.w > o.n) return fail(fmt::format("W = {} must be in 1..N ({})", o.w, o.n));
  if (o.trials < 1 || o.trials > kMaxStalenessTrials)
    return fail(fmt::format("trials = {} must be in 1..{}", o.trials, kMaxStalenessTrials));
  if (o.t_ms.empty() || o.t_ms.size() > kMaxStalenessPoints)
    return fail(fmt::format("between 1 and {} values of t are needed", kMaxStalenessPoints));
  for (const double t : o.t_ms) {
    if (!(t >= 0 && t <= kMaxDelayMs))
      return fail(fmt::format("t = {} ms must be in 0..{}", t, kMaxDelayMs));
  }
  for (const DelayDist* d : {&o.write_req, &o.write_ack, &o.read_req, &o.read_resp}) {
    if (d->components.empty()) return fail("a delay distribution has no components");
  }
  return true;
}

StalenessResult measure_staleness(const StalenessOptions& o) {
  std::string error;
  RKV_ASSERT_MSG(validate_staleness(o, &error), error.c_str());
  const auto n = static_cast<size_t>(o.n);
  const auto r = static_cast<size_t>(o.r);
  const size_t points = o.t_ms.size();

  Random seeder(o.seed);
  Random rng_w(seeder.next()), rng_a(seeder.next()), rng_r(seeder.next()), rng_s(seeder.next());

  std::vector<double> w(n), a(n), rq(n), rs(n), acked(n), answer(n);
  std::vector<size_t> order(n);
  std::vector<uint64_t> consistent(points, 0);
  std::vector<double> write_latency, read_latency;
  write_latency.reserve(o.trials);
  read_latency.reserve(o.trials);

  for (uint64_t trial = 0; trial < o.trials; ++trial) {
    for (size_t i = 0; i < n; ++i) {
      w[i] = o.write_req.draw(rng_w);
      a[i] = o.write_ack.draw(rng_a);
      rq[i] = o.read_req.draw(rng_r);
      rs[i] = o.read_resp.draw(rng_s);
      acked[i] = w[i] + a[i];
      answer[i] = rq[i] + rs[i];  // arrival of i's answer, relative to the read's start
      order[i] = i;
    }
    const double ack = kth_smallest(acked, static_cast<size_t>(o.w));
    // The R first answers; which ones does not depend on t.
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(r), order.end(),
                      [&](size_t x, size_t y) {
                        return answer[x] < answer[y] || (answer[x] == answer[y] && x < y);
                      });
    write_latency.push_back(ack);
    read_latency.push_back(answer[order[r - 1]]);
    for (size_t k = 0; k < points; ++k) {
      const double read_start = ack + o.t_ms[k];
      for (size_t j = 0; j < r; ++j) {
        const size_t i = order[j];
        if (w[i] <= read_start + rq[i]) {  // i holds the write when the read reaches it
          ++consistent[k];
          break;
        }
      }
    }
  }

  StalenessResult res;
  res.t_ms = o.t_ms;
  res.trials = o.trials;
  const auto trials = static_cast<double>(o.trials);
  for (size_t k = 0; k < points; ++k) {
    // Strict quorum: every R answers include a replica of the write quorum, and each of those
    // received the write before acking it, so before the read reached it.
    if (o.r + o.w > o.n) RKV_ASSERT_MSG(consistent[k] == o.trials, "strict quorum read stale");
    const double p = static_cast<double>(consistent[k]) / trials;
    res.p_consistent.push_back(p);
    res.ci95_half_width.push_back(1.96 * std::sqrt(p * (1 - p) / trials));
  }
  res.write_latency_p50 = percentile(write_latency, 0.50);
  res.write_latency_p99 = percentile(write_latency, 0.99);
  res.read_latency_p50 = percentile(read_latency, 0.50);
  res.read_latency_p99 = percentile(read_latency, 0.99);
  return res;
}

std::string format_staleness(const StalenessOptions& o, const StalenessResult& r) {
  auto dist_line = [](std::string_view label, const DelayDist& d) {
    return fmt::format("  {:<28} {} (mean {:.4g} ms)\n", label, d.describe(), d.mean());
  };
  std::string s = fmt::format(
      "staleness of leaderless reads, WARS model (PBS, Bailis et al. VLDB 2012)\n"
      "N={} R={} W={}, {} trials, seed {}, read repair and anti-entropy off\n"
      "a read starts t ms after the write is acknowledged; delays in ms:\n",
      o.n, o.r, o.w, r.trials, o.seed);
  s += dist_line("W write request  coord->rep", o.write_req);
  s += dist_line("A write ack      rep->coord", o.write_ack);
  s += dist_line("R read request   coord->rep", o.read_req);
  s += dist_line("S read response  rep->coord", o.read_resp);
  s += fmt::format("write latency p50 {:.3f} ms, p99 {:.3f} ms; ", r.write_latency_p50,
                   r.write_latency_p99);
  s += fmt::format("read latency p50 {:.3f} ms, p99 {:.3f} ms\n", r.read_latency_p50,
                   r.read_latency_p99);
  s += fmt::format("{:>8}  {:>13}  {:>9}  {:>11}\n", "t ms", "P(consistent)", "±95% CI",
                   "stale reads");
  bool all_one = true, any_one = false;
  for (size_t k = 0; k < r.t_ms.size(); ++k) {
    const double p = r.p_consistent[k];
    const auto stale = std::llround((1 - p) * static_cast<double>(r.trials));
    s += fmt::format("{:>8g}  {:>13.6f}  ±{:>8.6f}  {:>11}\n", r.t_ms[k], p, r.ci95_half_width[k],
                     stale);
    all_one = all_one && p == 1.0;
    any_one = any_one || p == 1.0;
  }
  if (o.r + o.w > o.n) {
    s += fmt::format("R + W = {} > N = {}: strict quorum => P = 1.0 at every t; {}\n", o.r + o.w,
                     o.n, all_one ? "holds exactly here" : "VIOLATED here (a bug)");
    return s;
  }
  s += fmt::format("R + W = {} <= N = {}: partial quorum; R + W > N would give 1.0 at every t\n",
                   o.r + o.w, o.n);
  if (any_one) {
    s += fmt::format(
        "CI: normal approximation; where no read was stale, the 95% bound on "
        "P(stale) is 3/trials = {:.2g}\n",
        3.0 / static_cast<double>(r.trials));
  }
  return s;
}

}  // namespace rkv::sim
